//! Exact, order-independent float64 sum: the state of `sum(v)` and `mean(v)` over float windows.
//!
//! The contract (aggregations spec, "Float sums are exact"): the result is the exact real sum of
//! the finite values, rounded once to the nearest float64 (ties to even); any NaN, or both +inf
//! and -inf, gives the canonical NaN; otherwise an infinity present gives that infinity; a finite
//! sum beyond the float64 range overflows to +-inf; an exact zero is +0.0.
//!
//! # State
//!
//! Every finite float64 is an integer multiple of 2^-1074 (the smallest subnormal) and below
//! 2^1024 in magnitude, so in units of 2^-1074 it is an integer of at most 2098 bits. The sum of
//! the finite values is kept as exactly that integer, in 67 signed 64-bit chunks of nominally 32
//! bits each (chunk `i` weighs 2^(32 i) units), plus signed counts of NaNs, +inf and -inf.
//!
//! An add splits the value's 53-bit significand, shifted to its bit position, into three 32-bit
//! pieces and adds (or subtracts) them to three consecutive chunks, without propagating carries
//! (the idea of Radford Neal's "xsum" superaccumulator): a few shifts and masks and three integer
//! additions, and no allocation. The carries pile up in the spare high bits of the chunks; every
//! 2^20 adds, and on a copy before any comparison, hash or rounding, they are propagated, which
//! brings chunks 0..=65 into [0, 2^32) and leaves the sign and everything above 2^2112 units in
//! chunk 66.
//!
//! # Why it is exact
//!
//! It is integer arithmetic that never overflows: after a propagation a chunk below the top is in
//! [0, 2^32), and each add moves it by less than 2^32, so 2^20 adds keep it below 2^53 in
//! magnitude, far from 2^63. Adds only reach chunks 0..=65 (the highest significand bit of a
//! float64 is bit 2097); chunk 66 receives only propagated carries and holds floor(sum / 2^2112),
//! which stays below 2^63 for sums of fewer than 2^77 values (2^40 was asked for). Since the
//! state is an integer (and three counts), the order of adds, removes and merges cannot matter:
//! removing a finite `x` adds exactly `-x`, and removing an infinity or NaN decrements its count.
//! The propagated form is the unique base-2^32 representation of the integer with a signed top
//! digit, so `==` and `Hash`, which compare propagated copies, depend only on the multiset.
//!
//! # Size
//!
//! 568 bytes, all inline (67 * 8 for the chunks, 3 * 8 for the counts, 8 for the count of adds
//! since the last propagation, with padding); nothing on the heap.

use std::hash::{Hash, Hasher};

/// Bits per chunk below the top chunk, once carries are propagated.
const CHUNK_BITS: usize = 32;
/// Chunks 0..=65 hold bits 0..=2111 of the integer (units of 2^-1074); chunk 66 holds the sign
/// and the rest: the headroom that lets sums of up to 2^77 maximal values stay exact.
const CHUNKS: usize = 67;
const CHUNK_MASK: i64 = (1 << CHUNK_BITS) - 1;
/// Adds between carry propagations: each add moves a chunk by less than 2^32, so chunks stay
/// below 2^32 * (2^20 + 1) in magnitude, comfortably inside an i64; propagating costs 66 steps,
/// nothing once spread over 2^20 adds.
const PROPAGATE_EVERY: u32 = 1 << 20;

const FRACTION_BITS: u32 = 52;
const FRACTION_MASK: u64 = (1 << FRACTION_BITS) - 1;
/// Bits 0x7ff0000000000000: positive infinity, also the first bit pattern past `f64::MAX`.
const INFINITY_BITS: u64 = 0x7ff << FRACTION_BITS;
const CANONICAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0000;

/// An exact sum of float64 values: the state is a function of the multiset of values added (and
/// removed), never of their order.
#[derive(Clone, Debug)]
pub struct ExactSum {
    /// The sum of the finite values, in units of 2^-1074, with carries not yet propagated.
    chunks: [i64; CHUNKS],
    /// Counts are signed so that a remove exactly undoes an add in any order.
    nans: i64,
    positive_infinities: i64,
    negative_infinities: i64,
    /// Adds since carries were last propagated (not part of the value: ignored by `==`/`Hash`).
    pending: u32,
}

impl ExactSum {
    pub const fn new() -> Self {
        ExactSum {
            chunks: [0; CHUNKS],
            nans: 0,
            positive_infinities: 0,
            negative_infinities: 0,
            pending: 0,
        }
    }

    pub fn add(&mut self, x: f64) {
        if x.is_finite() {
            self.add_finite(x, false);
        } else {
            self.count_special(x, 1);
        }
    }

    /// Removes a value added before (exactly undoes `add(x)`: add then remove leaves the state
    /// equal (==) to before).
    pub fn remove(&mut self, x: f64) {
        if x.is_finite() {
            self.add_finite(x, true);
        } else {
            self.count_special(x, -1);
        }
    }

