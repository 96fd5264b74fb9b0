//! Card-velocity features: how a card has been used in the hour, day and
//! week before a transaction, the aggregates fraud models are built on.
//!
//! Each transaction of the card's history is an event (`transaction`);
//! the engine keeps the windows (`Velocity`); the row function turns the
//! aggregates and the transaction being scored into features.

use skewless_guest::{Aggregates, Features, events, transform};

/// What one past transaction contributes to the aggregates.
#[derive(Debug, Features)]
pub struct Transaction {
    pub amount: Option<f64>,
    pub merchant: String,
    pub declined: bool,
}

/// A past transaction of a card: its amount, merchant, and whether it was
/// declined (unknown counts as not).
#[events(key = "card_id", time = "ts")]
pub fn transaction(amount: Option<f64>, merchant: &str, declined: Option<bool>) -> Transaction {
    Transaction {
        amount,
        merchant: merchant.to_string(),
        declined: declined == Some(true),
    }
}

/// The card's recent activity, as of the transaction being scored (which
/// never counts in its own features).
#[derive(Debug, Aggregates)]
#[aggregates(events = transaction)]
pub struct Velocity {
    #[aggregate(count, window = "1h")]
    pub tx_count_1h: i64,
    #[aggregate(count, window = "24h")]
    pub tx_count_24h: i64,
    #[aggregate(sum(amount), window = "24h")]
    pub amount_sum_24h: f64,
    #[aggregate(mean(amount), window = "7d")]
    pub amount_mean_7d: Option<f64>,
    #[aggregate(max(amount), window = "7d")]
    pub amount_max_7d: Option<f64>,
    #[aggregate(count_distinct(merchant), window = "24h")]
    pub distinct_merchants_24h: i64,
    #[aggregate(count, filter = declined, window = "24h")]
    pub declined_count_24h: i64,
    #[aggregate(seconds_since_last, window = "7d")]
    pub seconds_since_last_tx: Option<f64>,
}

/// Velocity features of a card transaction: counts, sums and extremes of
/// the card's transactions in the hour, day and week before it, and the
/// amount against the card's weekly mean.
#[transform(name = "card-velocity", version = "1.0.0")]
pub fn card_velocity(amount: Option<f64>, #[aggregates] velocity: Velocity) -> CardFeatures {
    CardFeatures {
        tx_count_1h: velocity.tx_count_1h,
        tx_count_24h: velocity.tx_count_24h,
        amount_sum_24h: velocity.amount_sum_24h,
        amount_mean_7d: velocity.amount_mean_7d,
        amount_max_7d: velocity.amount_max_7d,
        distinct_merchants_24h: velocity.distinct_merchants_24h,
        declined_count_24h: velocity.declined_count_24h,
        seconds_since_last_tx: velocity.seconds_since_last_tx,
        amount_over_mean_7d: match (amount, velocity.amount_mean_7d) {
            (Some(amount), Some(mean)) => Some(amount / mean),
            _ => None,
        },
    }
}

#[derive(Debug, Features)]
pub struct CardFeatures {
    pub tx_count_1h: i64,
    pub tx_count_24h: i64,
    pub amount_sum_24h: f64,
    pub amount_mean_7d: Option<f64>,
    pub amount_max_7d: Option<f64>,
    pub distinct_merchants_24h: i64,
    pub declined_count_24h: i64,
    pub seconds_since_last_tx: Option<f64>,
    pub amount_over_mean_7d: Option<f64>,
}
