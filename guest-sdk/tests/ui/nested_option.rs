use skewless_guest::{Features, transform};

#[transform(name = "t", version = "1")]
fn t(amount: Option<Option<f64>>) -> Out {
    Out { x: amount.flatten().unwrap_or(0.0) }
}

#[derive(Features)]
struct Out {
    x: f64,
}

fn main() {}
