//! Allocates without bound when `megabytes` is negative, else allocates
//! and frees that many MiB.

use skewless_guest::{Features, transform};

/// Grows memory.
#[transform(name = "memory-hog", version = "0.1.0")]
fn memory_hog(megabytes: i64) -> Out {
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut total = 0_i64;
    while megabytes < 0 || total < megabytes {
        held.push(std::hint::black_box(vec![1_u8; 1 << 20]));
        total += 1;
    }
    Out {
        held: held.len() as i64,
    }
}

#[derive(Features)]
struct Out {
    held: i64,
}
