//! Rejects negative amounts, with outputs that may be null: what
//! `--on-error null` writes for a rejected row.

use skewless_guest::{Features, transform};

/// Square root of an amount, null for zero; negative amounts are an error.
#[transform(name = "maybe-root", version = "0.1.0")]
fn maybe_root(amount: f64) -> Result<MaybeRoot, String> {
    if amount < 0.0 {
        return Err(format!("amount must not be negative, got {amount}"));
    }
    Ok(MaybeRoot {
        root: (amount != 0.0).then(|| amount.sqrt()),
    })
}

#[derive(Features)]
struct MaybeRoot {
    root: Option<f64>,
}