    /// Adds every value of `other` (partial sums combine exactly; the
    /// engine does not need it yet, its tests do).
    #[cfg(test)]
    pub fn merge(&mut self, other: &ExactSum) {
        // Both sides propagated: chunks below the top are then under 2^33 after the addition,
        // and propagating again restores the invariant at once.
        self.propagate();
        for (mine, theirs) in self.chunks.iter_mut().zip(other.propagated()) {
            *mine += theirs;
        }
        self.propagate();
        self.nans += other.nans;
        self.positive_infinities += other.positive_infinities;
        self.negative_infinities += other.negative_infinities;
    }

    /// The exact sum rounded once to the nearest f64 (ties to even), with the spec's rules for
    /// NaN, infinities, overflow and zero (+0.0).
    pub fn value(&self) -> f64 {
        // Counts below zero only arise from removing what was never added; they count as absent.
        if self.nans > 0 || (self.positive_infinities > 0 && self.negative_infinities > 0) {
            return f64::from_bits(CANONICAL_NAN_BITS);
        }
        if self.positive_infinities > 0 {
            return f64::INFINITY;
        }
        if self.negative_infinities > 0 {
            return f64::NEG_INFINITY;
        }
        let mut chunks = self.propagated();
        // The top chunk carries the sign; round the magnitude, so ties go to even either way.
        let negative = chunks[CHUNKS - 1] < 0;
        if negative {
            for chunk in &mut chunks {
                *chunk = -*chunk;
            }
            propagate_carries(&mut chunks);
        }
        let magnitude = f64::from_bits(round_magnitude(&chunks));
        if negative { -magnitude } else { magnitude }
    }

    /// Whether it holds no special value and its finite values cancel exactly (true when empty).
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.nans == 0
            && self.positive_infinities == 0
            && self.negative_infinities == 0
            && self.propagated().iter().all(|&chunk| chunk == 0)
    }

    fn add_finite(&mut self, x: f64, subtract: bool) {
        let bits = x.to_bits();
        let biased_exponent = usize::from((bits >> FRACTION_BITS) as u16 & 0x7ff);
        let fraction = bits & FRACTION_MASK;
        // |x| = significand * 2^(position - 1074): subnormals (biased exponent 0) have no hidden
        // bit and the same scale as the smallest normals (biased exponent 1).
        let (significand, position) = if biased_exponent == 0 {
            (fraction, 0)
        } else {
            (fraction | 1 << FRACTION_BITS, biased_exponent - 1)
        };
        // Zeros of either sign add nothing, as the spec's "+0.0 for an exact zero" wants.
        if significand == 0 {
            return;
        }
        // Up to 31 + 53 = 84 bits: three pieces; position <= 2045, so index + 2 <= 65.
        let index = position / CHUNK_BITS;
        let wide = u128::from(significand) << (position % CHUNK_BITS);
        // The truncating casts are the point: each piece is the next 32 bits.
        let pieces = [wide as u32, (wide >> 32) as u32, (wide >> 64) as u32];
        let negative = x.is_sign_negative() != subtract;
        for (chunk, piece) in self.chunks[index..index + 3].iter_mut().zip(pieces) {
            if negative {
                *chunk -= i64::from(piece);
            } else {
                *chunk += i64::from(piece);
            }
        }
        self.pending += 1;
        if self.pending == PROPAGATE_EVERY {
            self.propagate();
        }
    }

    fn count_special(&mut self, x: f64, delta: i64) {
        if x.is_nan() {
            self.nans += delta;
        } else if x > 0.0 {
            self.positive_infinities += delta;
        } else {
            self.negative_infinities += delta;
        }
    }

    fn propagate(&mut self) {
        propagate_carries(&mut self.chunks);
        self.pending = 0;
    }

    /// The chunks in canonical form: a function of the integer they hold only.
    fn propagated(&self) -> [i64; CHUNKS] {
        let mut chunks = self.chunks;
        propagate_carries(&mut chunks);
        chunks
    }
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum::new()
    }
}

/// Equal when the exact sums and the special-value counts are equal, however the carries lie.
impl PartialEq for ExactSum {
    fn eq(&self, other: &Self) -> bool {
        self.nans == other.nans
            && self.positive_infinities == other.positive_infinities
            && self.negative_infinities == other.negative_infinities
            && self.propagated() == other.propagated()
    }
}

impl Eq for ExactSum {}

impl Hash for ExactSum {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.propagated().hash(state);
        self.nans.hash(state);
        self.positive_infinities.hash(state);
        self.negative_infinities.hash(state);
    }
}

