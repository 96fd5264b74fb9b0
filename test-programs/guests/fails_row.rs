//! Rejects negative amounts with its own error message.

use skewless_guest::{Features, transform};

/// Square root of an amount; negative amounts are an error.
#[transform(name = "fails-row", version = "0.1.0")]
fn fails_row(amount: f64) -> Result<Root, String> {
    if amount < 0.0 {
        return Err(format!("amount must not be negative, got {amount}"));
    }
    Ok(Root {
        root: amount.sqrt(),
    })
}

#[derive(Features)]
struct Root {
    root: f64,
}
