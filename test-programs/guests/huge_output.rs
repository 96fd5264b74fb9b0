//! Returns a string of `bytes` bytes per row.

use skewless_guest::{Features, transform};

/// Big strings.
#[transform(name = "huge-output", version = "0.1.0")]
fn huge_output(bytes: i64) -> Out {
    Out {
        text: "x".repeat(bytes.max(0) as usize),
    }
}

#[derive(Features)]
struct Out {
    text: String,
}
