//! Echoes the columns of a typical feature table, each nullable but the id:
//! the conformance tests check, for files written by pandas, pyarrow and
//! polars, that these are the values the transform received.

use skewless_guest::{Features, Timestamp, transform};

/// What the transform received, column by column.
#[transform(name = "echo", version = "0.1.0")]
#[expect(clippy::too_many_arguments, reason = "one argument per column")]
fn echo(
    id: i64,
    flag: Option<bool>,
    count: Option<i64>,
    small: Option<i32>,
    ratio: Option<f32>,
    amount: Option<f64>,
    name: Option<&str>,
    at: Option<Timestamp>,
) -> Seen {
    Seen {
        seen_id: id,
        seen_flag: flag,
        seen_count: count,
        seen_small: small,
        seen_ratio: ratio,
        seen_amount: amount,
        seen_name: name.map(str::to_string),
        seen_at: at,
    }
}

#[derive(Features)]
struct Seen {
    seen_id: i64,
    seen_flag: Option<bool>,
    seen_count: Option<i64>,
    seen_small: Option<i32>,
    seen_ratio: Option<f32>,
    seen_amount: Option<f64>,
    seen_name: Option<String>,
    seen_at: Option<Timestamp>,
}
