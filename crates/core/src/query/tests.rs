use super::*;
use crate::status::ModelState;

fn model(id: &str, size: u64, accessed: Option<i64>, state: ModelState) -> ModelStatus {
    ModelStatus {
        id: id.into(),
        name: id.into(),
        team: "t".into(),
        dimensions: None,
        size_mb: None,
        link: None,
        state,
        size_on_disk: size,
        path: None,
        last_accessed: accessed,
        last_modified: accessed,
        refs: vec!["main".into()],
        revision: "main".into(),
        commit: None,
        to_get_bytes: None,
    }
}

const NOW: i64 = 1_000_000;

#[test]
fn size_filters_use_decimal_units_like_hf() {
    let f: Filter = "size>1GB".parse().unwrap();
    assert!(f.matches(
        &model("a", 1_000_000_001, None, ModelState::Downloaded),
        NOW
    ));
    assert!(!f.matches(
        &model("a", 1_000_000_000, None, ModelState::Downloaded),
        NOW
    ));
    let f: Filter = "size <= 500k".parse().unwrap();
    assert!(f.matches(&model("a", 500_000, None, ModelState::Downloaded), NOW));
    let f: Filter = "size=42".parse().unwrap();
    assert!(f.matches(&model("a", 42, None, ModelState::Downloaded), NOW));
}

#[test]
fn age_filters_compare_against_now() {
    let f: Filter = "accessed>7d".parse().unwrap();
    let old = model("a", 0, Some(NOW - 8 * 86_400), ModelState::Downloaded);
    let new = model("b", 0, Some(NOW - 3_600), ModelState::Downloaded);
    let never = model("c", 0, None, ModelState::NotDownloaded);
    assert!(f.matches(&old, NOW));
    assert!(!f.matches(&new, NOW));
    assert!(!f.matches(&never, NOW), "no time never matches");
    let f: Filter = "modified<2h".parse().unwrap();
    assert!(f.matches(&new, NOW));
}

#[test]
fn text_filters() {
    let row = model("a", 0, None, ModelState::Partial);
    assert!("state=partial"
        .parse::<Filter>()
        .unwrap()
        .matches(&row, NOW));
    assert!("state!=downloaded"
        .parse::<Filter>()
        .unwrap()
        .matches(&row, NOW));
    assert!("type=MODEL".parse::<Filter>().unwrap().matches(&row, NOW));
    assert!("refs=main".parse::<Filter>().unwrap().matches(&row, NOW));
    assert!(!"refs=v2".parse::<Filter>().unwrap().matches(&row, NOW));
}

#[test]
fn bad_filters_explain_themselves() {
    for (expr, says) in [
        ("size", "KEY OP VALUE"),
        ("colour=red", "unknown key"),
        ("size>1XB", "unknown unit"),
        ("size>big", "not a number"),
        ("type>model", "only supports = and !="),
        ("accessed>", "KEY OP VALUE"),
    ] {
        let msg = expr.parse::<Filter>().unwrap_err().to_string();
        assert!(msg.contains(says), "{expr}: {msg}");
    }
}

#[test]
fn sort_defaults_and_directions() {
    let mut rows = vec![
        model("b", 10, Some(5), ModelState::Downloaded),
        model("A", 30, Some(1), ModelState::Downloaded),
        model("c", 20, Some(9), ModelState::Downloaded),
    ];
    let ids = |rows: &[ModelStatus]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    "name".parse::<SortKey>().unwrap().sort(&mut rows);
    assert_eq!(ids(&rows), ["A", "b", "c"]);
    "size".parse::<SortKey>().unwrap().sort(&mut rows);
    assert_eq!(ids(&rows), ["A", "c", "b"]);
    "size:asc".parse::<SortKey>().unwrap().sort(&mut rows);
    assert_eq!(ids(&rows), ["b", "c", "A"]);
    "accessed".parse::<SortKey>().unwrap().sort(&mut rows);
    assert_eq!(ids(&rows), ["c", "b", "A"]);
    assert!("colour".parse::<SortKey>().is_err());
    assert!("name:up".parse::<SortKey>().is_err());
}

#[test]
fn budget_sizes_read_as_hf_writes_them() {
    assert_eq!(parse_size("50GB"), Ok(50_000_000_000));
    assert_eq!(parse_size("800MB"), Ok(800_000_000));
    assert_eq!(parse_size("123B"), Ok(123));
    assert_eq!(parse_size(" 10 "), Ok(10));
    assert!(parse_size("lots").is_err());
    assert!(parse_size("5XB").is_err());
}
