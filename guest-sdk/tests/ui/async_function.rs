use skewless_guest::{Features, transform};

#[transform(name = "t", version = "1")]
async fn t(amount: f64) -> Out {
    Out { x: amount }
}

#[derive(Features)]
struct Out {
    x: f64,
}

fn main() {}
