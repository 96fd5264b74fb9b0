//! The memory allocator a transform component runs on.
//!
//! A call into a transform allocates a dozen small blocks and frees them all
//! when it returns: the host's copies of the input columns (one block per
//! list, through `cabi_realloc`), the output columns, and whatever the row
//! function allocates. On wasi-libc's dlmalloc, with the host's per-row CPU
//! metering on every branch, those allocations and frees cost about 7,000 of
//! the 26,000 instructions of a one-row `fraud-features` call.
//!
//! [`SizeClasses`] keeps one free list per power-of-two size from 16 bytes
//! to 64 KiB, so a small allocation or free is a pointer swap. Blocks are
//! carved from 64 KiB chunks and never returned (a wasm memory cannot
//! shrink anyway); larger blocks, and blocks aligned to more than 16 bytes,
//! go to the system allocator.
//!
//! The first chunks come from [`FIRST_CHUNKS`], a zeroed static that is part
//! of the component's initial memory, and only later ones from the system
//! allocator, which grows memory. The host runs every call on a new
//! instance made from the component's initial state; a call that grew its
//! memory costs that instance two changes of page protection (to grow, and
//! to shrink its slot back when it ends), each a system call that flushes
//! the TLBs of every CPU the process runs on. A single-row call fits in the
//! first chunks, so it grows nothing.
//!
//! It is installed as the global allocator of wasm components built with
//! the SDK's default `allocator` feature. A crate that brings its own
//! `#[global_allocator]` turns that feature off.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// The smallest block: 16 bytes, enough for any alignment this allocator serves.
const MIN_SHIFT: u32 = 4;
/// The largest block kept on a free list: 64 KiB.
const MAX_SHIFT: u32 = 16;
/// Number of size classes (16 B, 32 B, ..., 64 KiB).
const CLASSES: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;
/// Alignment of every block (blocks are multiples of 16 bytes from 16-aligned chunks).
const ALIGN: usize = 1 << MIN_SHIFT;
/// Size of a chunk: one largest block.
const CHUNK: usize = 1 << MAX_SHIFT;
/// Chunks in [`FIRST_CHUNKS`].
const FIRST_CHUNK_COUNT: usize = 8;

/// The first chunks: zeroed memory inside the component's initial memory
/// (`.bss`, so no bytes in the file), handed out before any chunk from the
/// system allocator. See the module docs for why.
#[repr(C, align(16))]
struct FirstChunks(UnsafeCell<[u8; FIRST_CHUNK_COUNT * CHUNK]>);

// SAFETY: only reached through `SizeClasses`, whose calls are never
// concurrent (see its `Sync` impl).
unsafe impl Sync for FirstChunks {}

static FIRST_CHUNKS: FirstChunks = FirstChunks(UnsafeCell::new([0; FIRST_CHUNK_COUNT * CHUNK]));

/// Power-of-two free lists over the system allocator. Not thread-safe: it
/// is only installed in wasm components, which run on one thread.
pub(crate) struct SizeClasses {
    state: UnsafeCell<State>,
}

struct State {
    /// Head of each class's free list; a free block holds the next one's
    /// address in its first word.
    free: [*mut u8; CLASSES],
    /// Unused part of the current chunk: `next..end`.
    next: *mut u8,
    end: *mut u8,
    /// Chunks of [`FIRST_CHUNKS`] handed out so far.
    first_chunks_used: usize,
}

/// The size class of `layout`, or `None` when the system allocator serves it.
#[inline(always)]
fn class(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN || layout.size() > 1 << MAX_SHIFT {
        return None;
    }
    let size = layout.size().max(ALIGN);
    Some((usize::BITS - (size - 1).leading_zeros() - MIN_SHIFT) as usize)
}

/// The block size of class `class`.
#[inline(always)]
const fn block_size(class: usize) -> usize {
    ALIGN << class
}

impl SizeClasses {
    /// The allocator, with nothing handed out yet.
    ///
    /// # Safety
    ///
    /// No other `SizeClasses` may be in use while this one is: every one
    /// hands out the chunks of the one [`FIRST_CHUNKS`] static, so two
    /// would hand out the same memory twice.
    pub(crate) const unsafe fn new() -> Self {
        SizeClasses {
            state: UnsafeCell::new(State {
                free: [ptr::null_mut(); CLASSES],
                next: ptr::null_mut(),
                end: ptr::null_mut(),
                first_chunks_used: 0,
            }),
        }
    }

