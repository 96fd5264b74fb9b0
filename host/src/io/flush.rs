//! Getting a large output onto the disk while it is still being written.
//!
//! An output is only moved into place after `fsync`, so that a crash never
//! leaves a truncated file under the final name. Left to itself, the kernel
//! keeps the whole file in memory until that final `fsync`, which then
//! writes all of it while every worker sits idle (a quarter of a second
//! for a 100 MB output here). A [`Flusher`] starts `fdatasync` on a
//! background thread each time another [`Flusher::EVERY`] bytes reached
//! the file, so the disk writes while the workers compute and the final
//! `fsync` only has the tail left.

use std::fs::File;
use std::io;
use std::thread::JoinHandle;

pub(crate) struct Flusher {
    file: File,
    every: u64,
    /// File length when the last background flush started.
    flushed_to: u64,
    running: Option<JoinHandle<io::Result<()>>>,
}

impl Flusher {
    /// Bytes between background flushes.
    pub(crate) const EVERY: u64 = 16 << 20;

    /// A flusher of `file` (a handle of its own, shared with no writer).
    pub(crate) fn new(file: File, every: u64) -> Flusher {
        Flusher {
            file,
            every,
            flushed_to: 0,
            running: None,
        }
    }

    /// Called after each append: starts a background flush when another
    /// `every` bytes have reached the file since the last one started (and
    /// it has finished). Returns the error of a finished flush.
    pub(crate) fn written(&mut self) -> io::Result<()> {
        if self.running.as_ref().is_some_and(|f| !f.is_finished()) {
            return Ok(());
        }
        self.join()?;
        let len = self.file.metadata()?.len();
        if len >= self.flushed_to + self.every {
            let file = self.file.try_clone()?;
            self.running = Some(
                std::thread::Builder::new()
                    .name("skewless-flush".into())
                    .spawn(move || file.sync_data())?,
            );
            self.flushed_to = len;
        }
        Ok(())
    }

    /// Waits for a background flush, then flushes data and metadata.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        self.join()?;
        self.file.sync_all()
    }

    fn join(&mut self) -> io::Result<()> {
        match self.running.take() {
            Some(flush) => flush
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the flushing thread panicked"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn flushes_start_every_so_many_bytes_and_finish_waits_for_them() {
        let temp = tempfile::NamedTempFile::new().unwrap();
        let mut file = temp.as_file().try_clone().unwrap();
        let mut flusher = Flusher::new(temp.as_file().try_clone().unwrap(), 1000);
        file.write_all(&[1; 999]).unwrap();
        flusher.written().unwrap();
        assert_eq!(flusher.flushed_to, 0, "fewer bytes than `every`");
        file.write_all(&[2; 1]).unwrap();
        flusher.written().unwrap();
        assert_eq!(flusher.flushed_to, 1000);
        flusher.join().unwrap();
        file.write_all(&[3; 500]).unwrap();
        flusher.written().unwrap();
        assert_eq!(flusher.flushed_to, 1000, "500 bytes since the last flush");
        file.write_all(&[4; 600]).unwrap();
        flusher.written().unwrap();
        assert_eq!(flusher.flushed_to, 2100);
        flusher.finish().unwrap();
        assert_eq!(std::fs::read(temp.path()).unwrap().len(), 2100);
    }
}
