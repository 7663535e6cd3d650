//! The record of which bytes of a parallel download are written:
//! `blobs/<etag>.ranges.incomplete` beside `<etag>.parts.incomplete`.
//!
//! ```text
//! haid-ranges 1 <size>
//! <start> <end>
//! …
//! ```
//!
//! One line is appended after each batch is written to the parts file, so a
//! kill loses only the batches in memory. Appending is one small `write`;
//! the file is rewritten whole (compacted, through a rename) only when a
//! download starts. No `fsync`, for the reason of docs/downloads.md
//! ("Durability"): a power cut can leave a line whose bytes never reached
//! the disk, and the hash before commit then refuses the file; it is never
//! committed wrong.
//!
//! Its content is untrusted: another program, a crash or a hand may have
//! written it. Anything but the exact format — a range past the size, a
//! size that is not the file's, a stray byte — and the download starts over.
//! Only a last line without its newline (a write cut by a crash) is dropped.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::spans::Spans;
use crate::error::{Error, Result};

/// Far more than any download appends (a line per 256 KiB batch is ~80 KB
/// per GiB); beyond it the file is not ours.
const MAX_BYTES: u64 = 64 << 20;
const MAGIC: &str = "haid-ranges 1";

/// The written ranges a record at `path` vouches for, for a file of `size`
/// bytes; `None` when there is none or it is not to be trusted.
pub fn load(path: &Path, size: u64) -> Option<Spans> {
    // Not followed: a symlink under our name is no record of ours.
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_BYTES {
        return None;
    }
    parse(&std::fs::read(path).ok()?, size).ok()
}

/// Reads a record; the error says what is wrong with it.
pub fn parse(bytes: &[u8], size: u64) -> std::result::Result<Spans, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
    let mut lines = text.split_inclusive('\n');
    let header = lines.next().ok_or("empty")?;
    if header != format!("{MAGIC} {size}\n") {
        return Err(format!(
            "header {header:?} is not for a file of {size} bytes"
        ));
    }
    let mut spans = Spans::default();
    for line in lines {
        let Some(line) = line.strip_suffix('\n') else {
            break; // the last write, cut by a crash
        };
        let (start, end) = line
            .split_once(' ')
            .and_then(|(a, b)| Some((number(a)?, number(b)?)))
            .ok_or_else(|| format!("line {line:?} is not two numbers"))?;
        if start >= end || end > size {
            return Err(format!("range {start}-{end} is not within {size} bytes"));
        }
        spans.insert(start..end);
    }
    Ok(spans)
}

/// A plain decimal: digits only (no sign, space or `+`), at most 20 of them.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The open record of a running download.
#[derive(Debug)]
pub struct RangesFile {
    file: File,
}

impl RangesFile {
    /// Writes a fresh record of `done` for a file of `size` bytes (through a
    /// rename: a kill leaves the old record or the new one) and opens it to append.
    pub fn create(path: &Path, size: u64, done: &Spans) -> Result<Self> {
        let mut text = format!("{MAGIC} {size}\n");
        for s in done.iter() {
            text.push_str(&format!("{} {}\n", s.start, s.end));
        }
        crate::atomic_file::write_atomically(path, text.as_bytes())?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        Ok(Self { file })
    }

    /// Records that `start..end` is written (in one `write`, so a kill
    /// leaves the line whole or cut, never mixed with another).
    pub fn record(&mut self, start: u64, end: u64) -> std::io::Result<()> {
        self.file.write_all(format!("{start} {end}\n").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_its_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ranges.incomplete");
        let mut done = Spans::default();
        done.insert(0..10);
        let mut rec = RangesFile::create(&path, 100, &done).unwrap();
        rec.record(50, 60).unwrap();
        rec.record(10, 20).unwrap();
        let spans = load(&path, 100).unwrap();
        assert_eq!(
            spans.iter().cloned().collect::<Vec<_>>(),
            vec![0..20, 50..60]
        );
        // For another size it is not this file's record.
        assert!(load(&path, 101).is_none());
        assert!(load(&dir.path().join("absent"), 100).is_none());
    }

    #[test]
    fn hostile_or_damaged_records_are_refused() {
        let head = "haid-ranges 1 100\n";
        let bad = [
            String::new(),
            "haid-ranges 2 100\n".into(),
            "haid-ranges 1 100".into(),
            format!("{head}0 101\n"),
            format!("{head}10 10\n"),
            format!("{head}20 10\n"),
            format!("{head}-1 10\n"),
            format!("{head}+1 10\n"),
            format!("{head} 1 10\n"),
            format!("{head}1  10\n"),
            format!("{head}1 10 \n"),
            format!("{head}1\t10\n"),
            format!("{head}0 99999999999999999999999\n"),
            format!("{head}0 18446744073709551616\n"),
            format!("{head}\n"),
            format!("{head}0 10\r\n"),
            format!("{head}0 10\nzz\n"),
        ];
        for text in bad {
            assert!(parse(text.as_bytes(), 100).is_err(), "{text:?}");
        }
        assert!(parse(b"haid-ranges 1 100\n\xff\n", 100).is_err());
        assert!(parse(&[0u8; 64], 100).is_err());
    }

    #[test]
    fn a_last_line_cut_by_a_crash_is_dropped() {
        let spans = parse(b"haid-ranges 1 100\n0 10\n20 3", 100).unwrap();
        assert_eq!(spans.iter().cloned().collect::<Vec<_>>(), vec![0..10]);
        let empty = parse(b"haid-ranges 1 100\n", 100).unwrap();
        assert_eq!(empty.total(), 0);
    }

    #[test]
    fn an_oversized_record_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let f = File::create(&path).unwrap();
        f.set_len(MAX_BYTES + 1).unwrap();
        assert!(load(&path, 100).is_none());
    }
}
