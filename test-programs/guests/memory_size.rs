//! Reports the size its memory had when each row started, then grows it by
//! `pages` (64 KiB each). On a clean instance per call, a call always
//! starts at the component's initial size, whatever an earlier call grew.

use skewless_guest::{Features, transform};

/// The memory's size in pages before this row, then grown by `pages`.
#[transform(name = "memory-size", version = "0.1.0")]
fn memory_size(pages: i64) -> Size {
    let before = pages_now() as i64;
    if pages > 0 && !grow(pages as usize) {
        panic!("memory.grow by {pages} pages failed");
    }
    Size { before }
}

#[cfg(target_arch = "wasm32")]
fn pages_now() -> usize {
    core::arch::wasm32::memory_size(0)
}

#[cfg(target_arch = "wasm32")]
fn grow(pages: usize) -> bool {
    core::arch::wasm32::memory_grow(0, pages) != usize::MAX
}

// The guests build for the host too (for lints); only wasm has a memory.
#[cfg(not(target_arch = "wasm32"))]
fn pages_now() -> usize {
    0
}

#[cfg(not(target_arch = "wasm32"))]
fn grow(_pages: usize) -> bool {
    true
}

#[derive(Features)]
struct Size {
    before: i64,
}
