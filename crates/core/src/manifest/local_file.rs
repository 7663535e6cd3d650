//! Reading a small local file that anyone may have pointed us at (the
//! manifest, the settings) without letting it hurt us: `/dev/zero` would be
//! read until memory runs out, a FIFO would block the open forever, a
//! gigabyte of JSON would be parsed for minutes. So the file's kind and size
//! are checked before it is opened, and the read stops past the limit.
//!
//! It lives under `manifest` because the crate's module list is not ours to
//! change here; `settings` uses it too.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// The most a manifest may hold: 40,000 models written out in full are 8 MB.
pub const MANIFEST_LIMIT: u64 = 16 * MIB;
/// The most a settings file may hold: the app writes a few hundred bytes.
pub const SETTINGS_LIMIT: u64 = MIB;

const MIB: u64 = 1024 * 1024;

/// Why a file was not read. The caller words the message, with its own fix.
#[derive(Debug)]
pub enum Refusal {
    /// A directory, a FIFO, a device, a socket: what it is, for people.
    NotRegular(&'static str),
    /// Bigger than `limit`; `bytes` when the file system said how big.
    TooBig { bytes: Option<u64>, limit: u64 },
    /// Missing, unreadable, or not UTF-8 (`InvalidData`).
    Io(io::Error),
}

impl Refusal {
    /// "it is not a regular file but a named pipe (FIFO)", "it is 20.0 MiB,
    /// more than the 16 MiB limit", "cannot read it (…)": the what, not the fix.
    pub fn describe(&self) -> String {
        match self {
            Refusal::NotRegular(kind) => format!("it is not a regular file but {kind}"),
            Refusal::TooBig {
                bytes: Some(bytes),
                limit,
            } => format!(
                "it is {}, more than the {} limit",
                size(*bytes),
                size(*limit)
            ),
            Refusal::TooBig { bytes: None, limit } => {
                format!("it holds more than the {} limit", size(*limit))
            }
            Refusal::Io(e) => format!("cannot read it ({e})"),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Refusal::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// The whole file as text, if it is a regular file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, Refusal> {
    // Checked on the path first: opening a FIFO blocks until a writer comes.
    check(&std::fs::metadata(path).map_err(Refusal::Io)?, limit)?;
    let file = File::open(path).map_err(Refusal::Io)?;
    // And on the open file, in case the path was swapped in between.
    check(&file.metadata().map_err(Refusal::Io)?, limit)?;
    // The size said may be wrong (a growing file, /proc): read one byte past
    // the limit at most, to tell "at the limit" from "over it".
    let mut text = String::new();
    file.take(limit + 1)
        .read_to_string(&mut text)
        .map_err(Refusal::Io)?;
    if text.len() as u64 > limit {
        return Err(Refusal::TooBig { bytes: None, limit });
    }
    Ok(text)
}

fn check(meta: &Metadata, limit: u64) -> Result<(), Refusal> {
    if !meta.is_file() {
        return Err(Refusal::NotRegular(kind(meta)));
    }
    if meta.len() > limit {
        return Err(Refusal::TooBig {
            bytes: Some(meta.len()),
            limit,
        });
    }
    Ok(())
}

fn kind(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// `16 MiB`, `20.5 MiB`, `300 bytes`: binary units, as the limits are set.
fn size(bytes: u64) -> String {
    if bytes < MIB / 10 {
        format!("{bytes} bytes")
    } else if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_file_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.json");
        std::fs::write(&file, "1234").unwrap();
        assert_eq!(read_text(&file, 4).unwrap(), "1234");
        let over = read_text(&file, 3).unwrap_err();
        assert_eq!(
            over.describe(),
            "it is 4 bytes, more than the 3 bytes limit"
        );
    }

    #[test]
    fn refuses_a_directory_and_says_a_missing_file_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let refusal = read_text(dir.path(), MIB).unwrap_err();
        assert_eq!(
            refusal.describe(),
            "it is not a regular file but a directory"
        );
        assert!(read_text(&dir.path().join("nope"), MIB)
            .unwrap_err()
            .is_not_found());
    }

    #[cfg(unix)]
    #[test]
    fn refuses_dev_zero_without_reading_it() {
        let refusal = read_text(Path::new("/dev/zero"), MIB).unwrap_err();
        assert_eq!(
            refusal.describe(),
            "it is not a regular file but a character device"
        );
    }

    /// Opening a FIFO for reading blocks until a writer comes: the check
    /// must come first. Run on a thread so a regression fails, not hangs.
    #[cfg(unix)]
    #[test]
    fn refuses_a_fifo_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(read_text(&fifo, MIB).map_err(|r| r.describe())));
        let answer = rx.recv_timeout(std::time::Duration::from_secs(5));
        assert_eq!(
            answer.expect("read_text returns at once on a FIFO"),
            Err("it is not a regular file but a named pipe (FIFO)".into())
        );
    }

    #[test]
    fn limits_read_naturally() {
        assert_eq!(size(MANIFEST_LIMIT), "16 MiB");
        assert_eq!(size(SETTINGS_LIMIT), "1 MiB");
        assert_eq!(size(20 * MIB + MIB / 2), "20.5 MiB");
        assert_eq!(size(300), "300 bytes");
    }
}
