//! The types contract 0.2.0 added (dates, decimals, bytes, lists,
//! embeddings) through the boundary, the JSON codec, the files, and the
//! exact conversions (and refusals) of what tools write.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Date32Array, Date64Array, Decimal128Array,
    FixedSizeListArray, Float32Array, Int64Array, ListArray, RecordBatch, StringArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Int64Type};
use skewless::backfill::Backfill;
use skewless_test_artifacts as artifacts;
use tempfile::TempDir;

use crate::support::{array, batch, load};
use crate::types::assert_batches_same_bits;

fn item(data_type: DataType, nullable: bool) -> Arc<Field> {
    Arc::new(Field::new("item", data_type, nullable))
}

fn money(values: Vec<Option<i128>>) -> ArrayRef {
    array(
        Decimal128Array::from(values)
            .with_precision_and_scale(18, 2)
            .unwrap(),
    )
}

fn list_of<T: arrow::datatypes::ArrowPrimitiveType>(
    rows: &[Option<Vec<Option<T::Native>>>],
    element_nullable: bool,
    data_type: DataType,
) -> ArrayRef {
    let mut offsets = vec![0_i32];
    let mut values = Vec::new();
    for row in rows {
        values.extend(row.iter().flatten().copied());
        offsets.push(values.len() as i32);
    }
    let child: arrow::array::PrimitiveArray<T> = values.into_iter().collect();
    let nulls = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
    array(
        ListArray::try_new(
            item(data_type, element_nullable),
            OffsetBuffer::new(offsets.into()),
            Arc::new(child),
            Some(nulls).filter(|n| n.null_count() > 0),
        )
        .unwrap(),
    )
}

fn strings_list(rows: &[Option<Vec<&str>>]) -> ArrayRef {
    let mut offsets = vec![0_i32];
    let mut values = Vec::new();
    for row in rows {
        values.extend(row.iter().flatten().copied());
        offsets.push(values.len() as i32);
    }
    let nulls = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
    array(
        ListArray::try_new(
            item(DataType::Utf8, false),
            OffsetBuffer::new(offsets.into()),
            Arc::new(StringArray::from(values)),
            Some(nulls).filter(|n| n.null_count() > 0),
        )
        .unwrap(),
    )
}

fn embeddings<T: arrow::datatypes::ArrowPrimitiveType>(
    rows: &[Option<Vec<T::Native>>],
    size: i32,
    data_type: DataType,
) -> ArrayRef {
    let values = arrow::array::PrimitiveArray::<T>::from_iter_values(rows.iter().flat_map(|row| {
        row.clone()
            .unwrap_or_else(|| vec![T::Native::default(); size as usize])
    }));
    let nulls = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
    array(
        FixedSizeListArray::try_new(
            item(data_type, false),
            size,
            Arc::new(values),
            Some(nulls).filter(|n| n.null_count() > 0),
        )
        .unwrap(),
    )
}

