//! Blob names are content hashes: sha256 for LFS files, the git blob sha1
//! (`sha1("blob <size>\0" + content)`) for small ones. Downloads verify with
//! them before a blob is committed, and `verify` re-checks a cache offline.

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Which hash an etag is: a 64-hex etag is sha256, a 40-hex one git sha1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobHashKind {
    /// LFS files: the sha256 of the content.
    Sha256,
    /// Small files: git's blob sha1, of a `blob <size>\0` header and the content.
    GitSha1,
}

impl BlobHashKind {
    /// The hash an etag names, or `None` for an etag that is no hash (a plain copy).
    pub fn of_etag(etag: &str) -> Option<Self> {
        let hex = etag.bytes().all(|b| b.is_ascii_hexdigit());
        match (etag.len(), hex) {
            (64, true) => Some(Self::Sha256),
            (40, true) => Some(Self::GitSha1),
            _ => None,
        }
    }
}

/// An incremental hasher for one blob of a known size.
#[derive(Debug, Clone)]
pub enum BlobHasher {
    /// Hashing an LFS file.
    Sha256(Sha256),
    /// Hashing a small file, the git header already fed.
    GitSha1(Sha1),
}

impl BlobHasher {
    /// A hasher for a blob of `size` bytes (git's hash starts with the size).
    pub fn new(kind: BlobHashKind, size: u64) -> Self {
        match kind {
            BlobHashKind::Sha256 => Self::Sha256(Sha256::new()),
            BlobHashKind::GitSha1 => {
                let mut h = Sha1::new();
                h.update(format!("blob {size}\0").as_bytes());
                Self::GitSha1(h)
            }
        }
    }

    /// Feeds the next bytes of the content.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::GitSha1(h) => h.update(bytes),
        }
    }

    /// The hash in lowercase hex: what the blob's name must be.
    pub fn finish_hex(self) -> String {
        match self {
            Self::Sha256(h) => hex::encode(h.finalize()),
            Self::GitSha1(h) => hex::encode(h.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_sha1_matches_git() {
        // `printf hello | git hash-object --stdin`
        let mut h = BlobHasher::new(BlobHashKind::GitSha1, 5);
        h.update(b"hello");
        assert_eq!(h.finish_hex(), "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0");
    }

    #[test]
    fn sha256_in_pieces_equals_whole() {
        let mut a = BlobHasher::new(BlobHashKind::Sha256, 6);
        a.update(b"abc");
        a.update(b"def");
        let mut b = BlobHasher::new(BlobHashKind::Sha256, 6);
        b.update(b"abcdef");
        assert_eq!(a.finish_hex(), b.finish_hex());
    }

    #[test]
    fn etag_kinds() {
        assert_eq!(
            BlobHashKind::of_etag(&"a".repeat(64)),
            Some(BlobHashKind::Sha256)
        );
        assert_eq!(
            BlobHashKind::of_etag(&"0".repeat(40)),
            Some(BlobHashKind::GitSha1)
        );
        assert_eq!(BlobHashKind::of_etag("xyz"), None);
        assert_eq!(BlobHashKind::of_etag(&"g".repeat(40)), None);
    }
}