/// Moves the carries up so that every chunk below the top is in [0, 2^32): the arithmetic shift
/// is a floor division, so the top chunk ends up with the sign of the whole integer.
fn propagate_carries(chunks: &mut [i64; CHUNKS]) {
    let mut carry = 0;
    for chunk in &mut chunks[..CHUNKS - 1] {
        *chunk += carry;
        carry = *chunk >> CHUNK_BITS;
        *chunk &= CHUNK_MASK;
    }
    chunks[CHUNKS - 1] += carry;
}

/// The bits of the float64 nearest (ties to even) to a non-negative integer in units of 2^-1074,
/// given propagated chunks; infinity's bits when it is at least 2^1024 - 2^970.
fn round_magnitude(chunks: &[i64; CHUNKS]) -> u64 {
    // The top chunk weighs 2^2112 units = 2^1038: anything in it overflows.
    if chunks[CHUNKS - 1] != 0 {
        return INFINITY_BITS;
    }
    let Some(top) = chunks.iter().rposition(|&chunk| chunk != 0) else {
        return 0;
    };
    // The chunk is in (0, 2^32), so it has at least 32 leading zeros as an i64.
    let highest_bit = top * CHUNK_BITS + (63 - chunks[top].leading_zeros() as usize);
    // Below 2^53 units the integer is a float64 as it stands: a subnormal, or a normal of the
    // lowest binade, whose bits are the integer itself (the exponent field 1 is the hidden bit).
    if highest_bit < 53 {
        return bits_from(chunks, 0);
    }
    // Otherwise keep the 53 bits from `shift` up, and round on the bits below.
    let shift = highest_bit - 52;
    let significand = bits_from(chunks, shift);
    let half = bits_from(chunks, shift - 1) & 1 == 1;
    let round_up = half && (any_bit_below(chunks, shift - 1) || significand & 1 == 1);
    // With the significand in [2^52, 2^53), the value is significand * 2^(shift - 1074), whose
    // bits are (shift << 52) + significand: the hidden bit adds 1 to the biased exponent
    // `shift`. Rounding up to 2^53 carries into the exponent, as it should, and past f64::MAX it
    // reaches infinity's bits; larger exponents give larger bits, so `min` caps them. No
    // wrapping: shift <= 66 * 32 - 53, so shift << 52 < 2^64.
    let bits = ((shift as u64) << FRACTION_BITS) + significand + u64::from(round_up);
    bits.min(INFINITY_BITS)
}

/// The 64 bits of the integer from bit `low` up (a 96-bit window shifted by under 32 bits).
fn bits_from(chunks: &[i64; CHUNKS], low: usize) -> u64 {
    let index = low / CHUNK_BITS;
    let window = (0..3).rev().fold(0u128, |window, k| {
        // Chunks below the top are non-negative after propagation.
        let chunk = chunks.get(index + k).map_or(0, |&chunk| chunk as u128);
        window << CHUNK_BITS | chunk
    });
    (window >> (low % CHUNK_BITS)) as u64
}

