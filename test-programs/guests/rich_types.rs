//! Echoes one column of every type contract 0.2.0 added (dates, decimals,
//! bytes, lists, embeddings), read each way the SDK offers (borrowed and
//! owned, without and with nulls): the output must equal the input.

use skewless_guest::{Date, Decimal, Features, transform};

/// Money as warehouses store it.
type Money = Decimal<18, 2>;

/// Every type of contract 0.2.0, echoed.
#[transform(name = "rich-types", version = "0.1.0")]
#[expect(clippy::too_many_arguments, reason = "one argument per column type")]
fn rich_types(
    day: Date,
    amount: Money,
    blob: &[u8],
    scores: &[f32],
    tags: Vec<&str>,
    counts: Vec<Option<i64>>,
    embedding: &[f32; 4],
    nday: Option<Date>,
    namount: Option<Money>,
    nblob: Option<Vec<u8>>,
    nscores: Option<Vec<f64>>,
    ntags: Option<Vec<String>>,
    nembedding: Option<[f64; 3]>,
) -> RichTypes {
    RichTypes {
        day,
        amount,
        blob: blob.to_vec(),
        scores: scores.to_vec(),
        tags: tags.into_iter().map(str::to_string).collect(),
        counts,
        embedding: *embedding,
        nday,
        namount,
        nblob,
        nscores,
        ntags,
        nembedding,
    }
}

#[derive(Features)]
struct RichTypes {
    day: Date,
    amount: Money,
    blob: Vec<u8>,
    scores: Vec<f32>,
    tags: Vec<String>,
    counts: Vec<Option<i64>>,
    embedding: [f32; 4],
    nday: Option<Date>,
    namount: Option<Money>,
    nblob: Option<Vec<u8>>,
    nscores: Option<Vec<f64>>,
    ntags: Option<Vec<String>>,
    nembedding: Option<[f64; 3]>,
}
