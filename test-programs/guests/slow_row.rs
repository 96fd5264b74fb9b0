//! Cheap on every row but one: `x == 13` loops `x * 10_000_000` times.

use skewless_guest::{Features, transform};

/// Slow only for x = 13.
#[transform(name = "slow-row", version = "0.1.0")]
fn slow_row(x: i64) -> Out {
    let mut y = x;
    if x == 13 {
        for i in 0..x * 10_000_000 {
            y = std::hint::black_box(y ^ i);
        }
    }
    Out { y }
}

#[derive(Features)]
struct Out {
    y: i64,
}
