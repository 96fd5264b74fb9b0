use skewless_guest::Features;

#[derive(Features)]
struct Out(f64, i64);

fn main() {}
