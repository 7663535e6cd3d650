//! The hash of a file written in parallel ranges, computed while the ranges
//! land: it follows the written prefix. Bytes that arrive right at the
//! prefix are hashed from memory as they come; bytes written ahead of it
//! are read back (from the page cache) once the prefix reaches them.
//!
//! Measured against one pass over the file after the last range
//! (BENCHMARKS.md, "Parallel ranges"): on 2 cores following the prefix is
//! faster (1 GiB on 8 throttled connections: 14.05 s against 14.69 s),
//! because the hash overlaps the transfer instead of coming after the last
//! byte. The one-pass way stays as `follow: false` (`HAID_HASH_AT_END=1`)
//! for that measurement. The Xet hash, when asked for, is fed the same
//! bytes in the same order (`content_hash`).

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;

use super::content_hash::{ContentHasher, Digests};
use super::positioned::read_exact_at;
use super::spans::Spans;
use crate::cache::blob_hash::BlobHashKind;

/// Read-back size.
const READ: usize = 1 << 20;

/// Hashes `0..size` of a file as its ranges are reported written.
#[derive(Debug)]
pub struct OrderedHasher {
    hasher: ContentHasher,
    file: Arc<File>,
    size: u64,
    /// Bytes `0..hashed` are in the hash.
    hashed: u64,
    /// Written beyond `hashed`, not hashed yet.
    ahead: Spans,
    follow: bool,
}

impl OrderedHasher {
    /// A hash of `file` (`size` bytes), of which `done` is already written.
    /// With `follow` false nothing is hashed until [`OrderedHasher::finish`].
    /// `kind` and `xet` say which hashes (see [`ContentHasher::new`]).
    pub fn new(
        (kind, xet): (BlobHashKind, bool),
        file: Arc<File>,
        size: u64,
        done: &Spans,
        follow: bool,
    ) -> Self {
        Self {
            hasher: ContentHasher::new(kind, size, xet),
            file,
            size,
            hashed: 0,
            ahead: done.clone(),
            follow,
        }
    }

    /// Bytes `0..n` are in the hash so far.
    #[cfg(test)]
    pub fn hashed(&self) -> u64 {
        self.hashed
    }

    /// `pieces` are written from `start`: hashed now if they continue the
    /// prefix, else read back later.
    pub fn written(&mut self, start: u64, pieces: &[bytes::Bytes]) -> std::io::Result<()> {
        let len: u64 = pieces.iter().map(|p| p.len() as u64).sum();
        let end = start + len;
        if self.follow && start == self.hashed {
            self.hasher.update(pieces);
            self.hashed = end;
        } else if end > self.hashed {
            // Overlapping what is hashed (a server that ignored `Range`
            // sends the file again from 0): the rest is read back.
            self.ahead.insert(start.max(self.hashed)..end);
        }
        if self.follow {
            self.catch_up()?;
        }
        Ok(())
    }

    /// Hashes what is written right after the prefix, from the file.
    fn catch_up(&mut self) -> std::io::Result<()> {
        while let Some(span) = self.ahead.take_first_from(self.hashed) {
            if span.end > self.hashed {
                self.read_into_hash(self.hashed..span.end)?;
                self.hashed = span.end;
            }
        }
        Ok(())
    }

    /// A buffer per read: it goes on to the Xet thread as it is.
    fn read_into_hash(&mut self, range: Range<u64>) -> std::io::Result<()> {
        let mut pos = range.start;
        while pos < range.end {
            let mut buf = vec![0u8; (range.end - pos).min(READ as u64) as usize];
            read_exact_at(&self.file, &mut buf, pos)?;
            pos += buf.len() as u64;
            self.hasher.update(&[bytes::Bytes::from(buf)]);
        }
        Ok(())
    }

