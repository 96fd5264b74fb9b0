// Single-row clean calls of a component: p50/p99 over N calls after warm-up.
use skewless::{Config, Runtime};
use skewless_benches::{Example, call_latencies, percentiles};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let n: usize = std::env::var("N")
        .ok()
        .map(|v| v.parse().unwrap())
        .unwrap_or(2000);
    let runtime = Runtime::new(Config::default()).unwrap();
    let t = runtime.load(&path).unwrap();
    let row = Example::Fraud.batch(1);
    let mut samples = call_latencies(&t, &row, n);
    let (p50, p99, _) = percentiles(&mut samples);
    println!(
        "p50 {:.1} us p99 {:.1} us",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
}
