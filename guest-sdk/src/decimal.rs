//! The `Decimal<P, S>` argument and output type: an exact decimal of `P`
//! digits, `S` of them after the point, as money is stored in warehouses
//! and Spark tables (`DECIMAL(18,2)`).

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Neg, Sub};
use std::str::FromStr;

/// An exact decimal: an integer count of units of 10^-`S`, of at most `P`
/// digits (1 to 38): the type of a `decimal(P,S)` column.
///
/// Addition and subtraction are exact, and panic (rejecting the row) when
/// the result has more than `P` digits; `checked_add` and `checked_sub`
/// say so instead. Converting to `f64` rounds once, correctly.
///
/// ```
/// use skewless_guest::Decimal;
///
/// type Money = Decimal<18, 2>;
/// let price: Money = "19.99".parse().unwrap();
/// let tip = Money::from_units(301);
/// assert_eq!((price + tip).to_string(), "23.00");
/// assert_eq!(price.mul_int(3).unwrap().to_string(), "59.97");
/// assert_eq!(price.to_f64(), 19.99);
/// assert!("19.999".parse::<Money>().is_err()); // would round
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct Decimal<const P: u8, const S: u8> {
    units: i128,
}

/// Why text is not a `Decimal<P, S>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecimalError(String);

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecimalError {}

const fn pow10(exponent: u8) -> i128 {
    let mut value = 1_i128;
    let mut i = 0;
    while i < exponent {
        value *= 10;
        i += 1;
    }
    value
}

impl<const P: u8, const S: u8> Decimal<P, S> {
    /// Zero.
    pub const ZERO: Self = Decimal { units: 0 };
    /// One more than the largest count of units (10^P).
    const LIMIT: i128 = {
        assert!(P >= 1 && P <= 38, "a decimal has 1 to 38 digits");
        assert!(S <= P, "a decimal's scale is at most its precision");
        pow10(P)
    };

    /// The decimal `units` x 10^-S, or `None` beyond `P` digits.
    pub const fn try_from_units(units: i128) -> Option<Self> {
        if units.unsigned_abs() < Self::LIMIT as u128 {
            Some(Decimal { units })
        } else {
            None
        }
    }

    /// The decimal `units` x 10^-S.
    ///
    /// # Panics
    ///
    /// Beyond `P` digits.
    pub const fn from_units(units: i128) -> Self {
        match Self::try_from_units(units) {
            Some(value) => value,
            None => panic!("a decimal with more digits than its precision"),
        }
    }

    /// The count of units of 10^-S.
    pub const fn units(self) -> i128 {
        self.units
    }

    /// `self + other`, or `None` beyond `P` digits.
    pub const fn checked_add(self, other: Self) -> Option<Self> {
        Self::try_from_units(self.units + other.units)
    }

    /// `self - other`, or `None` beyond `P` digits.
    pub const fn checked_sub(self, other: Self) -> Option<Self> {
        Self::try_from_units(self.units - other.units)
    }

    /// `self x factor`, or `None` beyond `P` digits.
    pub const fn mul_int(self, factor: i64) -> Option<Self> {
        match self.units.checked_mul(factor as i128) {
            Some(units) => Self::try_from_units(units),
            None => None,
        }
    }

    /// The same value with `S2` digits after the point and at most `P2`
    /// digits, when that is exact (no digit dropped, none too many).
    pub fn rescale<const P2: u8, const S2: u8>(self) -> Option<Decimal<P2, S2>> {
        let units = if S2 >= S {
            self.units.checked_mul(pow10(S2 - S))?
        } else {
            let factor = pow10(S - S2);
            if self.units % factor != 0 {
                return None;
            }
            self.units / factor
        };
        Decimal::<P2, S2>::try_from_units(units)
    }

    /// The nearest `f64` (ties to even): one rounding, from the exact value.
    pub fn to_f64(self) -> f64 {
        // The text is exact and Rust's parser rounds correctly from it.
        self.to_string()
            .parse()
            .expect("a decimal's text is a number")
    }

    /// Whether the value is below zero.
    pub const fn is_negative(self) -> bool {
        self.units < 0
    }
}

