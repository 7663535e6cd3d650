//! A bandwidth limit shared by every download of the process (`--limit-rate`,
//! and the app's setting), which can change while they run.
//!
//! A token bucket that may go into debt: a chunk is taken whole, and the
//! taker then sleeps until the bucket has paid for it. Chunks are small (the
//! HTTP body's frames, tens of KiB), so the rate is smooth at the scale of a
//! progress bar. Written here because the crates for this (governor, …) count
//! cells of fixed size and cannot change their rate in place.

use std::sync::{Arc, Mutex};
use std::time::Duration;

// Tokio's clock, which its sleeps follow (and a test can pause).
use tokio::time::Instant;

/// What may arrive at once after a pause: a quarter of a second's worth.
const BURST: f64 = 0.25;

/// Bytes per second for all downloads together; 0 is no limit. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct RateLimit {
    bucket: Arc<Mutex<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    rate: u64,
    /// Bytes that may still pass now; negative while chunks taken are unpaid.
    balance: f64,
    last: Instant,
}

impl Default for Bucket {
    fn default() -> Self {
        Self {
            rate: 0,
            balance: 0.0,
            last: Instant::now(),
        }
    }
}

impl RateLimit {
    /// A limit of `bytes_per_second` (0: none).
    pub fn new(bytes_per_second: u64) -> Self {
        let limit = Self::default();
        limit.set(bytes_per_second);
        limit
    }

    /// Changes the limit for every download, at once.
    pub fn set(&self, bytes_per_second: u64) {
        if let Ok(mut b) = self.bucket.lock() {
            b.rate = bytes_per_second;
            b.balance = b.balance.min(bytes_per_second as f64 * BURST);
            b.last = Instant::now();
        }
    }

    /// The limit now (0: none).
    pub fn rate(&self) -> u64 {
        self.bucket.lock().map_or(0, |b| b.rate)
    }

    /// Waits until `bytes` may pass.
    pub async fn take(&self, bytes: u64) {
        let wait = {
            let Ok(mut b) = self.bucket.lock() else {
                return;
            };
            if b.rate == 0 {
                return;
            }
            let now = Instant::now();
            let rate = b.rate as f64;
            let refill = now.duration_since(b.last).as_secs_f64() * rate;
            b.balance = (b.balance + refill).min(rate * BURST) - bytes as f64;
            b.last = now;
            (b.balance < 0.0).then(|| Duration::from_secs_f64(-b.balance / rate))
        };
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Parses a rate as curl's `--limit-rate` writes it: a number of bytes per
/// second, with an optional `K`, `M` or `G` (powers of 1024, as curl's), a
/// `B` after it allowed (`10MB`, `500K`, `1.5M`, `0`).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("{text:?} is not a rate; write it as curl does: 10MB, 500KB, 0 for none")
    })?;
    let scale = match unit.trim().to_ascii_uppercase().trim_end_matches('B') {
        "" => 1u64,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit; use K, M or G (KB, MB, GB), as curl does"
            ))
        }
    };
    Ok((value * scale as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_as_curl_reads_them() {
        assert_eq!(parse_rate("10MB"), Ok(10 << 20));
        assert_eq!(parse_rate("500K"), Ok(500 << 10));
        assert_eq!(parse_rate("500kb"), Ok(500 << 10));
        assert_eq!(parse_rate("1.5M"), Ok(1_572_864));
        assert_eq!(parse_rate("123"), Ok(123));
        assert_eq!(parse_rate("0"), Ok(0));
        assert!(parse_rate("fast").unwrap_err().contains("10MB"));
        assert!(parse_rate("10TB").unwrap_err().contains("unknown unit"));
        assert!(parse_rate("-1M").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_holds_and_changes_live() {
        let limit = RateLimit::new(1000);
        let start = tokio::time::Instant::now();
        for _ in 0..10 {
            limit.take(250).await;
        }
        // 2,500 bytes at 1,000/s (the bucket starts empty).
        let took = start.elapsed().as_secs_f64();
        assert!((2.45..=2.55).contains(&took), "{took}");
        limit.set(0);
        let start = tokio::time::Instant::now();
        limit.take(1 << 30).await;
        assert_eq!(start.elapsed(), Duration::ZERO, "0 is no limit");
    }
}
