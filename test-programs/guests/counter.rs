//! Keeps state between calls on purpose: a counter in a `static`, added to
//! every answer. On a clean instance per call, the same input always gets
//! the same answer; on a reused one, the answer depends on the calls
//! before it.

use std::sync::atomic::{AtomicI64, Ordering};

use skewless_guest::{Features, transform};

static CALLS: AtomicI64 = AtomicI64::new(0);

/// `x` plus the rows this instance has computed before.
#[transform(name = "counter", version = "0.1.0")]
fn counter(x: i64) -> Counted {
    Counted {
        y: x + CALLS.fetch_add(1, Ordering::Relaxed),
    }
}

#[derive(Features)]
struct Counted {
    y: i64,
}
