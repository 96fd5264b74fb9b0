//! Never returns.

use skewless_guest::{Features, transform};

/// Loops forever on every row.
#[transform(name = "infinite-loop", version = "0.1.0")]
fn infinite_loop(x: i64) -> Out {
    let mut y = x;
    loop {
        y = std::hint::black_box(y.wrapping_add(1));
    }
}

#[derive(Features)]
struct Out {
    y: i64,
}
