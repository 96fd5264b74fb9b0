//! The kernel's scan for written pages, timed alone: the floor of any
//! clean slate that resets only the pages a call wrote.
//!
//! When an instance ends, wasmtime's pooling allocator asks Linux which
//! pages of its linear memory were written (the `PAGEMAP_SCAN` ioctl on
//! `/proc/self/pagemap`, with the categories the vendored wasmtime asks for
//! in `written_pages`, `vm/sys/unix/pagemap.rs`) and sets only those back. A reset in place of
//! the instance, instead of a new one, would still make that call, so its
//! time is a lower bound on the clean slate for as long as written pages
//! are found this way.
//!
//! The mapping is shaped like `fraud-features`' slot: 1,600 KiB accessible
//! (its initial memory) inside a larger inaccessible reservation, and its
//! data (three pages from 1 MiB, after the stack) mapped copy-on-write
//! from a memory file, so three mappings. Two image pages are read and
//! three pages written (the top of the stack, the last image page and the
//! heap's first page), which is what a temporarily instrumented wasmtime
//! found present in the real slot after one-row calls (BENCHMARKS.md, the
//! isolation section); the shape is checked before the scans are timed.

use std::time::Duration;

/// The scan's time, `samples` times, or why it was not timed: where the
/// kernel has no `PAGEMAP_SCAN` (before Linux 6.7), off Linux, or when the
/// stand-in's pages are not what it expects.
pub fn written_page_scan(samples: usize) -> Result<Vec<Duration>, String> {
    imp::scan(samples)
}

