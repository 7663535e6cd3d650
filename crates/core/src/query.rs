//! `--filter` and `--sort` for listings, with the syntax of `hf cache ls`:
//! `size>1GB`, `accessed>7d`, `modified<=2w`, `type=model`, `refs=main`, plus
//! `state=partial`; sort keys `name`, `size`, `accessed`, `modified` with
//! an optional `:asc`/`:desc`.

use std::cmp::Ordering;
use std::str::FromStr;

use crate::cache::CachedRepo;
use crate::error::Error;
use crate::status::ModelStatus;

/// What a filter or sort can ask of a row.
pub trait Row {
    /// What `sort=name` compares: the repo id.
    fn name(&self) -> String;
    /// Bytes on disk (`size>1GB`).
    fn size(&self) -> u64;
    /// Last access, Unix seconds (`accessed>7d`); `None` when not on disk.
    fn accessed(&self) -> Option<i64>;
    /// Last change, Unix seconds (`modified<=2w`); `None` when not on disk.
    fn modified(&self) -> Option<i64>;
    /// `model`, `dataset`, … (`type=model`).
    fn repo_type(&self) -> &str;
    /// The refs it has (`refs=main`).
    fn refs(&self) -> Vec<&str>;
    /// Its state (`state=partial`).
    fn state(&self) -> &str;
}

impl Row for CachedRepo {
    fn name(&self) -> String {
        format!("{}/{}", self.repo.repo_type(), self.repo.id())
    }
    fn size(&self) -> u64 {
        self.size_on_disk
    }
    fn accessed(&self) -> Option<i64> {
        Some(self.last_accessed)
    }
    fn modified(&self) -> Option<i64> {
        Some(self.last_modified)
    }
    fn repo_type(&self) -> &str {
        self.repo.repo_type().as_str()
    }
    fn refs(&self) -> Vec<&str> {
        self.refs.keys().map(String::as_str).collect()
    }
    fn state(&self) -> &str {
        self.state.as_str()
    }
}

impl Row for ModelStatus {
    fn name(&self) -> String {
        self.id.clone()
    }
    fn size(&self) -> u64 {
        self.size_on_disk
    }
    fn accessed(&self) -> Option<i64> {
        self.last_accessed
    }
    fn modified(&self) -> Option<i64> {
        self.last_modified
    }
    fn repo_type(&self) -> &str {
        "model"
    }
    fn refs(&self) -> Vec<&str> {
        self.refs.iter().map(String::as_str).collect()
    }
    fn state(&self) -> &str {
        self.state.as_str()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

impl Op {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Gt => ord == Ordering::Greater,
            Op::Lt => ord == Ordering::Less,
            Op::Ge => ord != Ordering::Less,
            Op::Le => ord != Ordering::Greater,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    Size(u64),
    Accessed(i64),
    Modified(i64),
    Type(String),
    Refs(String),
    State(String),
}

/// One parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    op: Op,
    test: Test,
}

const FILTER_KEYS: &str = "size, accessed, modified, type, refs, state";

impl FromStr for Filter {
    type Err = Error;

