//! Progress in bytes for long file work (a move, an export, an import): at
//! most one report per 1/200th of the total, and per 4 MiB, so a sink that
//! prints, or crosses to the page, is not flooded by a file of small writes.

/// Counts bytes and reports `(done, total)` now and then.
pub(crate) struct ByteProgress<F: FnMut(u64, u64)> {
    /// Bytes done.
    pub done: u64,
    /// Of (it may be learnt late: an archive's index).
    pub total: u64,
    said: u64,
    report: F,
}

impl<F: FnMut(u64, u64)> ByteProgress<F> {
    pub fn new(total: u64, report: F) -> Self {
        Self {
            done: 0,
            total,
            said: 0,
            report,
        }
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.done - self.said >= (self.total / 200).max(4 << 20) {
            self.say();
        }
    }

    /// Reports now.
    pub fn say(&mut self) {
        self.said = self.done;
        (self.report)(self.done, self.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_spaced_and_the_last_one_is_asked_for() {
        let mut seen = Vec::new();
        let mut p = ByteProgress::new(1 << 30, |d, t| seen.push((d, t)));
        for _ in 0..100 {
            p.add(1 << 20);
        }
        p.say();
        // 1/200th of 1 GiB is 5.1 MiB: a report every 6 MiB, and the last.
        assert_eq!(seen.len(), 17, "{seen:?}");
        assert_eq!(seen.last(), Some(&(100 << 20, 1 << 30)));
    }
}
