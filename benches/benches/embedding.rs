//! An embedding feature at 65,536-row batches: `order-features`, whose cost
//! is the cosine similarity of a 768-float32 embedding to a fixed vector
//! (with a date and DECIMAL(18,2) money beside it), through
//! `Transform::call`, beside the same Rust function called natively over
//! the same Arrow batch.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float32Array, Int64Array, RecordBatch,
    UInt32Array,
};
use arrow::datatypes::{Date32Type, Decimal128Type, Float32Type};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use order_features::{DIMS, Money, order_features};
use skewless::{Config, Runtime};
use skewless_guest::Date;

fn sample(transform: &skewless::Transform, rows: usize) -> RecordBatch {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/order-features/data/orders.jsonl");
    let sample = skewless_benches::read_sample(transform, &path);
    let indices = UInt32Array::from_iter_values((0..rows).map(|i| (i % sample.num_rows()) as u32));
    arrow::compute::take_record_batch(&sample, &indices).expect("take")
}

fn native(batch: &RecordBatch) -> RecordBatch {
    let date = |name| {
        batch
            .column_by_name(name)
            .expect("column")
            .as_primitive::<Date32Type>()
            .clone()
    };
    let money = |name| {
        batch
            .column_by_name(name)
            .expect("column")
            .as_primitive::<Decimal128Type>()
            .clone()
    };
    let (order_date, signup_date) = (date("order_date"), date("signup_date"));
    let (amount, discount) = (money("amount"), money("discount"));
    let embedding = batch
        .column_by_name("item_embedding")
        .expect("column")
        .as_fixed_size_list();
    let values = embedding.values().as_primitive::<Float32Type>().values();
    let rows = batch.num_rows();
    let mut net = Vec::with_capacity(rows);
    let mut cents = Vec::with_capacity(rows);
    let mut weekend = Vec::with_capacity(rows);
    let mut month_end = Vec::with_capacity(rows);
    let mut age = Vec::with_capacity(rows);
    let mut similarity = Vec::with_capacity(rows);
    for row in 0..rows {
        let vector: &[f32; DIMS] = values[row * DIMS..(row + 1) * DIMS]
            .try_into()
            .expect("768");
        let f = order_features(
            Date::from_days(order_date.value(row)),
            signup_date
                .is_valid(row)
                .then(|| Date::from_days(signup_date.value(row))),
            Money::from_units(amount.value(row)),
            discount
                .is_valid(row)
                .then(|| Money::from_units(discount.value(row))),
            vector,
        )
        .expect("a valid order");
        net.push(f.net_amount.units());
        cents.push(f.net_amount_cents);
        weekend.push(f.is_weekend);
        month_end.push(f.is_month_end);
        age.push(f.account_age_days);
        similarity.push(f.premium_similarity);
    }
    RecordBatch::try_from_iter([
        (
            "net_amount",
            Arc::new(
                Decimal128Array::from(net)
                    .with_precision_and_scale(18, 2)
                    .expect("decimal"),
            ) as ArrayRef,
        ),
        (
            "net_amount_cents",
            Arc::new(Int64Array::from(cents)) as ArrayRef,
        ),
        (
            "is_weekend",
            Arc::new(BooleanArray::from(weekend)) as ArrayRef,
        ),
        (
            "is_month_end",
            Arc::new(BooleanArray::from(month_end)) as ArrayRef,
        ),
        (
            "account_age_days",
            Arc::new(Int64Array::from(age)) as ArrayRef,
        ),
        (
            "premium_similarity",
            Arc::new(Float32Array::from(similarity)) as ArrayRef,
        ),
    ])
    .expect("batch")
}

fn embedding(c: &mut Criterion) {
    let runtime = Runtime::new(Config::default()).expect("runtime");
    let transform = runtime
        .load(skewless_test_artifacts::ORDER_FEATURES)
        .expect("order-features loads");
    let mut group = c.benchmark_group("embedding/order-features");
    for rows in [1024, 65536] {
        let batch = sample(&transform, rows);
        // The same bits both ways, or the comparison means nothing.
        let wasm = transform.call(&batch).expect("call");
        let natively = native(&batch);
        for (w, n) in wasm.columns().iter().zip(natively.columns()) {
            assert_eq!(w.to_data(), n.to_data(), "wasm and native differ");
        }
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(BenchmarkId::new("wasm", rows), &batch, |b, batch| {
            b.iter(|| transform.call(batch).expect("call"))
        });
        group.bench_with_input(BenchmarkId::new("native", rows), &batch, |b, batch| {
            b.iter(|| native(batch))
        });
    }
    group.finish();
}

criterion_group!(benches, embedding);
criterion_main!(benches);