/// How many of the stand-in's three written pages the kernel's scan
/// reports, with wasmtime's categories: `None` where there is no
/// `PAGEMAP_SCAN` (before Linux 6.7, or off Linux).
pub fn written_pages_found() -> Result<Option<u64>, String> {
    imp::written_pages_found()
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn scan(_: usize) -> Result<Vec<std::time::Duration>, String> {
        Err("it is Linux's `PAGEMAP_SCAN`, and this is not Linux".into())
    }

    pub fn written_pages_found() -> Result<Option<u64>, String> {
        Ok(None)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::File;
    use std::io::Error;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::time::{Duration, Instant};

    /// Pages of the accessible memory (25 wasm pages of 64 KiB).
    const PAGES: usize = 400;
    /// Where the copy-on-write image starts (after the 1 MiB stack), and
    /// its length, in pages.
    const IMAGE_AT: usize = 256;
    const IMAGE_PAGES: usize = 3;
    const PAGE: usize = 4096;

    const WRITTEN: u64 = 1 << 1;
    const FILE: u64 = 1 << 2;
    const PRESENT: u64 = 1 << 3;
    const SWAPPED: u64 = 1 << 4;
    const PFNZERO: u64 = 1 << 5;

    /// `struct page_region` of `linux/fs.h`.
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

    const PAGEMAP_SCAN: libc::Ioctl = libc::_IOWR::<ScanArg>(b'f' as u32, 16);

    /// A mapping that is unmapped when dropped.
    struct Mapping(*mut u8, usize);

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: the mapping was made by `mmap` with this length and is
            // not used after this.
            unsafe { libc::munmap(self.0.cast(), self.1) };
        }
    }

    fn failed(what: &str) -> String {
        format!("{what} failed: {}", Error::last_os_error())
    }

    /// One scan of `len` bytes from `start`: the regions found.
    ///
    /// # Safety
    ///
    /// `start..start + len` is mapped by this process.
    unsafe fn scan_once(
        pagemap: &File,
        start: *mut u8,
        len: usize,
        regions: &mut [PageRegion],
        wasmtime_categories: bool,
    ) -> Result<usize, Error> {
        let mut arg = ScanArg {
            size: size_of::<ScanArg>() as u64,
            start: start as u64,
            end: start as u64 + len as u64,
            vec: regions.as_mut_ptr() as u64,
            vec_len: regions.len() as u64,
            max_pages: (len / PAGE) as u64,
            ..ScanArg::default()
        };
        if wasmtime_categories {
            // Written pages that are neither the zero page nor the file's,
            // present or swapped: the pages wasmtime sets back.
            arg.category_inverted = PFNZERO | FILE;
            arg.category_mask = WRITTEN | PFNZERO | FILE;
            arg.category_anyof_mask = PRESENT | SWAPPED;
        } else {
            // Every present page, with whether it is the file's.
            arg.category_anyof_mask = PRESENT;
            arg.return_mask = FILE;
        }
        // SAFETY: `arg` describes a mapped range and a buffer of
        // `regions.len()` regions, as the ioctl requires.
        let found = unsafe { libc::ioctl(pagemap.as_raw_fd(), PAGEMAP_SCAN, &mut arg) };
        usize::try_from(found).map_err(|_| Error::last_os_error())
    }

    /// The stand-in: a slot-shaped mapping with its pages read and written.
    struct StandIn {
        pagemap: File,
        slot: Mapping,
        /// Keeps the image's memory file open while it is mapped.
        _image: File,
    }

    impl StandIn {
        fn new() -> Result<StandIn, String> {
            let len = PAGES * PAGE;
            let image_len = IMAGE_PAGES * PAGE;
            let pagemap =
                File::open("/proc/self/pagemap").map_err(|e| format!("/proc/self/pagemap: {e}"))?;
            // SAFETY: plain system calls on a file and mappings this function
            // owns; every pointer read or written is inside the accessible
            // part of `slot`.
            unsafe {
                let fd = libc::memfd_create(c"skewless-image".as_ptr(), libc::MFD_CLOEXEC);
                if fd < 0 {
                    return Err(failed("memfd_create"));
                }
                let image = File::from_raw_fd(fd);
                let bytes = vec![1u8; image_len];
                if libc::pwrite(image.as_raw_fd(), bytes.as_ptr().cast(), image_len, 0)
                    != image_len as isize
                {
                    return Err(failed("writing the image"));
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
                    return Err(failed("mmap"));
                }
                let slot = Mapping(base.cast(), reserved);
                if libc::mprotect(base, len, libc::PROT_READ | libc::PROT_WRITE) != 0 {
                    return Err(failed("mprotect"));
                }
                let at = slot.0.add(IMAGE_AT * PAGE);
                let mapped = libc::mmap(
                    at.cast(),
                    image_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_FIXED,
                    image.as_raw_fd(),
                    0,
                );
                if mapped == libc::MAP_FAILED {
                    return Err(failed("mapping the image"));
                }
                std::hint::black_box(at.read_volatile());
                std::hint::black_box(at.add(PAGE).read_volatile());
                slot.0.add((IMAGE_AT - 1) * PAGE).write_volatile(2);
                at.add((IMAGE_PAGES - 1) * PAGE).write_volatile(2);
                at.add(IMAGE_PAGES * PAGE).write_volatile(2);
                Ok(StandIn {
                    pagemap,
                    slot,
                    _image: image,
                })
            }
        }

        /// One scan (see `scan_once`) of the accessible memory.
        fn scan(
            &self,
            regions: &mut [PageRegion],
            wasmtime_categories: bool,
        ) -> Result<usize, Error> {
            // SAFETY: the accessible part of the slot is mapped while `self` lives.
            unsafe {
                scan_once(
                    &self.pagemap,
                    self.slot.0,
                    PAGES * PAGE,
                    regions,
                    wasmtime_categories,
                )
            }
        }

        /// Pages present from the image's file, and pages the scan wasmtime
        /// makes reports as written.
        fn pages(&self) -> Result<(u64, u64), Error> {
            let pages = |regions: &[PageRegion], file: bool| -> u64 {
                regions
                    .iter()
                    .filter(|r| (r.categories & FILE != 0) == file)
                    .map(|r| (r.end - r.start) / PAGE as u64)
                    .sum()
            };
            let mut regions = [PageRegion::default(); 64];
            let found = self.scan(&mut regions, false)?;
            let file_pages = pages(&regions[..found], true);
            let found = self.scan(&mut regions, true)?;
            Ok((file_pages, pages(&regions[..found], false)))
        }
    }

    /// Whether an error says the kernel has no `PAGEMAP_SCAN`.
    fn no_scan(e: &Error) -> bool {
        e.raw_os_error() == Some(libc::ENOTTY) || e.raw_os_error() == Some(libc::EINVAL)
    }

    pub fn written_pages_found() -> Result<Option<u64>, String> {
        match StandIn::new()?.pages() {
            Ok((_, written)) => Ok(Some(written)),
            Err(e) if no_scan(&e) => Ok(None),
            Err(e) => Err(format!("`PAGEMAP_SCAN` failed: {e}")),
        }
    }

    pub fn scan(samples: usize) -> Result<Vec<Duration>, String> {
        let stand_in = StandIn::new()?;
        // The shape: two file pages present, three pages written.
        let (file_pages, written) = stand_in.pages().map_err(|e| {
            if no_scan(&e) {
                "this kernel has no `PAGEMAP_SCAN` (Linux 6.7 and later have it), so \
                 wasmtime's pool resets memory without it"
                    .to_string()
            } else {
                format!("`PAGEMAP_SCAN` failed: {e}")
            }
        })?;
        if file_pages != 2 || written != 3 {
            return Err(format!(
                "the stand-in's pages are not as expected: {file_pages} image pages \
                 present (2 expected), {written} written (3 expected)"
            ));
        }

        let mut regions = [PageRegion::default(); 64];
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let start = Instant::now();
            let found = stand_in.scan(&mut regions, true);
            times.push(start.elapsed());
            if found.is_err() {
                return Err("`PAGEMAP_SCAN` failed while being timed".into());
            }
        }
        Ok(times)
    }
}

#[cfg(test)]
mod tests {
    /// wasmtime's pool resets in place only the pages its scan reports as
    /// written, so it may rely on the scan only where the kernel reports
    /// them: where the stand-in's scan finds its three written pages (on a
    /// kernel whose `PAGE_IS_WRITTEN` meant only userfaultfd's tracking, it
    /// would find none, and a pool that scanned anyway would reset
    /// nothing). The vendored wasmtime checks this once per process
    /// (`PageMap::new`); this test checks its answer against the stand-in's.
    #[test]
    fn the_pool_scans_for_written_pages_only_where_the_kernel_reports_them() {
        let found = super::written_pages_found().expect("the stand-in is built and scanned");
        let pool_scans = wasmtime::PoolingAllocationConfig::is_pagemap_scan_available();
        assert_eq!(
            pool_scans,
            found == Some(3),
            "the pool {} the scan; the stand-in's scan found {found:?} of its 3 written pages \
             (None: no PAGEMAP_SCAN)",
            if pool_scans { "uses" } else { "does not use" },
        );
    }
}
