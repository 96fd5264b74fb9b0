//! Order features from the types a warehouse table holds: the order's
//! date, its amount and discount as `DECIMAL(18,2)` money, and the item's
//! embedding (`fixed-size-list<float32, 768>`, a sentence-transformer's
//! size).
//!
//! Money stays exact from the table to the feature: `Decimal<18, 2>` is a
//! whole number of cents, never a float that `0.1 + 0.2` would betray.

use skewless_guest::{Date, Decimal, Features, transform};

/// Money as warehouses and Spark store it: 18 digits, 2 after the point.
pub type Money = Decimal<18, 2>;

/// The size of the item embeddings.
pub const DIMS: usize = 768;

/// The embedding direction of "premium" items: a fixed vector, part of the
/// component (so its sha256 pins it too), here a deterministic pattern.
pub const PREMIUM: [f32; DIMS] = premium();

const fn premium() -> [f32; DIMS] {
    let mut v = [0.0_f32; DIMS];
    let mut i = 0;
    while i < DIMS {
        // Values in [-0.5, 0.5) from a small integer hash of the index.
        let h = (i as u32).wrapping_mul(2_654_435_761) >> 22;
        v[i] = h as f32 / 1024.0 - 0.5;
        i += 1;
    }
    v
}

/// Order features: the exact net amount, calendar flags of the order's
/// date, the account's age in days, and how close the item is to premium
/// items (cosine similarity of its embedding).
#[transform(name = "order-features", version = "1.0.0")]
pub fn order_features(
    order_date: Date,
    signup_date: Option<Date>,
    amount: Money,
    discount: Option<Money>,
    item_embedding: &[f32; DIMS],
) -> Result<OrderFeatures, String> {
    let net_amount = match discount {
        Some(discount) if discount > amount => {
            return Err(format!(
                "the discount {discount} is more than the amount {amount}"
            ));
        }
        Some(discount) => amount - discount,
        None => amount,
    };
    Ok(OrderFeatures {
        net_amount,
        // A Decimal<18, 2> counts cents: 18 digits always fit an i64.
        net_amount_cents: i64::try_from(net_amount.units()).map_err(|e| e.to_string())?,
        is_weekend: order_date.day_of_week() >= 5,
        is_month_end: order_date.add_days(1).month() != order_date.month(),
        account_age_days: signup_date.map(|signup| order_date.days_since(signup)),
        premium_similarity: cosine(item_embedding, &PREMIUM),
    })
}

/// Cosine similarity, summed in order in float32 (the same operations in
/// the same order on every path, so the same bits); 0 for a zero vector.
pub fn cosine(a: &[f32; DIMS], b: &[f32; DIMS]) -> f32 {
    let (mut dot, mut aa, mut bb) = (0.0_f32, 0.0_f32, 0.0_f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    dot / (aa.sqrt() * bb.sqrt())
}

#[derive(Debug, Features)]
pub struct OrderFeatures {
    pub net_amount: Money,
    pub net_amount_cents: i64,
    pub is_weekend: bool,
    pub is_month_end: bool,
    pub account_age_days: Option<i64>,
    pub premium_similarity: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_stays_exact_and_dates_read_as_a_calendar() {
        let date = |y, m, d| Date::from_ymd(y, m, d).unwrap();
        let money = |text: &str| text.parse::<Money>().unwrap();
        let features = order_features(
            date(2026, 2, 28),
            Some(date(2025, 2, 28)),
            money("0.30"),
            Some(money("0.10")),
            &PREMIUM,
        )
        .unwrap();
        assert_eq!(features.net_amount, money("0.20"));
        assert_eq!(features.net_amount_cents, 20);
        assert!(features.is_weekend); // a Saturday
        assert!(features.is_month_end);
        assert_eq!(features.account_age_days, Some(365));
        assert!((features.premium_similarity - 1.0).abs() < 1e-6);
        let refused = order_features(
            date(2026, 3, 2),
            None,
            money("5.00"),
            Some(money("6.00")),
            &PREMIUM,
        );
        assert_eq!(
            refused.unwrap_err(),
            "the discount 6.00 is more than the amount 5.00"
        );
    }
}
