use skewless_guest::{Features, transform};

#[transform(name = "t", version = "1")]
fn t(count: u64) -> Out {
    Out { x: count as f64 }
}

#[derive(Features)]
struct Out {
    x: f64,
}

fn main() {}
