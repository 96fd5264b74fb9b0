//! Panics, with a message, on negative amounts; prints every amount it
//! checks, so tests can see that a call's output is its own.

use skewless_guest::{Features, transform};

/// Panics on negative amounts.
#[transform(name = "panics", version = "0.1.0")]
fn panics(amount: f64) -> Out {
    println!("checking {amount}");
    assert!(amount >= 0.0, "amount must be positive, got {amount}");
    Out {
        doubled: amount * 2.0,
    }
}

#[derive(Features)]
struct Out {
    doubled: f64,
}
