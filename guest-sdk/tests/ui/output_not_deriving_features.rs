use skewless_guest::transform;

struct Out {
    x: f64,
}

#[transform(name = "t", version = "1")]
fn t(amount: f64) -> Out {
    Out { x: amount }
}

fn main() {}