    fn from_str(expr: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::InvalidArgument {
            what: "filter",
            value: expr.to_owned(),
            reason,
        };
        let (key, op, value) = split_expr(expr.trim()).ok_or_else(|| {
            bad("write it as KEY OP VALUE, e.g. size>1GB, accessed>7d, type=model".into())
        })?;
        let test = match key.to_ascii_lowercase().as_str() {
            "size" => Test::Size(parse_with_unit(value, BYTE_UNITS).map_err(bad)?),
            "accessed" => Test::Accessed(parse_with_unit(value, TIME_UNITS).map_err(bad)? as i64),
            "modified" => Test::Modified(parse_with_unit(value, TIME_UNITS).map_err(bad)? as i64),
            "type" => Test::Type(value.to_ascii_lowercase()),
            "refs" => Test::Refs(value.to_ascii_lowercase()),
            "state" => Test::State(value.to_ascii_lowercase()),
            other => {
                return Err(bad(format!(
                    "unknown key {other:?}; use one of {FILTER_KEYS}"
                )))
            }
        };
        let equality_only = matches!(test, Test::Type(_) | Test::Refs(_) | Test::State(_));
        if equality_only && !matches!(op, Op::Eq | Op::Ne) {
            return Err(bad(format!("{key} only supports = and !=")));
        }
        Ok(Self { op, test })
    }
}

impl Filter {
    /// Whether `row` passes; `now` is Unix seconds (ages are `now - time`).
    pub fn matches(&self, row: &impl Row, now: i64) -> bool {
        let age = |t: Option<i64>| t.map(|t| now.saturating_sub(t));
        let text = |have: &str, want: &str| have.eq_ignore_ascii_case(want);
        let ord = match &self.test {
            Test::Size(n) => Some(row.size().cmp(n)),
            Test::Accessed(secs) => age(row.accessed()).map(|a| a.cmp(secs)),
            Test::Modified(secs) => age(row.modified()).map(|a| a.cmp(secs)),
            Test::Type(t) => Some(equal(text(row.repo_type(), t))),
            Test::Refs(r) => Some(equal(row.refs().iter().any(|x| text(x, r)))),
            Test::State(s) => Some(equal(text(row.state(), s))),
        };
        ord.is_some_and(|o| self.op.holds(o))
    }
}

fn equal(yes: bool) -> Ordering {
    if yes {
        Ordering::Equal
    } else {
        Ordering::Less
    }
}

fn split_expr(expr: &str) -> Option<(&str, Op, &str)> {
    let start = expr.find(['=', '!', '>', '<'])?;
    let (key, rest) = expr.split_at(start);
    let (op, len) = [
        ("==", Op::Eq, 2),
        ("!=", Op::Ne, 2),
        (">=", Op::Ge, 2),
        ("<=", Op::Le, 2),
        (">", Op::Gt, 1),
        ("<", Op::Lt, 1),
        ("=", Op::Eq, 1),
    ]
    .into_iter()
    .find(|(s, _, _)| rest.starts_with(s))
    .map(|(_, op, len)| (op, len))?;
    let (key, value) = (key.trim(), rest[len..].trim());
    (!key.is_empty() && !value.is_empty()).then_some((key, op, value))
}

const BYTE_UNITS: &[(&str, u64)] = &[
    ("k", 1_000),
    ("kb", 1_000),
    ("m", 1_000_000),
    ("mb", 1_000_000),
    ("g", 1_000_000_000),
    ("gb", 1_000_000_000),
    ("t", 1_000_000_000_000),
    ("tb", 1_000_000_000_000),
    ("p", 1_000_000_000_000_000),
    ("pb", 1_000_000_000_000_000),
];

const TIME_UNITS: &[(&str, u64)] = &[
    ("s", 1),
    ("m", 60),
    ("h", 3_600),
    ("d", 86_400),
    ("w", 604_800),
    ("mo", 2_592_000),
    ("y", 31_536_000),
];

/// A size as `hf cache` writes it, in decimal units: `50GB`, `800MB`, `123B`, `10`.
pub fn parse_size(value: &str) -> Result<u64, String> {
    let v = value.trim();
    // A plain byte count may carry its `B`.
    if let Some(n) = v
        .strip_suffix(['b', 'B'])
        .and_then(|n| n.parse::<u64>().ok())
    {
        return Ok(n);
    }
    parse_with_unit(v, BYTE_UNITS)
}

/// `10`, `10GB`, `7d`, … as huggingface_hub's `parse_size`/`parse_duration`.
fn parse_with_unit(value: &str, units: &[(&str, u64)]) -> Result<u64, String> {
    if let Ok(n) = value.parse::<u64>() {
        return Ok(n);
    }
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a number with a unit, e.g. 1GB or 7d"))?;
    let unit = unit.to_ascii_lowercase();
    let known: Vec<&str> = units.iter().map(|(u, _)| *u).collect();
    let factor = units
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, f)| *f)
        .ok_or_else(|| format!("unknown unit {unit:?}; use one of {}", known.join(", ")))?;
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{value:?} is too large"))
}

/// A sort order: key and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    key: SortField,
    descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortField {
    Name,
    Size,
    Accessed,
    Modified,
}

impl FromStr for SortKey {
    type Err = Error;

    /// `name` sorts A→Z by default; `size`, `accessed` and `modified` biggest
    /// or newest first, as `hf cache ls` does.
    fn from_str(expr: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidArgument {
            what: "sort key",
            value: expr.to_owned(),
            reason: reason.to_owned(),
        };
        let lower = expr.trim().to_ascii_lowercase();
        let (key, order) = lower.split_once(':').unwrap_or((&lower, ""));
        let key = match key {
            "name" => SortField::Name,
            "size" => SortField::Size,
            "accessed" => SortField::Accessed,
            "modified" => SortField::Modified,
            _ => {
                return Err(bad(
                    "use name, size, accessed or modified (optionally :asc or :desc)",
                ))
            }
        };
        let descending = match order {
            "" => key != SortField::Name,
            "asc" => false,
            "desc" => true,
            _ => return Err(bad("the order after ':' is asc or desc")),
        };
        Ok(Self { key, descending })
    }
}

impl SortKey {
    /// Sorts rows in place; ties keep their order by name.
    pub fn sort<R: Row>(&self, rows: &mut [R]) {
        rows.sort_by(|a, b| {
            let ord = match self.key {
                SortField::Name => a.name().to_lowercase().cmp(&b.name().to_lowercase()),
                SortField::Size => a.size().cmp(&b.size()),
                SortField::Accessed => a.accessed().cmp(&b.accessed()),
                SortField::Modified => a.modified().cmp(&b.modified()),
            };
            let ord = if self.descending { ord.reverse() } else { ord };
            ord.then_with(|| a.name().cmp(&b.name()))
        });
    }
}

#[cfg(test)]
mod tests;
