//! Spends CPU in proportion to its input: `units` loop iterations.

use skewless_guest::{Features, transform};

/// Burns `units` iterations.
#[transform(name = "burn", version = "0.1.0")]
fn burn(units: i64) -> Out {
    let mut acc = units;
    for i in 0..units {
        acc = std::hint::black_box(acc ^ i);
    }
    Out { acc }
}

#[derive(Features)]
struct Out {
    acc: i64,
}
