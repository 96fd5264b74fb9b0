use skewless_guest::{Features, transform};

#[transform(name = "t", version = "1")]
fn t<T: Into<f64>>(amount: T) -> Out {
    Out { x: amount.into() }
}

#[derive(Features)]
struct Out {
    x: f64,
}

fn main() {}
