use skewless_guest::{Features, transform};

#[transform(name = "Fraud Features", version = "1")]
fn t(amount: f64) -> Out {
    Out { x: amount }
}

#[derive(Features)]
struct Out {
    x: f64,
}

fn main() {}
