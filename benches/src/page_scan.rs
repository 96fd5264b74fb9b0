//! The kernel's scan for written pages, timed alone: the floor of any
//! clean slate that resets only the pages a call wrote.
//!
//! When an instance ends, wasmtime's pooling allocator asks Linux which
//! pages of its linear memory were written (the `PAGEMAP_SCAN` ioctl on
//! `/proc/self/pagemap`, with the categories wasmtime 48.0.11 asks for in
//! `vm/sys/unix/pagemap.rs`) and sets only those back. A reset in place of
//! the instance, instead of a new one, would still make that call, so its
//! time is a lower bound on the clean slate for as long as written pages
//! are found this way.
//!
//! The mapping is shaped like `fraud-features`' slot: 1,600 KiB accessible
//! (its initial memory) inside a larger inaccessible reservation, its
//! data mapped copy-on-write from a memory file after the 1 MiB stack, so
//! three mappings; two image pages read and three pages written, which is
//! what a temporarily instrumented wasmtime found present in the real slot
//! after one-row calls (BENCHMARKS.md, the clean-instance analysis).

use std::time::Duration;

/// Pages of the accessible memory (25 wasm pages of 64 KiB).
const PAGES: usize = 400;
/// Where the copy-on-write image starts (after the 1 MiB stack), and its
/// length, in pages.
const IMAGE_AT: usize = 256;
const IMAGE_PAGES: usize = 16;

/// The scan's time, `samples` times; `None` where the kernel has no
/// `PAGEMAP_SCAN` (before Linux 6.7) or this is not Linux.
pub fn written_page_scan(samples: usize) -> Option<Vec<Duration>> {
    imp::scan(samples)
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn scan(_: usize) -> Option<Vec<std::time::Duration>> {
        None
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{IMAGE_AT, IMAGE_PAGES, PAGES};
    use std::fs::File;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::time::{Duration, Instant};

    const WRITTEN: u64 = 1 << 1;
    const FILE: u64 = 1 << 2;
    const PRESENT: u64 = 1 << 3;
    const SWAPPED: u64 = 1 << 4;
    const PFNZERO: u64 = 1 << 5;

    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct PageRegion {
        start: u64,
        end: u64,
        categories: u64,
    }

    /// `struct pm_scan_arg` of `linux/fs.h`.
    #[repr(C)]
    #[derive(Default)]
    struct ScanArg {
        size: u64,
        flags: u64,
        start: u64,
        end: u64,
        walk_end: u64,
        vec: u64,
        vec_len: u64,
        max_pages: u64,
        category_inverted: u64,
        category_mask: u64,
        category_anyof_mask: u64,
        return_mask: u64,
    }

    /// `_IOWR('f', 16, struct pm_scan_arg)`.
    const PAGEMAP_SCAN: libc::c_ulong =
        (3 << 30) | ((size_of::<ScanArg>() as libc::c_ulong) << 16) | (0x66 << 8) | 16;

    /// A mapping that is unmapped when dropped.
    struct Mapping(*mut u8, usize);

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: the mapping was made by `mmap` with this length and is
            // not used after this.
            unsafe { libc::munmap(self.0.cast(), self.1) };
        }
    }

    pub fn scan(samples: usize) -> Option<Vec<Duration>> {
        let page = 4096;
        let len = PAGES * page;
        // SAFETY: plain system calls on mappings this function owns; every
        // pointer written through is inside the accessible part of `slot`.
        unsafe {
            let fd = libc::memfd_create(c"skewless-image".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return None;
            }
            let image = File::from_raw_fd(fd);
            let image_len = IMAGE_PAGES * page;
            if libc::ftruncate(image.as_raw_fd(), image_len as libc::off_t) != 0 {
                return None;
            }
            let bytes = vec![1u8; image_len];
            if libc::pwrite(image.as_raw_fd(), bytes.as_ptr().cast(), image_len, 0)
                != image_len as isize
            {
                return None;
            }
            let reserved = 64 << 20;
            let base = libc::mmap(
                std::ptr::null_mut(),
                reserved,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return None;
            }
            let slot = Mapping(base.cast(), reserved);
            if libc::mprotect(base, len, libc::PROT_READ | libc::PROT_WRITE) != 0 {
                return None;
            }
            let at = slot.0.add(IMAGE_AT * page);
            let mapped = libc::mmap(
                at.cast(),
                image_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                image.as_raw_fd(),
                0,
            );
            if mapped == libc::MAP_FAILED {
                return None;
            }
            // Two image pages read, the top of the stack and two heap
            // pages written.
            std::hint::black_box(at.read_volatile());
            std::hint::black_box(at.add(page).read_volatile());
            slot.0.add((IMAGE_AT - 1) * page).write_volatile(2);
            at.add(IMAGE_PAGES * page).write_volatile(2);
            at.add((IMAGE_PAGES + 1) * page).write_volatile(2);

            let pagemap = File::open("/proc/self/pagemap").ok()?;
            let mut regions = [PageRegion::default(); 64];
            let mut times = Vec::with_capacity(samples);
            for _ in 0..samples {
                let mut arg = ScanArg {
                    size: size_of::<ScanArg>() as u64,
                    start: slot.0 as u64,
                    end: slot.0 as u64 + len as u64,
                    vec: regions.as_mut_ptr() as u64,
                    vec_len: regions.len() as u64,
                    max_pages: PAGES as u64,
                    category_inverted: PFNZERO | FILE,
                    category_mask: WRITTEN | PFNZERO | FILE,
                    category_anyof_mask: PRESENT | SWAPPED,
                    ..ScanArg::default()
                };
                let start = Instant::now();
                let found = libc::ioctl(pagemap.as_raw_fd(), PAGEMAP_SCAN, &mut arg);
                times.push(start.elapsed());
                // The three written pages, in two runs (the stack's page,
                // and the two heap pages together).
                if found != 2 {
                    return None;
                }
            }
            Some(times)
        }
    }
}
