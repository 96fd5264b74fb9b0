//! Loading a component: compiling it, and loading it precompiled from the
//! cache (the warm start of `skewless serve` and `skewless run`).

use criterion::{Criterion, criterion_group, criterion_main};
use skewless::{Config, Runtime};
use skewless_benches::Example;

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    let cache = tempfile_dir();
    for example in Example::ALL {
        let component = example.component();
        group.bench_function(format!("compile/{}", example.name()), |b| {
            b.iter(|| {
                let runtime = Runtime::new(Config::default()).expect("runtime");
                runtime.load(component).expect("load")
            })
        });
        // Fill the cache once, then measure warm starts from it.
        let cached = Config::default().cache_dir(Some(cache.clone()));
        Runtime::new(cached.clone())
            .expect("runtime")
            .load(component)
            .expect("load");
        group.bench_function(format!("cached/{}", example.name()), |b| {
            b.iter(|| {
                let runtime = Runtime::new(cached.clone()).expect("runtime");
                runtime.load(component).expect("load")
            })
        });
    }
    group.finish();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("skewless-bench-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cache dir");
    dir
}

criterion_group!(benches, load);
criterion_main!(benches);