    /// A block of class `class`, or null when the system allocator has no
    /// memory left.
    ///
    /// # Safety
    ///
    /// No other call into this allocator is running.
    #[inline(always)]
    unsafe fn take(&self, class: usize) -> *mut u8 {
        // SAFETY: calls are not concurrent (the caller's contract), so this
        // is the only reference to the state.
        let state = unsafe { &mut *self.state.get() };
        let head = state.free[class];
        if !head.is_null() {
            // SAFETY: `head` is a free block of this class; its first word
            // is the next free block's address.
            state.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = block_size(class);
        if (state.end as usize) - (state.next as usize) < size {
            let chunk = if state.first_chunks_used < FIRST_CHUNK_COUNT {
                let offset = state.first_chunks_used * CHUNK;
                state.first_chunks_used += 1;
                // SAFETY: the offset is within the static; each of its
                // chunks is handed out once.
                unsafe { FIRST_CHUNKS.0.get().cast::<u8>().add(offset) }
            } else {
                // SAFETY: CHUNK is nonzero and a power of two multiple of ALIGN.
                unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, ALIGN)) }
            };
            if chunk.is_null() {
                return chunk;
            }
            // SAFETY: the rest of the old chunk is unused memory we own.
            unsafe { state.keep_rest() };
            state.next = chunk;
            // SAFETY: the chunk is CHUNK bytes long.
            state.end = unsafe { chunk.add(CHUNK) };
        }
        let block = state.next;
        // SAFETY: at least `size` bytes are left in the chunk.
        state.next = unsafe { block.add(size) };
        block
    }

    /// Returns a block of class `class` to its free list.
    ///
    /// # Safety
    ///
    /// `block` came from `take(class)` and is no longer used; no other call
    /// into this allocator is running.
    #[inline(always)]
    unsafe fn give(&self, block: *mut u8, class: usize) {
        // SAFETY: as for `take`; the block is at least 16 bytes and
        // 16-aligned, so its first word can hold the list link.
        unsafe {
            let state = &mut *self.state.get();
            block.cast::<*mut u8>().write(state.free[class]);
            state.free[class] = block;
        }
    }
}

impl State {
    /// Puts what is left of the current chunk on the free lists, largest
    /// blocks first, so a new chunk wastes nothing.
    ///
    /// # Safety
    ///
    /// `next..end` is unused memory of a chunk, 16-aligned.
    unsafe fn keep_rest(&mut self) {
        while (self.end as usize) - (self.next as usize) >= ALIGN {
            let left = (self.end as usize) - (self.next as usize);
            let class = (usize::BITS - 1 - left.leading_zeros() - MIN_SHIFT) as usize;
            let block = self.next;
            // SAFETY: `block_size(class) <= left`, and the block is unused.
            unsafe {
                self.next = block.add(block_size(class));
                block.cast::<*mut u8>().write(self.free[class]);
            }
            self.free[class] = block;
        }
    }
}

