use skewless_guest::{Aggregates, Features, events, transform};

#[derive(Features)]
pub struct Payment {
    pub merchant: String,
    pub amount: Option<f64>,
    pub declined: bool,
}

#[events(key = "card_id", time = "ts")]
pub fn payment(merchant: &str, amount: Option<f64>, declined: bool) -> Payment {
    Payment { merchant: merchant.to_string(), amount, declined }
}

#[derive(Aggregates)]
#[aggregates(events = payment)]
pub struct Recent {
    // Text is not added: said at `merchant`, not when the component loads.
    #[aggregate(sum(merchant), window = "1d")]
    pub merchant_sum: i64,
    // A filter is a bool field: said at `amount`.
    #[aggregate(count, filter = amount, window = "1d")]
    pub big: i64,
    // These are right.
    #[aggregate(mean(amount), window = "1d")]
    pub amount_mean: Option<f64>,
    #[aggregate(count, filter = declined, window = "1d")]
    pub declined_1d: i64,
}

#[derive(Features)]
pub struct Out {
    pub big: i64,
}

#[transform(name = "t", version = "1")]
pub fn t(#[aggregates] recent: Recent) -> Out {
    Out { big: recent.big }
}

fn main() {}
