use skewless::{Config, Runtime};
use skewless_benches::{Example, call_latencies, percentiles};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let n: usize = std::env::args()
        .nth(2)
        .map_or(20000, |s| s.parse().unwrap());
    let reuse = std::env::var_os("REUSE").is_some();
    let t = Runtime::new(Config::default().reuse_instances(reuse))
        .unwrap()
        .load(&path)
        .unwrap();
    let row = Example::Fraud.batch(1);
    let mut l = call_latencies(&t, &row, n);
    let (a, b, c) = percentiles(&mut l);
    println!("reuse={reuse} p50 {a:?} p99 {b:?} p999 {c:?}");
}