/// Whether any bit below bit `end` of the integer is set (the "sticky" bit of rounding).
fn any_bit_below(chunks: &[i64; CHUNKS], end: usize) -> bool {
    let index = end / CHUNK_BITS;
    let partial = chunks[index] & ((1 << (end % CHUNK_BITS)) - 1);
    partial != 0 || chunks[..index].iter().any(|&chunk| chunk != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;
    use std::hash::DefaultHasher;

    const NAN_BITS: u64 = 0x7ff8_0000_0000_0000;

    fn sum_of(values: &[f64]) -> ExactSum {
        let mut sum = ExactSum::new();
        for &x in values {
            sum.add(x);
        }
        sum
    }

    fn bits(values: &[f64]) -> u64 {
        sum_of(values).value().to_bits()
    }

    fn hash_of(sum: &ExactSum) -> u64 {
        let mut hasher = DefaultHasher::new();
        sum.hash(&mut hasher);
        hasher.finish()
    }

    /// 2^k, for k in -1074..=1023, by exact doubling or halving (not from bit fields).
    fn pow2(k: i32) -> f64 {
        let mut x = 1.0;
        for _ in 0..k.unsigned_abs() {
            x *= if k > 0 { 2.0 } else { 0.5 };
        }
        x
    }

    // ---- an independent exact reference: sign and magnitude, 64-bit limbs, rounded two ways ----

    /// 2560 bits: the 2098 of any float64 in units of 2^-1074, with room for sums.
    const LIMBS: usize = 40;

    #[derive(Clone)]
    struct Reference {
        negative: bool,
        /// |sum of the finite values| in units of 2^-1074, little-endian.
        magnitude: Vec<u64>,
        nans: i64,
        positive_infinities: i64,
        negative_infinities: i64,
    }

    /// |x| in units of 2^-1074, found by exact float scaling rather than by reading bit fields.
    fn units_of(x: f64) -> Vec<u64> {
        let mut a = x.abs();
        let mut shift = 1074i32;
        // Halving a number of 2^53 or more is exact, and leaves an integer below 2^53.
        while a >= 9_007_199_254_740_992.0 {
            a *= 0.5;
            shift += 1;
        }
        // Doubling a non-integer (so below 2^52) is exact; at most 1074 doublings reach an integer.
        while a.fract() != 0.0 {
            a *= 2.0;
            shift -= 1;
        }
        assert!(shift >= 0);
        let mut limbs = vec![0u64; LIMBS];
        let shift = shift as usize;
        let wide = u128::from(a as u64) << (shift % 64);
        limbs[shift / 64] |= wide as u64;
        limbs[shift / 64 + 1] |= (wide >> 64) as u64;
        limbs
    }

    fn compare(a: &[u64], b: &[u64]) -> Ordering {
        a.iter().rev().cmp(b.iter().rev())
    }

    fn add_into(a: &mut [u64], b: &[u64]) {
        let mut carry = false;
        for (x, &y) in a.iter_mut().zip(b) {
            let (s, c1) = x.overflowing_add(y);
            let (s, c2) = s.overflowing_add(u64::from(carry));
            *x = s;
            carry = c1 || c2;
        }
        assert!(!carry, "reference overflow");
    }

    /// a -= b, with a >= b.
    fn subtract_from(a: &mut [u64], b: &[u64]) {
        let mut borrow = false;
        for (x, &y) in a.iter_mut().zip(b) {
            let (d, b1) = x.overflowing_sub(y);
            let (d, b2) = d.overflowing_sub(u64::from(borrow));
            *x = d;
            borrow = b1 || b2;
        }
        assert!(!borrow);
    }

    impl Reference {
        fn new() -> Self {
            Reference {
                negative: false,
                magnitude: vec![0; LIMBS],
                nans: 0,
                positive_infinities: 0,
                negative_infinities: 0,
            }
        }

        fn apply(&mut self, x: f64, remove: bool) {
            let delta = if remove { -1 } else { 1 };
            if x.is_nan() {
                self.nans += delta;
            } else if x == f64::INFINITY {
                self.positive_infinities += delta;
            } else if x == f64::NEG_INFINITY {
                self.negative_infinities += delta;
            } else if x != 0.0 {
                let term_negative = (x < 0.0) != remove;
                let term = units_of(x);
                if self.negative == term_negative {
                    add_into(&mut self.magnitude, &term);
                } else if compare(&self.magnitude, &term) != Ordering::Less {
                    subtract_from(&mut self.magnitude, &term);
                } else {
                    let mut flipped = term;
                    subtract_from(&mut flipped, &self.magnitude);
                    self.magnitude = flipped;
                    self.negative = term_negative;
                }
                if self.magnitude.iter().all(|&l| l == 0) {
                    self.negative = false;
                }
            }
        }

        fn special(&self) -> Option<f64> {
            if self.nans != 0 || (self.positive_infinities != 0 && self.negative_infinities != 0) {
                Some(f64::from_bits(NAN_BITS))
            } else if self.positive_infinities != 0 {
                Some(f64::INFINITY)
            } else if self.negative_infinities != 0 {
                Some(f64::NEG_INFINITY)
            } else {
                None
            }
        }

        /// Rounding by the hardware: the top 64 bits with the lower bits ORed into the last one
        /// (round to odd; 11 spare bits make the second rounding correct), converted by
        /// `u64 as f64`, then scaled by an exact power of two.
        fn value_by_hardware(&self) -> f64 {
            if let Some(special) = self.special() {
                return special;
            }
            let m = &self.magnitude;
            let Some(top) = m.iter().rposition(|&l| l != 0) else {
                return 0.0;
            };
            let highest_bit = top * 64 + 63 - m[top].leading_zeros() as usize;
            let magnitude = if highest_bit < 64 {
                // Exact below 2^53 units; above, the result is normal and the scaling exact.
                m[0] as f64 * pow2(-1074)
            } else {
                let low = highest_bit - 63;
                let wide = (u128::from(m[low / 64 + 1]) << 64) | u128::from(m[low / 64]);
                let window = (wide >> (low % 64)) as u64;
                let sticky = m[..low / 64].iter().any(|&l| l != 0)
                    || m[low / 64] & ((1u64 << (low % 64)) - 1) != 0;
                let mut f = (window | u64::from(sticky)) as f64;
                // Scale by 2^(low - 1074) in steps small enough that each power is a normal
                // number; the intermediates move monotonically towards the result.
                let mut e = low as i32 - 1074;
                while e != 0 {
                    let step = e.clamp(-500, 500);
                    f *= pow2(step);
                    e -= step;
                }
                f
            };
            if self.negative { -magnitude } else { magnitude }
        }

        /// Rounding by the standard library's decimal parser (correctly rounded for any
        /// length): the exact sum written out in decimal.
        fn value_by_parsing(&self) -> f64 {
            if let Some(special) = self.special() {
                return special;
            }
            let mut m = self.magnitude.clone();
            if m.iter().all(|&l| l == 0) {
                return "0".parse().unwrap();
            }
            // m * 2^-1074 = (m / 2^t) * 2^(t - 1074): drop trailing zeros to keep numbers small.
            let mut t = 0;
            while m[0] & 1 == 0 {
                shift_right_one(&mut m);
                t += 1;
            }
            let e = t - 1074;
            let text = if e >= 0 {
                for _ in 0..e {
                    multiply_small(&mut m, 2);
                }
                decimal(&m)
            } else {
                // x * 2^-k = x * 5^k * 10^-k.
                let mut k = -e;
                while k > 0 {
                    let step = k.min(27); // 5^27 < 2^64
                    multiply_small(&mut m, 5u64.pow(step as u32));
                    k -= step;
                }
                format!("{}e{e}", decimal(&m))
            };
            let sign = if self.negative { "-" } else { "" };
            format!("{sign}{text}").parse().unwrap()
        }
    }

    fn shift_right_one(m: &mut [u64]) {
        for i in 0..m.len() {
            let next = m.get(i + 1).copied().unwrap_or(0);
            m[i] = (m[i] >> 1) | (next << 63);
        }
    }

    fn multiply_small(m: &mut Vec<u64>, k: u64) {
        let mut carry = 0u128;
        for limb in m.iter_mut() {
            let p = u128::from(*limb) * u128::from(k) + carry;
            *limb = p as u64;
            carry = p >> 64;
        }
        if carry != 0 {
            m.push(carry as u64);
        }
    }

    fn decimal(m: &[u64]) -> String {
        const TEN19: u64 = 10_000_000_000_000_000_000;
        let mut m = m.to_vec();
        let mut groups = Vec::new();
        while m.iter().any(|&l| l != 0) {
            let mut remainder = 0u128;
            for limb in m.iter_mut().rev() {
                let current = (remainder << 64) | u128::from(*limb);
                *limb = (current / u128::from(TEN19)) as u64;
                remainder = current % u128::from(TEN19);
            }
            groups.push(remainder as u64);
            while m.last() == Some(&0) {
                m.pop();
            }
        }
        let mut text = groups.pop().unwrap_or(0).to_string();
        for group in groups.iter().rev() {
            text.push_str(&format!("{group:019}"));
        }
        text
    }

    // ---- fixed cases ----

    #[test]
    fn cancellation_keeps_the_small_term() {
        assert_eq!(1e16 + 1.0 - 1e16, 0.0); // what naive summation gives
        assert_eq!(sum_of(&[1e16, 1.0, -1e16]).value(), 1.0);
        assert_eq!(sum_of(&[1e308, 1e308, -1e308]).value(), 1e308);
        // The doubles 0.1, 0.2 and 0.3 sum to 0.6000000000000000055..., nearest to the double 0.6.
        assert_eq!(0.1 + 0.2 + 0.3, 0.6000000000000001);
        assert_eq!(sum_of(&[0.1, 0.2, 0.3]).value(), 0.6);
        // And 0.1 + 0.2 + 0.3 - 0.6 is exactly 2^-55.
        assert_eq!(sum_of(&[0.1, 0.2, 0.3, -0.6]).value(), pow2(-55));
    }

    #[test]
    fn overflow_rounds_to_infinity_as_ieee_does() {
        let max = f64::MAX;
        let half_ulp = pow2(970); // ulp(MAX) = 2^971
        assert_eq!(bits(&[max, max]), f64::INFINITY.to_bits());
        assert_eq!(bits(&[-max, -max]), f64::NEG_INFINITY.to_bits());
        // MAX + 2^970 is halfway between MAX (odd significand) and 2^1024 (even): IEEE rounds to
        // 2^1024, which overflows. The hardware agrees.
        assert_eq!(max + half_ulp, f64::INFINITY);
        assert_eq!(bits(&[max, half_ulp]), f64::INFINITY.to_bits());
        assert_eq!(bits(&[-max, -half_ulp]), f64::NEG_INFINITY.to_bits());
        // Just below the halfway point it stays MAX.
        assert_eq!(max + pow2(969), max);
        assert_eq!(bits(&[max, pow2(969)]), max.to_bits());
        assert_eq!(bits(&[max, half_ulp, -5e-324]), max.to_bits());
        // An overflowing intermediate sum does not matter, only the final one.
        assert_eq!(bits(&[max, half_ulp, -max]), half_ulp.to_bits());
        assert_eq!(bits(&[max, max, max, -max, -max]), max.to_bits());
        assert_eq!(
            bits(&[max, max, -max, -pow2(971)]),
            f64::from_bits(max.to_bits() - 1).to_bits()
        );
    }

    #[test]
    fn ties_go_to_even_including_into_the_next_binade() {
        let two53 = 9_007_199_254_740_992.0;
        // 2^53 - 1 + 0.5: halfway between an odd and an even significand, and the even one is
        // 2^53, the first of the next binade.
        assert_eq!(sum_of(&[two53 - 1.0, 0.5]).value(), two53);
        assert_eq!(sum_of(&[two53, 1.0]).value(), two53);
        assert_eq!(sum_of(&[two53, 1.0, 5e-324]).value(), two53 + 2.0);
        assert_eq!(sum_of(&[two53, 1.0, -5e-324]).value(), two53);
        assert_eq!(sum_of(&[two53 + 2.0, 1.0]).value(), two53 + 4.0);
        assert_eq!(sum_of(&[-two53 - 2.0, -1.0]).value(), -two53 - 4.0);
        // 1 + 2^-53 is a tie that stays at 1; 1 + 2^-53 + 2^-1074 is not.
        assert_eq!(sum_of(&[1.0, pow2(-53)]).value(), 1.0);
        assert_eq!(
            sum_of(&[1.0, pow2(-53), 5e-324]).value(),
            1.0 + f64::EPSILON
        );
    }

    #[test]
    fn subnormals_are_exact() {
        let tiny = 5e-324;
        assert_eq!(bits(&[tiny, tiny]), 2);
        assert_eq!(sum_of(&[tiny, tiny]).value(), 1e-323);
        assert_eq!(bits(&[f64::MIN_POSITIVE, -tiny]), 0x000f_ffff_ffff_ffff);
        assert_eq!(
            sum_of(&[f64::from_bits(0x000f_ffff_ffff_ffff), tiny]).value(),
            f64::MIN_POSITIVE
        );
        assert_eq!(bits(&[-tiny, -tiny, -tiny]), (-1.5e-323f64).to_bits());
        assert_eq!(bits(&[1.0, tiny, -1.0]), 1);
        assert_eq!(bits(&[1e300, -tiny, -1e300]), (-tiny).to_bits());
    }

    #[test]
    fn zero_is_positive() {
        assert_eq!(bits(&[]), 0);
        assert_eq!(bits(&[-0.0]), 0);
        assert_eq!(bits(&[-0.0, -0.0]), 0);
        assert_eq!(bits(&[-1.5, 1.5]), 0);
        assert_eq!(bits(&[-1e-320, 1e-320]), 0);
        assert!(sum_of(&[-0.0, 3.0, -3.0]).is_empty());
        assert!(!sum_of(&[5e-324]).is_empty());
        assert_eq!(sum_of(&[-0.0]), ExactSum::new());
    }

    #[test]
    fn special_values() {
        let nan = NAN_BITS;
        let payload_nan = f64::from_bits(0xfff0_0000_0000_1234); // negative, signalling payload
        assert_eq!(bits(&[f64::NAN]), nan);
        assert_eq!(bits(&[payload_nan, 1.0]), nan);
        assert_eq!(bits(&[f64::INFINITY, f64::NEG_INFINITY]), nan);
        assert_eq!(
            bits(&[f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY]),
            nan
        );
        assert_eq!(
            bits(&[f64::INFINITY, -f64::MAX, -f64::MAX]),
            f64::INFINITY.to_bits()
        );
        assert_eq!(bits(&[f64::NEG_INFINITY, 1.0]), f64::NEG_INFINITY.to_bits());
        let mut sum = sum_of(&[f64::INFINITY, f64::NEG_INFINITY, 2.0]);
        sum.remove(f64::NEG_INFINITY);
        assert_eq!(sum.value(), f64::INFINITY);
        sum.remove(f64::INFINITY);
        assert_eq!(sum.value(), 2.0);
        let mut sum = sum_of(&[payload_nan]);
        sum.remove(f64::NAN);
        assert_eq!(sum, ExactSum::new());
        assert!(sum.is_empty());
    }

    #[test]
    fn add_then_remove_restores_the_state() {
        let values = [
            1.0,
            -1.0,
            0.1,
            1e16,
            -1e-300,
            5e-324,
            f64::MAX,
            -f64::MAX,
            f64::MIN_POSITIVE,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -0.0,
            0.0,
            123456.789,
            pow2(970),
        ];
        for base in [&[][..], &[1.0, 2.0][..], &[f64::MAX, 3e-310, -7.5][..]] {
            let before = sum_of(base);
            for &x in &values {
                let mut sum = before.clone();
                sum.add(x);
                sum.remove(x);
                assert_eq!(sum, before, "add/remove {x:e}");
                assert_eq!(hash_of(&sum), hash_of(&before));
                assert_eq!(sum.value().to_bits(), before.value().to_bits());
                // A remove before the add undoes it as well.
                let mut sum = before.clone();
                sum.remove(x);
                sum.add(x);
                assert_eq!(sum, before);
            }
        }
    }

    /// Every ordering of `values` (Heap's algorithm).
    fn for_each_permutation(values: &mut [f64], k: usize, visit: &mut dyn FnMut(&[f64])) {
        if k <= 1 {
            visit(values);
            return;
        }
        for i in 0..k - 1 {
            for_each_permutation(values, k - 1, visit);
            if k.is_multiple_of(2) {
                values.swap(i, k - 1);
            } else {
                values.swap(0, k - 1);
            }
        }
        for_each_permutation(values, k - 1, visit);
    }

    #[test]
    fn every_order_gives_the_same_state_and_bits() {
        let sets: [&[f64]; 5] = [
            &[1e16, 1.0, -1e16, 3.0, -0.5, 0.25],
            &[f64::MAX, f64::MAX, -f64::MAX, pow2(970), -5e-324, 1.0],
            &[0.1, 0.2, 0.3, -0.6, 1e-300, -1e-300, 7.0],
            &[5e-324, -f64::MIN_POSITIVE, 2.5e-308, -0.0, 1e-320, -3e-322],
            &[1e300, -1e-300, 1e100, -1e100, 1e-100, -1e300, 2.0],
        ];
        for set in sets {
            let expected = sum_of(set);
            let expected_bits = expected.value().to_bits();
            let expected_hash = hash_of(&expected);
            let mut count = 0;
            for_each_permutation(&mut set.to_vec(), set.len(), &mut |order| {
                let sum = sum_of(order);
                assert_eq!(sum.value().to_bits(), expected_bits, "{order:?}");
                assert_eq!(sum, expected);
                assert_eq!(hash_of(&sum), expected_hash);
                count += 1;
            });
            assert!(count >= 720);
        }
    }

    #[test]
    fn merge_adds_the_other_multiset() {
        let a = [1e16, 0.1, -3e-320, f64::MAX, f64::INFINITY];
        let b = [
            -1e16,
            0.2,
            f64::MAX,
            -f64::MAX,
            f64::NEG_INFINITY,
            -f64::INFINITY,
        ];
        let mut merged = sum_of(&a);
        merged.merge(&sum_of(&b));
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        assert_eq!(merged, sum_of(&all));
        assert_eq!(merged.value().to_bits(), NAN_BITS);
        let mut merged = sum_of(&[1e16, 1.0]);
        merged.merge(&sum_of(&[-1e16]));
        assert_eq!(merged.value(), 1.0);
        merged.merge(&ExactSum::new());
        assert_eq!(merged, sum_of(&[1.0]));
    }

    #[test]
    fn lazy_carries_survive_many_adds() {
        // f64::MAX's significand is all ones: the largest pieces an add can bring.
        let n = 2 * PROPAGATE_EVERY as usize + 7;
        let x = f64::from_bits(0x43ff_ffff_ffff_ffff); // (2^53 - 1) * 2^12
        let mut sum = ExactSum::new();
        for _ in 0..n {
            sum.add(x);
        }
        assert_eq!(sum.value(), x * n as f64); // n < 2^22: exact in 75 bits, rounded once
        let mut big = ExactSum::new();
        for _ in 0..n {
            big.add(-f64::MAX);
        }
        assert_eq!(big.value(), f64::NEG_INFINITY);
        for _ in 0..n {
            sum.remove(x);
            big.remove(-f64::MAX);
        }
        assert_eq!(sum, ExactSum::new());
        assert_eq!(big, ExactSum::new());
    }

    #[test]
    fn headroom_for_huge_counts() {
        // 2^70 copies of MAX and of -MAX (by repeated self-merging) still cancel exactly.
        let mut plus = sum_of(&[f64::MAX, 5e-324]);
        let mut minus = sum_of(&[-f64::MAX]);
        for _ in 0..70 {
            plus.merge(&plus.clone());
            minus.merge(&minus.clone());
        }
        assert_eq!(plus.value(), f64::INFINITY);
        assert_eq!(minus.value(), f64::NEG_INFINITY);
        plus.merge(&minus);
        // What is left is 2^70 * 5e-324 = 2^-1004.
        assert_eq!(plus.value(), pow2(-1004));
    }

    #[test]
    fn size_is_as_documented() {
        assert_eq!(size_of::<ExactSum>(), 568);
    }

    #[test]
    fn reference_rounding_agrees_on_fixed_cases() {
        for (values, expected) in [
            (&[f64::MAX, pow2(970)][..], f64::INFINITY),
            (&[f64::MAX, pow2(969)][..], f64::MAX),
            (&[5e-324, 5e-324][..], 1e-323),
            (&[0.1, 0.2, 0.3][..], 0.6),
            (&[-1.0, -pow2(-53)][..], -1.0),
        ] {
            let mut reference = Reference::new();
            for &x in values {
                reference.apply(x, false);
            }
            assert_eq!(reference.value_by_hardware(), expected);
            assert_eq!(reference.value_by_parsing(), expected);
        }
    }

    // ---- randomized comparison with the reference ----

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Values of every kind; `mode` skews the mix (0: anything, 1: exponents near `center`,
    /// 2: near the overflow threshold, 3: subnormals and the smallest normals).
    fn random_value(rng: &mut XorShift, mode: u64, center: u64, present: &[f64]) -> f64 {
        let sign = rng.next() & 1 << 63;
        let fraction = rng.next() & FRACTION_MASK;
        let with_exponent = |biased: u64| f64::from_bits(sign | biased << 52 | fraction);
        // Rare, so that most states have a finite value to check.
        if rng.below(2000) == 0 {
            return [
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::from_bits(sign | 0x7ff0_0000_dead_beef),
            ][rng.below(3) as usize];
        }
        let roll = rng.below(1000);
        if roll < 120 && !present.is_empty() {
            let other = present[rng.below(present.len() as u64) as usize];
            if !other.is_finite() || other == 0.0 || roll < 60 {
                return -other; // exact cancellation
            }
            // Half an ulp of a present value (when representable): ties and near-ties.
            let biased = (other.to_bits() >> 52) & 0x7ff;
            let half_ulp = if biased >= 54 {
                f64::from_bits((biased - 53) << 52)
            } else if biased >= 2 {
                f64::from_bits(1 << (biased - 2))
            } else {
                return -other;
            };
            return f64::from_bits(sign | half_ulp.to_bits());
        }
        if roll < 150 {
            return [0.0, -0.0, 1.0, -1.0, 0.1, 5e-324, -5e-324, pow2(970)][rng.below(8) as usize];
        }
        if roll < 200 {
            return (rng.below(2001) as f64 - 1000.0) * 0.125;
        }
        match mode {
            0 => with_exponent(rng.below(2047)),
            1 => with_exponent((center + rng.below(121)).saturating_sub(60).min(2046)),
            2 if roll < 400 => with_exponent(2046 - rng.below(4)),
            2 => with_exponent(rng.below(2047)),
            _ if roll < 900 => with_exponent(rng.below(4)),
            _ => f64::from_bits(sign | rng.below(1 << 12)),
        }
    }

    #[test]
    fn random_adds_and_removes_match_the_reference() {
        let operations: usize = std::env::var("EXACT_SUM_OPS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200_000);
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut sum = ExactSum::new();
        let mut reference = Reference::new();
        let mut present: Vec<f64> = Vec::new();
        let (mut mode, mut center, mut target) = (0, 1075, 100);
        let mut growing = true;
        let (mut finite_checks, mut infinite, mut nan) = (0, 0, 0);
        for op in 0..operations {
            // Cycles: grow to a random size, shrink to empty, then change the mix.
            if growing && present.len() >= target {
                growing = false;
            } else if !growing && present.is_empty() {
                growing = true;
                mode = rng.below(4);
                center = rng.below(2047);
                target = 1 + rng.below(400) as usize;
                assert_eq!(sum, ExactSum::new(), "empty again at op {op}");
            }
            let add = present.is_empty() || rng.below(10) < if growing { 8 } else { 2 };
            if add {
                let x = random_value(&mut rng, mode, center, &present);
                sum.add(x);
                reference.apply(x, false);
                present.push(x);
            } else {
                let x = present.swap_remove(rng.below(present.len() as u64) as usize);
                sum.remove(x);
                reference.apply(x, true);
            }
            let got = sum.value();
            let expected = reference.value_by_hardware();
            assert_eq!(
                got.to_bits(),
                expected.to_bits(),
                "op {op}: got {got:e}, expected {expected:e}"
            );
            if op % 64 == 0 {
                assert_eq!(
                    reference.value_by_parsing().to_bits(),
                    expected.to_bits(),
                    "op {op}"
                );
            }
            if got.is_nan() {
                nan += 1;
            } else if got.is_infinite() {
                infinite += 1;
            } else {
                finite_checks += 1;
            }
            if op % 4096 == 0 {
                // The same multiset, added in another order or in two merged parts, is `==`.
                let mut shuffled = present.clone();
                for i in (1..shuffled.len()).rev() {
                    shuffled.swap(i, rng.below(i as u64 + 1) as usize);
                }
                let rebuilt = sum_of(&shuffled);
                assert_eq!(rebuilt, sum);
                assert_eq!(hash_of(&rebuilt), hash_of(&sum));
                let split = rng.below(shuffled.len() as u64 + 1) as usize;
                let mut merged = sum_of(&shuffled[..split]);
                merged.merge(&sum_of(&shuffled[split..]));
                assert_eq!(merged, sum);
            }
        }
        println!(
            "checked {operations} operations: {finite_checks} finite, {infinite} infinite, {nan} NaN"
        );
        assert!(finite_checks > operations / 2);
    }
}
