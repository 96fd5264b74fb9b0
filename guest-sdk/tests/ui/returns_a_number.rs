use skewless_guest::transform;

#[transform(name = "t", version = "1")]
fn t(amount: f64) -> f64 {
    amount
}

fn main() {}