// SAFETY: blocks of a class are at least `layout.size()` bytes and aligned to
// 16 >= `layout.align()`; a block is on a free list or handed out, never
// both. The state is not synchronised: see the `Sync` impl below.
unsafe impl GlobalAlloc for SizeClasses {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            // SAFETY: no concurrent calls (see `Sync`).
            Some(class) => unsafe { self.take(class) },
            // SAFETY: forwarded from the caller.
            None => unsafe { System.alloc(layout) },
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            Some(class) => {
                // SAFETY: no concurrent calls; a non-null block has at least
                // `layout.size()` bytes.
                unsafe {
                    let block = self.take(class);
                    if !block.is_null() {
                        block.write_bytes(0, layout.size());
                    }
                    block
                }
            }
            // SAFETY: forwarded from the caller.
            None => unsafe { System.alloc_zeroed(layout) },
        }
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        match class(layout) {
            // SAFETY: `block` was allocated with `layout`, so from this class.
            Some(class) => unsafe { self.give(block, class) },
            // SAFETY: and from the system allocator otherwise.
            None => unsafe { System.dealloc(block, layout) },
        }
    }

    #[inline]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to the
        // alignment, does not overflow.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class(layout), class(new_layout)) {
            (Some(old), Some(new)) if old == new => block,
            // SAFETY: forwarded from the caller.
            (None, None) => unsafe { System.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: a fresh block of the new layout, the old contents
                // copied up to the smaller size, the old block freed.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

// SAFETY: a wasm component without the `atomics` feature runs on a single
// thread, so calls into the allocator never overlap.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl Sync for SizeClasses {}

#[cfg(all(
    feature = "allocator",
    target_arch = "wasm32",
    not(target_feature = "atomics")
))]
#[global_allocator]
// SAFETY: the component's one allocator; no other `SizeClasses` is made
// outside tests.
static ALLOCATOR: SizeClasses = unsafe { SizeClasses::new() };

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh allocator, as a component's first call sees it. Every
    /// `SizeClasses` hands out the one [`FIRST_CHUNKS`] static, so natively
    /// (where tests run on several threads) one test at a time may hold an
    /// allocator, and the static is zeroed again for each, as a new
    /// instance's memory is.
    fn heap() -> (std::sync::MutexGuard<'static, ()>, SizeClasses) {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: no allocator over the static is alive (the lock), so
        // nothing else reads or writes it, and this is the only one made
        // until the guard is dropped with it.
        unsafe {
            FIRST_CHUNKS.0.get().write_bytes(0, 1);
            (guard, SizeClasses::new())
        }
    }

    #[test]
    fn classes_are_the_next_power_of_two_from_16_bytes() {
        let class_of = |size, align| class(Layout::from_size_align(size, align).unwrap());
        assert_eq!(class_of(0, 1), Some(0));
        assert_eq!(class_of(1, 1), Some(0));
        assert_eq!(class_of(16, 8), Some(0));
        assert_eq!(class_of(17, 1), Some(1));
        assert_eq!(class_of(32, 16), Some(1));
        assert_eq!(class_of(1000, 8), Some(6));
        assert_eq!(block_size(6), 1024);
        assert_eq!(class_of(1 << 16, 8), Some(CLASSES - 1));
        assert_eq!(class_of((1 << 16) + 1, 8), None);
        assert_eq!(class_of(8, 32), None);
    }

    /// Allocates blocks of many sizes, fills each with its own byte, frees
    /// and reallocates some, and checks no block ever overlaps another.
    #[test]
    fn blocks_never_overlap_and_keep_their_contents() {
        let (_one_at_a_time, heap) = heap();
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        for step in 0..20_000 {
            let tag = (step % 251) as u8;
            match random(4) {
                0 | 1 => {
                    let size = [1, 8, 15, 16, 17, 100, 4096, 70_000][random(8)] + random(40);
                    let layout = Layout::from_size_align(size, [1, 4, 8, 16][random(4)]).unwrap();
                    // SAFETY: one thread; the block is used as `layout` says.
                    let block = unsafe { heap.alloc(layout) };
                    assert!(!block.is_null());
                    assert_eq!(block as usize % layout.align(), 0);
                    // SAFETY: one thread; blocks are used within their layouts and freed once.
                    unsafe { block.write_bytes(tag, size) };
                    live.push((block, layout, tag));
                }
                2 if !live.is_empty() => {
                    let (block, layout, tag) = live.swap_remove(random(live.len()));
                    check(block, layout.size(), tag);
                    // SAFETY: one thread; blocks are used within their layouts and freed once.
                    unsafe { heap.dealloc(block, layout) };
                }
                _ if !live.is_empty() => {
                    let index = random(live.len());
                    let (block, layout, old) = live[index];
                    let new_size = random(3 * layout.size() + 64) + 1;
                    // SAFETY: one thread; blocks are used within their layouts and freed once.
                    let moved = unsafe { heap.realloc(block, layout, new_size) };
                    assert!(!moved.is_null());
                    check(moved, layout.size().min(new_size), old);
                    // SAFETY: one thread; blocks are used within their layouts and freed once.
                    unsafe { moved.write_bytes(tag, new_size) };
                    let layout = Layout::from_size_align(new_size, layout.align()).unwrap();
                    live[index] = (moved, layout, tag);
                }
                _ => {}
            }
        }
        let mut spans: Vec<(usize, usize)> = live
            .iter()
            .map(|&(block, layout, tag)| {
                check(block, layout.size(), tag);
                (block as usize, block as usize + layout.size())
            })
            .collect();
        spans.sort_unstable();
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "blocks overlap: {pair:?}");
        }
        for (block, layout, _) in live {
            // SAFETY: one thread; blocks are used within their layouts and freed once.
            unsafe { heap.dealloc(block, layout) };
        }
    }

    fn check(block: *mut u8, len: usize, tag: u8) {
        // SAFETY: `block` is live with at least `len` initialised bytes.
        let bytes = unsafe { std::slice::from_raw_parts(block, len) };
        assert!(bytes.iter().all(|&b| b == tag), "a block lost its contents");
    }

    #[test]
    fn a_freed_block_is_reused_and_zeroed_on_request() {
        let (_one_at_a_time, heap) = heap();
        let layout = Layout::from_size_align(24, 8).unwrap();
        // SAFETY: one thread; blocks are used within their layouts and freed once.
        unsafe {
            let first = heap.alloc(layout);
            first.write_bytes(0xAB, 24);
            heap.dealloc(first, layout);
            let again = heap.alloc_zeroed(layout);
            assert_eq!(again, first);
            check(again, 24, 0);
            heap.dealloc(again, layout);
        }
    }

    #[test]
    fn the_rest_of_a_chunk_goes_to_the_free_lists() {
        let (_one_at_a_time, heap) = heap();
        let half = Layout::from_size_align(CHUNK / 2, 8).unwrap();
        let quarter = Layout::from_size_align(CHUNK / 4, 8).unwrap();
        // SAFETY: one thread; blocks are used within their layouts and freed once.
        unsafe {
            let a = heap.alloc(half);
            let b = heap.alloc(quarter);
            assert_eq!(b as usize, a as usize + CHUNK / 2);
            // The next half does not fit the chunk's last quarter, which
            // becomes a free block for the next quarter-sized request.
            let c = heap.alloc(half);
            let d = heap.alloc(quarter);
            assert_eq!(d as usize, a as usize + CHUNK / 4 * 3);
            for (block, layout) in [(a, half), (b, quarter), (c, half), (d, quarter)] {
                heap.dealloc(block, layout);
            }
        }
    }
}
