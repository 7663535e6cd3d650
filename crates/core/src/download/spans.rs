//! Which bytes of a file are written, and how the rest is cut into ranges
//! for parallel connections. Plain arithmetic, apart from the network and
//! the disk, so the planner is tested on its own.
//!
//! The file is cut into more pieces than connections (about 8 per
//! connection): a connection that finishes takes the next piece, so a slow
//! one holds back only its own piece, and the hash, which follows the
//! written prefix (`ordered_hash`), never waits long for the piece in front.

use std::ops::Range;

/// Pieces are never smaller than this: each is one request.
pub const MIN_PIECE: u64 = 1 << 20;
/// Nor larger: a connection replaced late re-asks for the rest of its piece only.
pub const MAX_PIECE: u64 = 64 << 20;
/// Pieces per connection.
const PIECES_PER_CONNECTION: u64 = 8;

/// Byte ranges, sorted, disjoint and not touching (touching ones are merged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans(Vec<Range<u64>>);

impl Spans {
    /// Adds `span`, merging it with those it overlaps or touches.
    pub fn insert(&mut self, span: Range<u64>) {
        if span.is_empty() {
            return;
        }
        let at = self.0.partition_point(|s| s.end < span.start);
        let mut merged = span;
        while let Some(next) = self.0.get(at).filter(|s| s.start <= merged.end) {
            merged = merged.start.min(next.start)..merged.end.max(next.end);
            self.0.remove(at);
        }
        self.0.insert(at, merged);
    }

    /// Bytes covered.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|s| s.end - s.start).sum()
    }

    /// The spans, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Range<u64>> {
        self.0.iter()
    }

    /// Takes out the first span if it starts at or before `pos`.
    pub fn take_first_from(&mut self, pos: u64) -> Option<Range<u64>> {
        (self.0.first()?.start <= pos).then(|| self.0.remove(0))
    }

    /// What is not covered of `0..size`.
    pub fn missing(&self, size: u64) -> Vec<Range<u64>> {
        let mut gaps = Vec::new();
        let mut pos = 0;
        for s in &self.0 {
            if s.start > pos {
                gaps.push(pos..s.start.min(size));
            }
            pos = pos.max(s.end);
        }
        if pos < size {
            gaps.push(pos..size);
        }
        gaps.retain(|g| !g.is_empty());
        gaps
    }
}

/// The size of a piece for a file of `size` bytes on `connections` connections.
pub fn piece_size(size: u64, connections: usize) -> u64 {
    let pieces = (connections.max(1) as u64).saturating_mul(PIECES_PER_CONNECTION);
    (size / pieces).clamp(MIN_PIECE, MAX_PIECE)
}

/// The pieces still to fetch, in file order: what `done` lacks of
/// `0..size`, cut into pieces of at most `piece` bytes.
pub fn plan(size: u64, done: &Spans, piece: u64) -> Vec<Range<u64>> {
    let piece = piece.max(1);
    let mut pieces = Vec::new();
    for gap in done.missing(size) {
        let mut start = gap.start;
        while start < gap.end {
            let end = gap.end.min(start.saturating_add(piece));
            pieces.push(start..end);
            start = end;
        }
    }
    pieces
}

#[cfg(test)]
// Slices of ranges are what `Spans` is built from here, not ranges to expand.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    fn spans(list: &[Range<u64>]) -> Spans {
        let mut s = Spans::default();
        list.iter().cloned().for_each(|r| s.insert(r));
        s
    }

    #[test]
    fn spans_merge_what_overlaps_or_touches() {
        let s = spans(&[10..20, 30..40, 20..25, 0..5, 35..50, 5..6]);
        assert_eq!(s.0, vec![0..6, 10..25, 30..50]);
        assert_eq!(s.total(), 6 + 15 + 20);
        assert_eq!(spans(&[0..10, 2..3]).0, vec![0..10]);
        assert_eq!(spans(&[5..6, 0..100]).0, vec![0..100]);
        assert_eq!(spans(&[3..3]).0, vec![]);
        assert_eq!(spans(&[50..100, 0..50]).0, vec![0..100]);
    }

    #[test]
    fn the_plan_is_what_is_missing_cut_into_pieces() {
        let done = spans(&[0..10, 25..30]);
        assert_eq!(done.missing(40), vec![10..25, 30..40]);
        assert_eq!(
            plan(40, &done, 6),
            vec![10..16, 16..22, 22..25, 30..36, 36..40]
        );
        assert_eq!(plan(40, &spans(&[0..40]), 6), vec![]);
        assert_eq!(
            plan(5, &Spans::default(), 0),
            vec![0..1, 1..2, 2..3, 3..4, 4..5]
        );
        // A span past the end (never trusted from disk, but harmless here).
        assert_eq!(spans(&[0..10]).missing(4), vec![]);
    }

    #[test]
    fn pieces_are_sized_for_the_connections() {
        assert_eq!(piece_size(1 << 30, 8), 16 << 20);
        assert_eq!(piece_size(8 << 20, 8), MIN_PIECE);
        assert_eq!(piece_size(1 << 40, 8), MAX_PIECE);
        assert_eq!(piece_size(100 << 20, 0), 12_800 << 10);
        let pieces = plan(1 << 30, &Spans::default(), piece_size(1 << 30, 8));
        assert_eq!(pieces.len(), 64);
        assert_eq!(pieces.iter().map(|p| p.end - p.start).sum::<u64>(), 1 << 30);
    }
}
