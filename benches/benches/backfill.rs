//! End-to-end backfill of a generated Parquet file (fraud-features), with
//! one and two worker threads. The report runs the 10-million-row version
//! and measures peak memory.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use skewless::backfill::Backfill;
use skewless_benches::{Example, fraud_parquet};

fn backfill(c: &mut Criterion) {
    let rows = 1_000_000;
    let input = fraud_parquet(rows);
    let output =
        std::env::temp_dir().join(format!("skewless-bench-{}.parquet", std::process::id()));
    let transform = Example::Fraud.transform();
    let mut group = c.benchmark_group("backfill_parquet_1m");
    group.sample_size(10);
    group.throughput(Throughput::Elements(rows as u64));
    for threads in [1, 2] {
        group.bench_with_input(
            BenchmarkId::new("threads", threads),
            &threads,
            |b, &threads| {
                b.iter(|| {
                    Backfill::new(&transform, &input, &output)
                        .threads(threads)
                        .run()
                        .expect("backfill")
                })
            },
        );
    }
    group.finish();
    let _ = std::fs::remove_file(output);
}

criterion_group!(benches, backfill);
criterion_main!(benches);
