//! Aggregations with an event id and an allowed lateness: a user's
//! payments in the last hour. For the tests of served state (duplicates,
//! late events, restarts).

use skewless_guest::{Aggregates, Features, events, transform};

#[derive(Debug, Features)]
pub struct Payment {
    pub amount: f64,
}

/// One payment of a user, identified by `id`; one may arrive up to ten
/// minutes behind the user's newest.
#[events(key = "user", time = "ts", event_id = "id", lateness = "10m")]
pub fn payment(amount: f64) -> Payment {
    Payment { amount }
}

#[derive(Debug, Aggregates)]
#[aggregates(events = payment)]
pub struct Recent {
    #[aggregate(count, window = "1h")]
    pub payments_1h: i64,
    #[aggregate(sum(amount), window = "1h")]
    pub amount_1h: f64,
}

#[derive(Debug, Features)]
pub struct Out {
    pub payments_1h: i64,
    pub amount_1h: f64,
}

#[transform(name = "payments", version = "1.0.0")]
pub fn payments(#[aggregates] recent: Recent) -> Out {
    Out {
        payments_1h: recent.payments_1h,
        amount_1h: recent.amount_1h,
    }
}