impl<const P: u8, const S: u8> Add for Decimal<P, S> {
    type Output = Self;

    /// # Panics
    ///
    /// When the sum has more than `P` digits.
    fn add(self, other: Self) -> Self {
        self.checked_add(other)
            .expect("a decimal sum with more digits than its precision")
    }
}

impl<const P: u8, const S: u8> Sub for Decimal<P, S> {
    type Output = Self;

    /// # Panics
    ///
    /// When the difference has more than `P` digits.
    fn sub(self, other: Self) -> Self {
        self.checked_sub(other)
            .expect("a decimal difference with more digits than its precision")
    }
}

impl<const P: u8, const S: u8> Neg for Decimal<P, S> {
    type Output = Self;

    fn neg(self) -> Self {
        Decimal { units: -self.units }
    }
}

impl<const P: u8, const S: u8> PartialOrd for Decimal<P, S> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<const P: u8, const S: u8> Ord for Decimal<P, S> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.units.cmp(&other.units)
    }
}

impl<const P: u8, const S: u8> fmt::Display for Decimal<P, S> {
    /// The exact value with `S` digits after the point: `12.30`, `-0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.units.unsigned_abs().to_string();
        let sign = if self.units < 0 { "-" } else { "" };
        let scale = usize::from(S);
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        if digits.len() > scale {
            let (whole, fraction) = digits.split_at(digits.len() - scale);
            write!(f, "{sign}{whole}.{fraction}")
        } else {
            write!(f, "{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

impl<const P: u8, const S: u8> fmt::Debug for Decimal<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal<{P}, {S}>({self})")
    }
}

impl<const P: u8, const S: u8> FromStr for Decimal<P, S> {
    type Err = DecimalError;

    /// `12.3`, `-0.05`, `+7`: exact, with at most `S` digits after the
    /// point (trailing zeros aside) and `P` digits in all.
    fn from_str(text: &str) -> Result<Self, DecimalError> {
        let fail = |why: &str| DecimalError(format!("{text:?} is not a decimal({P},{S}): {why}"));
        let trimmed = text.trim();
        let (negative, unsigned) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        if (whole.is_empty() && fraction.is_empty())
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return Err(fail("not a number"));
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > usize::from(S) {
            return Err(fail("it has more digits after the point than the scale"));
        }
        let padded = format!(
            "{whole}{fraction}{}",
            "0".repeat(usize::from(S) - fraction.len())
        );
        let digits = padded.trim_start_matches('0');
        if digits.len() > usize::from(P) {
            return Err(fail("it has more digits than the precision"));
        }
        let units: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| fail("not a number"))?
        };
        Self::try_from_units(if negative { -units } else { units })
            .ok_or_else(|| fail("it has more digits than the precision"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Money = Decimal<18, 2>;

    #[test]
    fn text_round_trips_and_refuses_what_would_round() {
        for text in ["0.00", "12.30", "-0.05", "9999999999999999.99"] {
            assert_eq!(text.parse::<Money>().unwrap().to_string(), text);
        }
        assert_eq!("12.3".parse::<Money>().unwrap().units(), 1230);
        assert_eq!("12.300".parse::<Money>().unwrap().units(), 1230);
        assert!("12.345".parse::<Money>().is_err());
        assert!("10000000000000000.00".parse::<Money>().is_err());
        assert!("12,5".parse::<Money>().is_err());
    }

    #[test]
    fn arithmetic_is_exact() {
        let a: Money = "0.10".parse().unwrap();
        let b: Money = "0.20".parse().unwrap();
        assert_eq!((a + b).to_string(), "0.30");
        assert_eq!((a + b).to_f64(), 0.3);
        assert!(
            Money::from_units(i128::from(i64::MAX) / 1000)
                .checked_add(Money::ZERO)
                .is_some()
        );
        let big = Decimal::<2, 0>::from_units(99);
        assert_eq!(big.checked_add(Decimal::from_units(1)), None);
        assert_eq!(a.rescale::<10, 4>().unwrap().to_string(), "0.1000");
        assert_eq!(
            "0.5".parse::<Decimal<4, 1>>().unwrap().rescale::<4, 0>(),
            None
        );
        assert!(-a < b);
    }
}
