use skewless_guest::{Decimal, Features, transform};

// The types of contract 0.2.0, spelt wrong: each says what to write.
#[transform(name = "t", version = "1")]
fn t(price: Decimal, pairs: Vec<(i64, i64)>, vector: [i32; 4], names: &[String]) -> Out {
    let _ = (price, pairs, vector, names);
    Out { x: 0.0 }
}

#[derive(Features)]
struct Out {
    x: f64,
}

/// A named type that is not a column.
struct Money(i64);

#[transform(name = "u", version = "1")]
fn u(price: Money) -> Out {
    Out { x: price.0 as f64 }
}

fn main() {}
