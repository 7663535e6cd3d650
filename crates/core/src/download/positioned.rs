//! Reads and writes at an offset, without moving a shared cursor: the
//! connections of a parallel download write their ranges into one file at
//! once, and the hash reads the written prefix back beside them.

use std::fs::File;
use std::io;

/// Writes all of `buf` at `offset`.
#[cfg(any(test, not(any(target_os = "linux", target_os = "android"))))]
pub fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match write_at(file, buf, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes `pieces` one after another from `offset`: one `pwritev` per
/// batch where the system has it (a `pwrite` per network piece, ~16 KiB,
/// was a syscall every few microseconds at loopback speed).
pub fn write_pieces_at(file: &File, pieces: &[bytes::Bytes], offset: u64) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut slices: Vec<io::IoSlice<'_>> = pieces.iter().map(|p| io::IoSlice::new(p)).collect();
        let mut left = &mut slices[..];
        let mut at = offset;
        while !left.is_empty() {
            match rustix::io::pwritev(file, left, at) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    io::IoSlice::advance_slices(&mut left, n);
                    at += n as u64;
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let mut at = offset;
        for piece in pieces {
            write_all_at(file, piece, at)?;
            at += piece.len() as u64;
        }
        Ok(())
    }
}

/// Fills `buf` from `offset`; a file shorter than that is an error.
pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match read_at(file, buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(all(unix, any(test, not(any(target_os = "linux", target_os = "android")))))]
fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::write_at(file, buf, offset)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

// Windows moves the file's cursor with these; nothing here relies on it.
#[cfg(windows)]
fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_write(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_land_at_their_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("f"))
            .unwrap();
        file.set_len(10).unwrap();
        write_all_at(&file, b"world", 5).unwrap();
        let hel = [
            bytes::Bytes::from_static(b"he"),
            bytes::Bytes::from_static(b"l"),
        ];
        write_pieces_at(&file, &hel, 0).unwrap();
        write_all_at(&file, b"lo", 3).unwrap();
        let mut buf = [0u8; 10];
        read_exact_at(&file, &mut buf, 0).unwrap();
        assert_eq!(&buf, b"helloworld");
        assert!(read_exact_at(&file, &mut buf, 1).is_err(), "past the end");
    }
}
