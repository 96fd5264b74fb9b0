//! Batch throughput (rows/s) of each example at 1, 1024 and 65536 rows per
//! batch: the component through `Transform::call`, beside the same Rust
//! function called natively over the same Arrow batch.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skewless_benches::Example;

fn throughput(c: &mut Criterion) {
    for example in Example::ALL {
        let transform = example.transform();
        let mut group = c.benchmark_group(format!("throughput/{}", example.name()));
        for rows in [1, 1024, 65536] {
            let batch = example.batch(rows);
            group.throughput(Throughput::Elements(rows as u64));
            group.bench_with_input(BenchmarkId::new("wasm", rows), &batch, |b, batch| {
                b.iter(|| transform.call(batch).expect("call"))
            });
            group.bench_with_input(BenchmarkId::new("native", rows), &batch, |b, batch| {
                b.iter(|| example.native(batch))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