/// `rows` rows of every new type; the `n*` columns have nulls.
pub fn rich_input(rows: usize) -> RecordBatch {
    let null = |i: usize| i % 4 == 1;
    // From 0001-01-01 to 9999-12-31: the days Python's `date` holds too.
    let days = [0, -1, 20_514, -719_162, 2_932_896, 1];
    let units: [i128; 6] = [
        0,
        1,
        -1,
        999_999_999_999_999_999,
        -999_999_999_999_999_999,
        1_234,
    ];
    let blobs: [&[u8]; 4] = [b"", b"\x00\xff", b"bytes", &[0xde, 0xad, 0xbe, 0xef]];
    let f32s = [0.0_f32, -0.0, 1.5, f32::NAN, f32::INFINITY, 1e-45];
    let words = ["", "a", "héllo", "日本語", "emoji 🎉"];
    let scores: Vec<Option<Vec<Option<f32>>>> = (0..rows)
        .map(|i| {
            Some(
                (0..i % 4)
                    .map(|j| Some(f32s[(i + j) % f32s.len()]))
                    .collect(),
            )
        })
        .collect();
    let counts: Vec<Option<Vec<Option<i64>>>> = (0..rows)
        .map(|i| {
            Some(
                (0..i % 5)
                    .map(|j| (j % 3 != 1).then_some((i * j) as i64 - 7))
                    .collect(),
            )
        })
        .collect();
    let nscores: Vec<Option<Vec<Option<f64>>>> = (0..rows)
        .map(|i| (!null(i)).then(|| (0..i % 3).map(|j| Some(j as f64 / 3.0)).collect()))
        .collect();
    let tags: Vec<Option<Vec<&str>>> = (0..rows)
        .map(|i| Some((0..i % 3).map(|j| words[(i + j) % words.len()]).collect()))
        .collect();
    let ntags: Vec<Option<Vec<&str>>> = (0..rows)
        .map(|i| {
            (!null(i)).then(|| {
                (0..i % 2 + 1)
                    .map(|j| words[(i * j) % words.len()])
                    .collect()
            })
        })
        .collect();
    let embedding: Vec<Option<Vec<f32>>> = (0..rows)
        .map(|i| Some((0..4).map(|j| f32s[(i + j) % f32s.len()]).collect()))
        .collect();
    let nembedding: Vec<Option<Vec<f64>>> = (0..rows)
        .map(|i| (!null(i)).then(|| (0..3).map(|j| (i * 3 + j) as f64 * 0.25).collect()))
        .collect();
    batch(vec![
        (
            "day",
            array(Date32Array::from_iter_values(
                (0..rows).map(|i| days[i % days.len()]),
            )),
        ),
        (
            "amount",
            money((0..rows).map(|i| Some(units[i % units.len()])).collect()),
        ),
        (
            "blob",
            array(BinaryArray::from_iter_values(
                (0..rows).map(|i| blobs[i % blobs.len()]),
            )),
        ),
        (
            "scores",
            list_of::<Float32Type>(&scores, false, DataType::Float32),
        ),
        ("tags", strings_list(&tags)),
        (
            "counts",
            list_of::<Int64Type>(&counts, true, DataType::Int64),
        ),
        (
            "embedding",
            embeddings::<Float32Type>(&embedding, 4, DataType::Float32),
        ),
        (
            "nday",
            array(Date32Array::from_iter(
                (0..rows).map(|i| (!null(i)).then_some(days[i % days.len()])),
            )),
        ),
        (
            "namount",
            money(
                (0..rows)
                    .map(|i| (!null(i)).then_some(units[i % units.len()]))
                    .collect(),
            ),
        ),
        (
            "nblob",
            array(BinaryArray::from_iter(
                (0..rows).map(|i| (!null(i)).then_some(blobs[i % blobs.len()])),
            )),
        ),
        (
            "nscores",
            list_of::<Float64Type>(&nscores, false, DataType::Float64),
        ),
        ("ntags", strings_list(&ntags)),
        (
            "nembedding",
            embeddings::<Float64Type>(&nembedding, 3, DataType::Float64),
        ),
    ])
}

#[test]
fn every_new_type_round_trips_at_every_batch_size() {
    let transform = load(artifacts::RICH_TYPES);
    let input = rich_input(61);
    for size in [1, 7, 61] {
        for start in (0..61).step_by(size) {
            let slice = input.slice(start, size.min(61 - start));
            let output = transform.call(&slice).unwrap();
            assert_batches_same_bits(&slice, &output);
        }
    }
    assert_eq!(
        transform
            .info()
            .inputs
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>(),
        [
            "day: date",
            "amount: decimal(18,2)",
            "blob: binary",
            "scores: list<float32>",
            "tags: list<utf8>",
            "counts: list<nullable int64>",
            "embedding: fixed-size-list<float32, 4>",
            "nday: date (nullable)",
            "namount: decimal(18,2) (nullable)",
            "nblob: binary (nullable)",
            "nscores: list<float64> (nullable)",
            "ntags: list<utf8> (nullable)",
            "nembedding: fixed-size-list<float64, 3> (nullable)",
        ]
    );
}