    /// The digests of the whole file; an error if some bytes were never written.
    pub fn finish(mut self) -> std::io::Result<Digests> {
        self.catch_up()?;
        if self.hashed != self.size {
            return Err(std::io::Error::other(format!(
                "bytes {}.. of {} were never written",
                self.hashed, self.size
            )));
        }
        Ok(self.hasher.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::blob_hash::BlobHasher;
    use crate::download::positioned::write_all_at;
    use crate::download::xet_hash::XetHasher;

    fn content(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// Both hashes of `data` in one pass.
    fn whole_hash(data: &[u8]) -> Digests {
        let mut h = BlobHasher::new(BlobHashKind::Sha256, data.len() as u64);
        h.update(data);
        let mut xet = XetHasher::new();
        xet.update(data);
        Digests {
            blob: h.finish_hex(),
            xet: Some(xet.finish()),
        }
    }

    /// Writes `data` in `order` of 1,000-byte pieces, reporting each; the digest.
    fn hash_in_order(
        data: &[u8],
        order: &[usize],
        done: &Spans,
        follow: bool,
    ) -> (Digests, Vec<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = Arc::new(
            File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .unwrap(),
        );
        file.set_len(data.len() as u64).unwrap();
        for s in done.iter() {
            write_all_at(&file, &data[s.start as usize..s.end as usize], s.start).unwrap();
        }
        let size = data.len() as u64;
        let kind = (BlobHashKind::Sha256, true);
        let mut h = OrderedHasher::new(kind, file.clone(), size, done, follow);
        let mut prefix = Vec::new();
        for &i in order {
            let (a, b) = (i * 1000, ((i + 1) * 1000).min(data.len()));
            write_all_at(&file, &data[a..b], a as u64).unwrap();
            // In two pieces, as the network hands them over.
            let mid = (a + b) / 2;
            let pieces = [
                bytes::Bytes::copy_from_slice(&data[a..mid]),
                bytes::Bytes::copy_from_slice(&data[mid..b]),
            ];
            h.written(a as u64, &pieces).unwrap();
            prefix.push(h.hashed());
        }
        (h.finish().unwrap(), prefix)
    }

    #[test]
    fn ranges_out_of_order_hash_as_the_whole_file() {
        let data = content(10_000);
        let order = [3, 0, 1, 9, 2, 5, 4, 8, 7, 6];
        let (digest, prefix) = hash_in_order(&data, &order, &Spans::default(), true);
        assert_eq!(digest, whole_hash(&data));
        // The prefix follows: nothing before piece 0, then up to the first gap.
        assert_eq!(
            prefix,
            vec![0, 1000, 2000, 2000, 4000, 4000, 6000, 6000, 6000, 10_000]
        );
        let (at_end, prefix) = hash_in_order(&data, &order, &Spans::default(), false);
        assert_eq!(at_end, digest);
        assert!(prefix.iter().all(|&p| p == 0), "one pass at the end");
    }

    #[test]
    fn the_xet_hash_follows_the_prefix_over_many_chunks() {
        // 200 pieces in a scrambled order: the Xet hash must see them in file order.
        let data: Vec<u8> = (0..200_000u64)
            .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
            .collect();
        let order: Vec<usize> = (0..200).map(|i| (i * 37) % 200).collect();
        let (digest, _) = hash_in_order(&data, &order, &Spans::default(), true);
        assert_eq!(digest, whole_hash(&data));
    }

    #[test]
    fn a_resumed_file_hashes_what_was_written_before() {
        let data = content(10_000);
        let mut done = Spans::default();
        done.insert(0..2000);
        done.insert(5000..7000);
        let (digest, prefix) = hash_in_order(&data, &[2, 3, 4, 7, 8, 9], &done, true);
        assert_eq!(digest, whole_hash(&data));
        assert_eq!(prefix[..3], [3000, 4000, 7000]);
    }

    #[test]
    fn the_file_sent_again_from_zero_hashes_once() {
        let data = content(5000);
        let mut done = Spans::default();
        done.insert(0..3000);
        let (digest, _) = hash_in_order(&data, &[0, 1, 2, 3, 4], &done, true);
        assert_eq!(digest, whole_hash(&data));
    }

    #[test]
    fn a_range_never_written_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = Arc::new(File::create(dir.path().join("f")).unwrap());
        let kind = (BlobHashKind::Sha256, false);
        let h = OrderedHasher::new(kind, file, 10, &Spans::default(), true);
        assert!(h.finish().is_err());
    }
}
