//! Echoes one column of every type, without and with nulls: the output
//! batch must equal the input batch.

use skewless_guest::{Features, Timestamp, transform};

/// Every column type, echoed.
#[transform(name = "all-types", version = "0.1.0")]
#[expect(clippy::too_many_arguments, reason = "one argument per column type")]
fn all_types(
    b: bool,
    i: i32,
    l: i64,
    f: f32,
    d: f64,
    s: &str,
    t: Timestamp,
    nb: Option<bool>,
    ni: Option<i32>,
    nl: Option<i64>,
    nf: Option<f32>,
    nd: Option<f64>,
    ns: Option<&str>,
    nt: Option<Timestamp>,
) -> AllTypes {
    AllTypes {
        b,
        i,
        l,
        f,
        d,
        s: s.to_string(),
        t,
        nb,
        ni,
        nl,
        nf,
        nd,
        ns: ns.map(str::to_string),
        nt,
    }
}

#[derive(Features)]
struct AllTypes {
    b: bool,
    i: i32,
    l: i64,
    f: f32,
    d: f64,
    s: String,
    t: Timestamp,
    nb: Option<bool>,
    ni: Option<i32>,
    nl: Option<i64>,
    nf: Option<f32>,
    nd: Option<f64>,
    ns: Option<String>,
    nt: Option<Timestamp>,
}
