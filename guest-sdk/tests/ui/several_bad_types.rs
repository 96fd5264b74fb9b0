use skewless_guest::{Features, transform};

// Every bad argument and field is reported in one compile, and a struct
// whose derive failed adds no "add the derive" errors where it is returned.
#[transform(name = "t", version = "1")]
fn t(count: u64, letter: char, amount: f64) -> Out {
    Out {
        x: amount,
        label: "",
        n: count as usize,
        c: letter,
    }
}

#[derive(Features)]
struct Out {
    x: f64,
    label: &'static str,
    n: usize,
    c: char,
}

fn main() {}
