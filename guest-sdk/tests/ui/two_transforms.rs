use skewless_guest::{Features, transform};

// A crate is one component with one transform.
#[transform(name = "first", version = "1")]
fn first(amount: f64) -> Out {
    Out { x: amount }
}

#[transform(name = "second", version = "1")]
fn second(amount: f64) -> Out {
    Out { x: -amount }
}

#[derive(Features)]
struct Out {
    x: f64,
}

fn main() {}
