//! One single-row HTTP request at a time to `skewless serve` (in process,
//! loopback), per example. The report measures throughput and tail
//! latencies under concurrency.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use skewless_benches::{Example, http_load, start_server};

fn serving(c: &mut Criterion) {
    let (addr, stop, thread) = start_server(Example::ALL.map(Example::transform).to_vec(), 2);
    let mut group = c.benchmark_group("http_single_row");
    for example in Example::ALL {
        let body = example.request_body();
        let path = format!("/v1/transforms/{}", example.name());
        group.bench_with_input(
            BenchmarkId::from_parameter(example.name()),
            &body,
            |b, body| {
                b.iter_custom(|iterations| {
                    // One keep-alive connection, `iterations` requests.
                    let mut total = Duration::ZERO;
                    let mut done = 0;
                    while done < iterations {
                        let run = http_load(addr, &path, body, 1, Duration::from_millis(20));
                        for latency in run.latencies.iter().take((iterations - done) as usize) {
                            total += *latency;
                            done += 1;
                        }
                    }
                    total
                })
            },
        );
    }
    group.finish();
    let _ = stop.send(());
    thread.join().expect("server thread");
}

criterion_group!(benches, serving);
criterion_main!(benches);
