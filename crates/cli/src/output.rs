//! How the CLI prints: JSON on stdout, or tables and sizes for people.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use haid_models::error::{Error, Result};
use serde::Serialize;

/// One JSON document on stdout.
pub fn print_json(value: &impl Serialize) -> Result<()> {
    // Buffered: stdout is line-buffered, and pretty JSON of a big cache is
    // tens of thousands of lines (one write each, unbuffered).
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::other)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush())
        .map_err(|e| Error::Io {
            action: "write to",
            path: "stdout".into(),
            source: e,
        })
}

/// One JSON object on one line (NDJSON), written at once so concurrent
/// writers never interleave.
pub fn print_json_line(value: &impl Serialize) {
    if let Ok(mut line) = serde_json::to_vec(value) {
        line.push(b'\n');
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&line).and_then(|()| out.flush());
    }
}

/// `1.3 GB`: decimal units, as the hub and `hf cache ls` show sizes.
pub fn size(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::DECIMAL)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The time of day (UTC) for log lines, `HH:MM:SS`.
pub fn clock() -> String {
    let secs = now().rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// "3 days ago". Hand-written: the crates that do this (chrono-humanize,
/// timeago) pull in a date library for ten lines of arithmetic.
pub fn ago(time: i64, now: i64) -> String {
    let secs = now.saturating_sub(time).max(0);
    let (n, unit) = match secs {
        0..=59 => return "just now".into(),
        60..=3_599 => (secs / 60, "minute"),
        3_600..=86_399 => (secs / 3_600, "hour"),
        86_400..=604_799 => (secs / 86_400, "day"),
        604_800..=2_591_999 => (secs / 604_800, "week"),
        2_592_000..=31_535_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A borderless table like `hf cache ls`, numbers right-aligned.
pub fn table(header: &[&str], right_aligned: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for &i in right_aligned {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// Prints a table without the padding comfy-table leaves at line ends.
pub fn print_table(table: &Table) {
    for line in table.lines() {
        println!("{}", line.trim_end());
    }
}

/// Up to ten warnings on stderr, then how many more.
pub fn warnings(list: &[haid_models::cache::ScanWarning]) {
    const SHOWN: usize = 10;
    if list.is_empty() {
        return;
    }
    eprintln!("\n{} warning(s):", list.len());
    for w in list.iter().take(SHOWN) {
        eprintln!("  {}: {}", w.path.display(), w.message);
    }
    if list.len() > SHOWN {
        eprintln!(
            "  … and {} more (see them all with --json)",
            list.len() - SHOWN
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(100, 100), "just now");
        assert_eq!(ago(0, 60), "1 minute ago");
        assert_eq!(ago(0, 7_200), "2 hours ago");
        assert_eq!(ago(0, 3 * 86_400), "3 days ago");
        assert_eq!(ago(0, 400 * 86_400), "1 year ago");
        assert_eq!(ago(200, 100), "just now");
    }

    #[test]
    fn sizes_are_decimal() {
        assert_eq!(size(1_340_000_000), "1.34 GB");
        assert_eq!(size(999), "999 B");
    }
}
