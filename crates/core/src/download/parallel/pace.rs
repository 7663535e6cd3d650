//! How fast the connections of a big file go: when one stream is too slow
//! for the file ([`SlowWatch`]), and which connection of several is so much
//! slower than the others that it is replaced ([`slow_ones`]).

use std::time::Duration;

use super::super::spans;

/// One connection faster than this is not held back by a CDN (they hold
/// connections to some tens of MB/s): more would only share the same CPU,
/// which hashes and writes at about 1 GB/s on 2 cores. Measured on loopback
/// (BENCHMARKS.md, "Parallel ranges"): 1 GiB in ranges took 1.7–3.0 s on 8
/// connections, and 1.85–2.4 s even on one, against 1.3–2.0 s as one stream.
pub const ONE_IS_ENOUGH: u64 = 200 << 20;
/// How long the first connection runs alone before the others are opened,
/// and how often it is measured after that while it stays alone.
pub(super) const PROBE: Duration = Duration::from_millis(300);

/// Watches a big file's one stream (`transfer`): under [`ONE_IS_ENOUGH`]
/// over a [`PROBE`], with at least two pieces left, it should go on in ranges.
#[derive(Debug)]
pub(crate) struct SlowWatch {
    deadline: tokio::time::Instant,
    from: u64,
}

impl SlowWatch {
    /// Watching from `len` bytes on disk.
    pub(crate) fn new(len: u64) -> Self {
        Self {
            deadline: tokio::time::Instant::now() + PROBE,
            from: len,
        }
    }

    /// Until the next measure (never, without a watch).
    pub(crate) async fn wait(watch: Option<&Self>) {
        match watch {
            Some(w) => tokio::time::sleep_until(w.deadline).await,
            None => std::future::pending().await,
        }
    }

    /// At the measure: whether the stream, now at `len` of `size`, is too slow.
    pub(crate) fn is_slow(&mut self, len: u64, size: u64) -> bool {
        let rate = len.saturating_sub(self.from) as f64 / PROBE.as_secs_f64();
        self.from = len;
        self.deadline += PROBE;
        rate < ONE_IS_ENOUGH as f64 && size.saturating_sub(len) >= 2 * spans::MIN_PIECE
    }
}

/// Seconds in a row under a quarter of the median that get a connection replaced.
pub const SLOW_TICKS: u32 = 3;
pub(super) const TICK: Duration = Duration::from_secs(1);

/// The connections to replace: under a quarter of the median of those
/// running, for [`SLOW_TICKS`] ticks in a row. `slow` counts the ticks.
/// `median` is the last median of two or more: the last connection of a
/// file, alone once the others are done, is held to what they ran at.
pub(super) fn slow_ones(deltas: &[(usize, u64)], slow: &mut [u32], median: &mut u64) -> Vec<usize> {
    if deltas.len() >= 2 {
        let mut sorted: Vec<u64> = deltas.iter().map(|d| d.1).collect();
        sorted.sort_unstable();
        *median = sorted[sorted.len() / 2];
    }
    let median = *median;
    let mut out = Vec::new();
    for &(i, delta) in deltas {
        if median > 0 && delta.saturating_mul(4) < median {
            slow[i] += 1;
            if slow[i] >= SLOW_TICKS {
                slow[i] = 0;
                out.push(i);
            }
        } else {
            slow[i] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_far_below_the_others_is_replaced_after_a_few_ticks() {
        let (mut slow, mut median) = (vec![0; 4], 0);
        let ticks = [(0, 1000), (1, 900), (2, 1100), (3, 100)];
        for _ in 1..SLOW_TICKS {
            assert!(slow_ones(&ticks, &mut slow, &mut median).is_empty());
        }
        assert_eq!(slow_ones(&ticks, &mut slow, &mut median), vec![3]);
        // A stall is the slowest of all; one good tick forgives.
        let stalled = [(0, 1000), (1, 0), (2, 1000)];
        slow_ones(&stalled, &mut slow, &mut median);
        slow_ones(&[(0, 1000), (1, 800), (2, 1000)], &mut slow, &mut median);
        for _ in 1..SLOW_TICKS {
            assert!(slow_ones(&stalled, &mut slow, &mut median).is_empty());
        }
        assert_eq!(slow_ones(&stalled, &mut slow, &mut median), vec![1]);
        // Left alone, a stalled connection is held to what the others ran at.
        for _ in 1..SLOW_TICKS {
            assert!(slow_ones(&[(1, 0)], &mut slow, &mut median).is_empty());
        }
        assert_eq!(slow_ones(&[(1, 0)], &mut slow, &mut median), vec![1]);
        // All stalled from the start (the network, not one connection): nobody.
        let (mut slow, mut median) = (vec![0; 2], 0);
        for _ in 0..10 {
            assert!(slow_ones(&[(0, 0)], &mut slow, &mut median).is_empty());
            assert!(slow_ones(&[(0, 0), (1, 0)], &mut slow, &mut median).is_empty());
        }
    }

    #[test]
    fn a_slow_stream_goes_over_to_ranges_a_fast_one_stays() {
        const MIB: u64 = 1 << 20;
        let size = 1 << 30;
        let mut watch = SlowWatch::new(0);
        // 100 MiB in a probe of 0.3 s: 333 MiB/s, one stream is enough.
        assert!(!watch.is_slow(100 * MIB, size));
        // 3 MiB more: 10 MiB/s, a connection a CDN holds back.
        assert!(watch.is_slow(103 * MIB, size));
        // Slow, but less than two pieces left: not worth it.
        let mut near_end = SlowWatch::new(size - MIB - 1000);
        assert!(!near_end.is_slow(size - MIB, size));
    }
}
