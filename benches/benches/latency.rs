//! Warm single-row calls through the public `Transform` API (Arrow and
//! JSON), beside the same function called natively on a one-row batch.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use skewless_benches::Example;

fn latency(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_row");
    for example in Example::ALL {
        let transform = example.transform();
        let row = example.batch(1);
        let json: serde_json::Value =
            serde_json::from_str(&skewless::codec::json::encode_rows(&row)[0]).expect("json row");
        group.bench_with_input(BenchmarkId::new("wasm", example.name()), &row, |b, row| {
            b.iter(|| transform.call(row).expect("call"))
        });
        group.bench_with_input(
            BenchmarkId::new("wasm_json", example.name()),
            &json,
            |b, json| b.iter(|| transform.call_json(json).expect("call")),
        );
        group.bench_with_input(
            BenchmarkId::new("native", example.name()),
            &row,
            |b, row| b.iter(|| example.native(row)),
        );
    }
    group.finish();
}

criterion_group!(benches, latency);
criterion_main!(benches);
