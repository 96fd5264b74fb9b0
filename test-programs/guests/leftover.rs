//! Looks for what an earlier call left in its memory: each row reports the
//! text a previous row wrote into a static buffer (and into a heap block
//! of the same size), then writes its own there. On a clean instance per
//! call, a call never finds another call's data.

use std::cell::UnsafeCell;

use skewless_guest::{Features, transform};

const SIZE: usize = 64;
/// The heap probe's block: a size class the SDK's own per-call blocks (the
/// input's canonical layout, its copies, the output) do not use for a
/// one-row call, so what it finds was left by an earlier row or call.
const HEAP: usize = 200;

struct Buffer(UnsafeCell<[u8; SIZE]>);

// SAFETY: a component runs on one thread.
unsafe impl Sync for Buffer {}

static LEFT: Buffer = Buffer(UnsafeCell::new([0; SIZE]));

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// What the instance held before this row, then `secret` is stored.
#[transform(name = "leftover", version = "0.1.0")]
#[expect(
    clippy::uninit_vec,
    reason = "a hostile guest reading what the allocator hands back is the point"
)]
fn leftover(secret: &str) -> Found {
    // SAFETY: one thread; the buffer is only touched here.
    let left = unsafe { &mut *LEFT.0.get() };
    let in_static = text(left);
    // A heap block of the size the previous row freed: whatever it held.
    let mut block: Vec<u8> = Vec::with_capacity(HEAP);
    // SAFETY: u8 has no invalid values; reading what the allocator gives
    // back is exactly what this hostile guest means to do.
    unsafe { block.set_len(HEAP) };
    // The first word of a freed block holds the allocator's free-list link.
    let in_heap = text(&block[8..]);
    let bytes = secret.as_bytes();
    let len = bytes.len().min(SIZE - 9);
    left.fill(0);
    left[..len].copy_from_slice(&bytes[..len]);
    block.fill(0);
    block[8..8 + len].copy_from_slice(&bytes[..len]);
    drop(block);
    Found { in_static, in_heap }
}

#[derive(Features)]
struct Found {
    in_static: String,
    in_heap: String,
}
