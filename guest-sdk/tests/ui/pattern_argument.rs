use skewless_guest::{Features, transform};

#[transform(name = "t", version = "1")]
fn t((a, b): (f64, f64)) -> Out {
    Out { x: a + b }
}

#[derive(Features)]
struct Out {
    x: f64,
}

fn main() {}
