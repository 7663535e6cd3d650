//! How the CLI prints: JSON on stdout, or tables and sizes for people.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use haid_models::error::Result;
use serde::Serialize;

use crate::stdout;

/// One JSON document on stdout.
pub fn print_json(value: &impl Serialize) -> Result<()> {
    // `io::Error::from` keeps the kind of a failed write (a broken pipe
    // must stay one); serde's own errors become InvalidData.
    stdout::write_with(|out| {
        serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
        writeln!(out)
    })
}

/// One JSON object on one line (NDJSON). Other threads' lines never
/// interleave with it: stdout stays locked until it is written.
pub fn print_json_line(value: &impl Serialize) -> Result<()> {
    stdout::write_with(|out| {
        serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
        writeln!(out)
    })
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
pub fn print_table(table: &Table) -> Result<()> {
    stdout::write_with(|out| {
        table
            .lines()
            .try_for_each(|line| writeln!(out, "{}", line.trim_end()))
    })
}

/// `s` with every control character written out as `\xNN`: C0 (ESC, the
/// start of every ANSI sequence, and newlines that would break a table
/// row), DEL and C1 (`\u{9b}` starts a sequence on its own). Text from a
/// file (a manifest's names, teams, links, types) can then neither recolour
/// the terminal, nor move the cursor, nor rewrite what was printed: it shows
/// as written. Borrowed when there is nothing to escape, the usual case.
/// JSON output is left alone: serde writes C0 (ESC included) as `\u001b`,
/// and a script must get the text exact.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            // Every control character is below U+0100: two hex digits.
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Up to ten warnings on stderr, then how many more.
pub fn warnings(list: &[haid_models::cache::ScanWarning]) {
    const SHOWN: usize = 10;
    if list.is_empty() {
        return;
    }
    eprintln!("\n{} warning(s):", list.len());
    for w in list.iter().take(SHOWN) {
        let line = format!("{}: {}", w.path.display(), w.message);
        eprintln!("  {}", terminal_safe(&line));
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
    fn ansi_sequences_show_as_text() {
        assert_eq!(
            terminal_safe("\u{1b}[31mred\u{1b}[0m"),
            "\\x1b[31mred\\x1b[0m"
        );
        assert_eq!(terminal_safe("\u{1b}]0;title\u{7}"), "\\x1b]0;title\\x07");
    }

    #[test]
    fn every_control_character_is_escaped() {
        assert_eq!(terminal_safe("a\tb\nc\rd\0"), "a\\x09b\\x0ac\\x0dd\\x00");
        assert_eq!(terminal_safe("del\u{7f}"), "del\\x7f");
        // C1: CSI (U+009B) and NEL (U+0085) are one character each.
        assert_eq!(terminal_safe("\u{9b}2J\u{85}"), "\\x9b2J\\x85");
        let all: String = (0u32..0x100).filter_map(char::from_u32).collect();
        assert!(!terminal_safe(&all).chars().any(char::is_control));
    }

    #[test]
    fn clean_text_is_borrowed_as_is() {
        for text in ["BAAI/bge-large-en-v1.5", "Modèle — 日本語 🤗", ""] {
            assert!(matches!(terminal_safe(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn sizes_are_decimal() {
        assert_eq!(size(1_340_000_000), "1.34 GB");
        assert_eq!(size(999), "999 B");
    }
}
