use skewless::{Config, Runtime};
use skewless_benches::{Example, call_latencies};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let reuse = std::env::var_os("REUSE").is_some();
    let t = Runtime::new(Config::default().reuse_instances(reuse))
        .unwrap()
        .load(&path)
        .unwrap();
    let row = Example::Fraud.batch(1);
    let l = call_latencies(&t, &row, 40000);
    let mut s: Vec<_> = l.iter().map(|d| d.as_nanos() as u64).collect();
    s.sort();
    let p50 = s[s.len() / 2];
    let thr = p50 * 2;
    let slow: Vec<usize> = l
        .iter()
        .enumerate()
        .filter(|(_, d)| d.as_nanos() as u64 > thr)
        .map(|(i, _)| i)
        .collect();
    println!(
        "p50 {p50} thr {thr} slow {} ({:.2}%)",
        slow.len(),
        100.0 * slow.len() as f64 / l.len() as f64
    );
    let mut gaps = std::collections::BTreeMap::new();
    for w in slow.windows(2) {
        *gaps.entry(w[1] - w[0]).or_insert(0) += 1;
    }
    let mut g: Vec<_> = gaps.into_iter().collect();
    g.sort_by_key(|x| std::cmp::Reverse(x.1));
    println!("top gaps {:?}", &g[..g.len().min(12)]);
    // histogram of slow latencies in us
    let mut h = std::collections::BTreeMap::new();
    for &i in &slow {
        *h.entry(l[i].as_micros() / 5 * 5).or_insert(0) += 1;
    }
    println!("hist(us) {:?}", h);
}