#[test]
fn every_new_type_crosses_json_exactly() {
    let transform = load(artifacts::RICH_TYPES);
    let input = rich_input(40);
    let rows = skewless::codec::json::encode_rows(&input);
    assert_eq!(
        rows[2],
        r#"{"day":"2026-03-02","amount":"-0.01","blob":"Ynl0ZXM=","scores":[1.5,"NaN"],"tags":["héllo","日本語"],"counts":[-7,null],"embedding":[1.5,"NaN","Infinity",1e-45],"nday":"2026-03-02","namount":"-0.01","nblob":"Ynl0ZXM=","nscores":[0.0,0.3333333333333333],"ntags":[""],"nembedding":[1.5,1.75,2.0]}"#
    );
    let values: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    let answered = transform.call_json_rows(&values).unwrap();
    let expected = skewless::codec::json::encode_rows(&transform.call(&input).unwrap());
    for (answer, expected) in answered.iter().zip(&expected) {
        assert_eq!(
            *answer,
            serde_json::from_str::<serde_json::Value>(expected).unwrap()
        );
    }
    // Element errors name the row and the element.
    let mut bad = values[3].clone();
    bad["counts"] = serde_json::json!([1, 2.5]);
    let error = transform.call_json(&bad).unwrap_err().to_string();
    assert!(
        error.starts_with("column `counts`, row 0: element 1 of the list: 2.5 is not an integer"),
        "{error}"
    );
    let mut bad = values[3].clone();
    bad["embedding"] = serde_json::json!([1, 2, 3]);
    let error = transform.call_json(&bad).unwrap_err().to_string();
    assert_eq!(
        error,
        "column `embedding`, row 0: the list has 3 elements, but the transform takes exactly 4 \
         (fixed-size-list<float32, 4>)"
    );
    let mut bad = values[3].clone();
    bad["amount"] = serde_json::json!("12.345");
    let error = transform.call_json(&bad).unwrap_err().to_string();
    assert_eq!(
        error,
        "column `amount`, row 0: 12.345 has more than 2 digits after the point, so it is not a \
         decimal(18,2) without rounding"
    );
    let mut bad = values[3].clone();
    bad["tags"] = serde_json::json!(["a", null]);
    let error = transform.call_json(&bad).unwrap_err().to_string();
    assert_eq!(
        error,
        "column `tags`, row 0: element 1 of the list is null, but the transform declares its \
         elements non-nullable (list<utf8>)"
    );
}

