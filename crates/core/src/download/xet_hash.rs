//! A file's Xet hash, computed as its bytes stream in: the name
//! huggingface_hub 2.5 gives the file's payload in the shared blob store
//! (`blobs/<xx>/<hash>`), and what the hub lists as `xetHash`. The official
//! crates do the work (content-defined chunking, then the Merkle hash of the
//! chunks), so the hash is `hf_xet.hash_files`'s by construction; checked
//! against it on files from 0 B to 1 GiB.

use xet_core_structures::merklehash::{file_hash, MerkleHash};
use xet_data::deduplication::Chunker;

/// Feeds any split of a file's bytes, in order; the hash at the end.
pub struct XetHasher {
    chunker: Chunker,
    /// Each chunk's hash and length, in file order.
    chunks: Vec<(MerkleHash, u64)>,
}

impl std::fmt::Debug for XetHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XetHasher")
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

impl Default for XetHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl XetHasher {
    /// The hash of an empty file so far.
    pub fn new() -> Self {
        Self {
            chunker: Chunker::default(),
            chunks: Vec::new(),
        }
    }

    /// The next bytes of the file.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let (chunk, consumed) = self.chunker.next(data, false);
            if let Some(c) = chunk {
                self.chunks.push((c.hash, c.data.len() as u64));
            }
            data = &data[consumed..];
        }
    }

    /// The hash in lowercase hex (64 digits; an empty file's is all zeros).
    pub fn finish(mut self) -> String {
        if let Some(c) = self.chunker.finish() {
            self.chunks.push((c.hash, c.data.len() as u64));
        }
        file_hash(&self.chunks).hex()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(data: &[u8]) -> String {
        let mut h = XetHasher::new();
        h.update(data);
        h.finish()
    }

    /// Bytes that chunk into many pieces (no long runs of one value).
    fn content(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn known_vectors_of_hf_xet() {
        // `hf_xet.hash_files` on an empty file and on a file holding "A".
        assert_eq!(hash(b""), "0".repeat(64));
        assert_eq!(
            hash(b"A"),
            "ec75277e0d6c72c675f77d6c7385cd327acb970e20173d0fe7ece9466e3cb44d"
        );
    }

    #[test]
    fn any_split_of_the_bytes_gives_the_same_hash() {
        let data = content(600_000);
        let whole = hash(&data);
        for piece in [1, 777, 8192, 65_536, 100_003] {
            let mut h = XetHasher::new();
            data.chunks(piece).for_each(|p| h.update(p));
            assert_eq!(h.finish(), whole, "pieces of {piece} bytes");
        }
        assert_ne!(hash(&data[1..]), whole);
    }
}
