//! A plain WASI command: a component of another world than skewless's.

fn main() {
    println!("hello from a command");
}