/// What tools write converts when exact: a decimal of another scale, a
/// large list, a plain list holding embeddings, a date64 of whole days.
#[test]
fn exact_conversions_are_made_and_lossy_ones_refused_by_row() {
    let transform = load(artifacts::RICH_TYPES);
    let input = rich_input(12);
    let schema = input.schema();
    let columns: Vec<(&str, ArrayRef)> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .zip(input.columns().iter().cloned())
        .collect();
    let replace = |name: &str, with: ArrayRef| {
        let replaced: Vec<(&str, ArrayRef)> = columns
            .iter()
            .map(|(n, c)| (*n, if *n == name { with.clone() } else { c.clone() }))
            .collect();
        batch(replaced)
    };
    let expected = transform.call(&input).unwrap();
    // decimal(10,1) -> decimal(18,2), and int64 -> decimal(18,2).
    let coarse: ArrayRef = array(
        Decimal128Array::from(
            (0..12)
                .map(|i| Some(i as i128 * 10 - 50))
                .collect::<Vec<_>>(),
        )
        .with_precision_and_scale(10, 1)
        .unwrap(),
    );
    let out = transform.call(&replace("amount", coarse)).unwrap();
    let amounts = out
        .column_by_name("amount")
        .unwrap()
        .as_primitive::<arrow::datatypes::Decimal128Type>();
    assert_eq!(amounts.value(0), -500);
    assert_eq!(amounts.value(11), 600);
    let ints: ArrayRef = array(Int64Array::from_iter_values(0..12));
    let out = transform.call(&replace("amount", ints)).unwrap();
    assert_eq!(
        out.column_by_name("amount")
            .unwrap()
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .value(3),
        300
    );
    // A third decimal digit would be lost: refused with its row.
    let fine: ArrayRef = array(
        Decimal128Array::from(
            (0..12)
                .map(|i| Some(if i == 7 { 1_234 } else { 1_230 }))
                .collect::<Vec<_>>(),
        )
        .with_precision_and_scale(18, 3)
        .unwrap(),
    );
    let error = transform.call(&replace("amount", fine)).unwrap_err();
    assert_eq!(error.row(), Some(7));
    assert_eq!(
        error.to_string(),
        "column `amount`, row 7: 1.234 has more than 2 digits after the point, so it is not a \
         decimal(18,2) without rounding; round it where the data is produced"
    );
    // A large list (polars writes them) is a list.
    let large: ArrayRef = arrow::compute::cast(
        input.column_by_name("scores").unwrap(),
        &DataType::LargeList(item(DataType::Float32, false)),
    )
    .unwrap();
    let out = transform.call(&replace("scores", large)).unwrap();
    assert_eq!(
        out.column_by_name("scores").unwrap().to_data(),
        expected.column_by_name("scores").unwrap().to_data()
    );
    // Embeddings written as plain lists (pandas, pyarrow) of the right length.
    let plain: ArrayRef = {
        let fixed = input
            .column_by_name("embedding")
            .unwrap()
            .as_fixed_size_list();
        let offsets: Vec<i32> = (0..=12).map(|i| i * 4).collect();
        array(
            ListArray::try_new(
                item(DataType::Float32, true),
                OffsetBuffer::new(offsets.into()),
                fixed.values().clone(),
                None,
            )
            .unwrap(),
        )
    };
    let out = transform.call(&replace("embedding", plain)).unwrap();
    assert_eq!(
        out.column_by_name("embedding").unwrap().to_data(),
        expected.column_by_name("embedding").unwrap().to_data()
    );
    let short: ArrayRef = {
        let offsets: Vec<i32> = (0..=12).map(|i| if i == 12 { 47 } else { i * 4 }).collect();
        array(
            ListArray::try_new(
                item(DataType::Float32, true),
                OffsetBuffer::new(offsets.into()),
                Arc::new(Float32Array::from(vec![0.0_f32; 47])),
                None,
            )
            .unwrap(),
        )
    };
    let error = transform.call(&replace("embedding", short)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "column `embedding`, row 11: the list has 3 elements, but the transform takes exactly 4 \
         (fixed-size-list<float32, 4>)"
    );
    // date64 of whole days is a date; one with a time is not.
    let days: ArrayRef = array(Date64Array::from_iter_values(
        (0..12).map(|i| i * 86_400_000),
    ));
    let out = transform.call(&replace("day", days)).unwrap();
    assert_eq!(
        out.column_by_name("day")
            .unwrap()
            .as_primitive::<arrow::datatypes::Date32Type>()
            .value(5),
        5
    );
    let noon: ArrayRef = array(Date64Array::from_iter_values(
        (0..12).map(|i| i * 86_400_000 + 43_200_000),
    ));
    let error = transform.call(&replace("day", noon)).unwrap_err();
    assert_eq!(error.row(), Some(0));
    // A float64 column for a float32 list is refused, naming what to do.
    let doubles: ArrayRef = arrow::compute::cast(
        input.column_by_name("scores").unwrap(),
        &DataType::List(item(DataType::Float64, false)),
    )
    .unwrap();
    let error = transform
        .call(&replace("scores", doubles))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("column `scores` has type a list of Float64, but transform `rich-types` takes list<float32> (a list of float32)"),
        "{error}"
    );
}

/// Parquet, Arrow IPC and JSON Lines hold every new type exactly; CSV holds
/// dates and decimals and refuses bytes and lists up front.
#[test]
fn files_hold_the_new_types_or_refuse_them_up_front() {
    let transform = load(artifacts::RICH_TYPES);
    let dir = TempDir::new().unwrap();
    let input = rich_input(50);
    let expected = transform.call(&input).unwrap();
    for format in ["parquet", "arrow", "jsonl"] {
        let file = dir.path().join(format!("in.{format}"));
        let mut writer = skewless::io::Writer::create(&file, &input.schema(), None).unwrap();
        writer.write(&input).unwrap();
        writer.finish().unwrap();
        let output = dir.path().join(format!("out.{format}"));
        Backfill::new(&transform, &file, &output).run().unwrap();
        let back = skewless::io::Reader::open(
            &output,
            Some(
                &transform
                    .info()
                    .outputs
                    .iter()
                    .map(|f| skewless::io::ColumnRequest {
                        name: f.name.clone(),
                        data_type: Some(f.data_type),
                    })
                    .collect::<Vec<_>>(),
            ),
            1 << 20,
            Default::default(),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>();
        let back = arrow::compute::concat_batches(&back[0].schema(), &back).unwrap();
        let back = transform.call(&back).unwrap();
        assert_batches_same_bits(&expected, &back);
    }
    // CSV: the lists and bytes cannot be written, nor read.
    let output = dir.path().join("out.csv");
    let error = Backfill::new(&transform, dir.path().join("in.parquet"), &output)
        .run()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("column `blob` is binary, which has no CSV form"),
        "{error}"
    );
    assert!(!output.exists());
}
