//! Recurses `depth` times; a large depth overflows the stack.

use skewless_guest::{Features, transform};

fn descend(depth: i64) -> i64 {
    if depth <= 0 {
        return 0;
    }
    // Work after the call keeps it from becoming a loop.
    std::hint::black_box(descend(std::hint::black_box(depth - 1))) + 1
}

/// Recursion depth.
#[transform(name = "deep-recursion", version = "0.1.0")]
fn deep_recursion(depth: i64) -> Out {
    Out {
        reached: descend(depth),
    }
}

#[derive(Features)]
struct Out {
    reached: i64,
}
