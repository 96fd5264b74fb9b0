//! Fraud-scoring features from a card transaction.
//!
//! Build: `cargo build --release --target wasm32-wasip2 -p fraud-features`,
//! then `skewless run target/wasm32-wasip2/release/fraud_features.wasm
//! --input examples/fraud-features/data/transactions.csv --output features.parquet`.

use skewless_guest::{Features, transform};

/// Upper edges of the amount buckets: bucket `i` holds amounts below
/// `AMOUNT_EDGES[i]`, and bucket 5 everything from 1000 up.
pub const AMOUNT_EDGES: [f64; 5] = [10.0, 50.0, 100.0, 500.0, 1000.0];

/// Fraud-scoring features from a card transaction: the log of the amount,
/// whether it happened at night, its amount bucket, and the fraud risk of the
/// merchant category.
#[transform(name = "fraud-features", version = "1.0.0")]
pub fn fraud(amount: f64, hour: i64, merchant_category: &str) -> FraudFeatures {
    FraudFeatures {
        log_amount: (1.0 + amount).ln(),
        is_night: i64::from(!(6..22).contains(&hour)),
        amount_bucket: AMOUNT_EDGES
            .iter()
            .position(|&edge| amount < edge)
            .unwrap_or(AMOUNT_EDGES.len()) as i64,
        category_risk: category_risk(merchant_category),
    }
}

/// The features of one transaction.
#[derive(Features, Debug, Clone, Copy, PartialEq)]
pub struct FraudFeatures {
    /// `ln(1 + amount)`.
    pub log_amount: f64,
    /// 1 when the hour is before 06:00 or from 22:00, else 0.
    pub is_night: i64,
    /// Index of the first edge of [10, 50, 100, 500, 1000] the amount is below, else 5.
    pub amount_bucket: i64,
    /// Fraud risk of the merchant category; 0.3 for categories not listed.
    pub category_risk: f64,
}

/// Fraud risk by merchant category.
pub fn category_risk(merchant_category: &str) -> f64 {
    match merchant_category {
        "grocery" => 0.1,
        "travel" => 0.7,
        "electronics" => 0.5,
        "gaming" => 0.8,
        _ => 0.3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_edges() {
        let bucket = |amount| fraud(amount, 12, "grocery").amount_bucket;
        assert_eq!(bucket(0.0), 0);
        assert_eq!(bucket(9.99), 0);
        assert_eq!(bucket(10.0), 1);
        assert_eq!(bucket(499.0), 3);
        assert_eq!(bucket(1000.0), 5);
        assert_eq!(bucket(f64::NAN), 5);
    }

    #[test]
    fn night_is_before_six_or_from_ten() {
        let night = |hour| fraud(1.0, hour, "travel").is_night;
        assert_eq!([0, 5, 6, 21, 22, 23].map(night), [1, 1, 0, 0, 1, 1]);
    }
}
