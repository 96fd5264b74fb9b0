use skewless_guest::Features;

#[derive(Features)]
struct Out {
    label: &'static str,
}

fn main() {}
