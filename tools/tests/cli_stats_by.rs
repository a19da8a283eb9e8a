//! `outcore stats ARRAY --by KEYS` through the built binary: a CSV converted by the binary,
//! grouped by a category column (labelled with its names, missing values left out) and by two
//! columns, `--json` parsed into typed structs and checked against the CSV read back serially;
//! the text table; one-line errors for keys that do not fit.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{error, json, ok, s, Reference, StatsEntry};
use serde::Deserialize;

/// `outcore stats --by --json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupedStatsOutput {
    path: String,
    data_type: String,
    shape: Vec<u64>,
    by: Vec<String>,
    groups: Vec<GroupEntry>,
}

/// `GroupedStatsOutput.groups[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    keys: Vec<String>,
    codes: Vec<i64>,
    count: u64,
    nan_count: u64,
    min: Option<f64>,
    max: Option<f64>,
    sum: Option<f64>,
    mean: Option<f64>,
    std: Option<f64>,
}

impl GroupEntry {
    /// The entry in `stats`' own form, for [`Reference::check`].
    fn as_stats(&self) -> StatsEntry {
        StatsEntry {
            index: None,
            count: self.count,
            nan_count: self.nan_count,
            min: self.min,
            max: self.max,
            sum: self.sum,
            mean: self.mean,
            std: self.std,
        }
    }
}

/// Checks a group's statistics against its values; a group without a non-NaN value (disputes
/// never have a tip) has a zero sum and no other statistic (null).
fn check(group: &GroupEntry, values: &[f64], what: &str) {
    if values.iter().all(|v| v.is_nan()) {
        assert_eq!(
            (group.count, group.nan_count, group.sum),
            (values.len() as u64, values.len() as u64, Some(0.0)),
            "{what}"
        );
        assert!(
            [group.min, group.max, group.mean, group.std]
                .iter()
                .all(Option::is_none),
            "{what}: {group:?}"
        );
    } else {
        Reference::of(values.iter().copied()).check(&group.as_stats(), 1e-12, what);
    }
}

const PAYMENTS: [&str; 4] = ["Cash", "Credit card", "Dispute", "No charge"];

/// Writes a trips CSV: payment (text, empty one row in 13), passengers 1..4, a tip (empty
/// one row in 7, always for disputes). Returns the rows as (payment, passengers, tip).
fn write_trips(path: &Path, rows: usize) -> Vec<(String, i64, f64)> {
    let mut text = String::from("payment,passengers,tip\n");
    let mut out = Vec::new();
    for i in 0..rows {
        let payment = if i % 13 == 5 {
            ""
        } else {
            PAYMENTS[(i * 7 + i / 3) % 4]
        };
        let passengers = (i % 4) as i64 + 1;
        let tip = if payment == "Dispute" || i % 7 == 2 {
            f64::NAN
        } else {
            ((i * 37) % 1000) as f64 / 100.0
        };
        let tip_text = if tip.is_nan() {
            String::new()
        } else {
            format!("{tip}")
        };
        text += &format!("{payment},{passengers},{tip_text}\n");
        out.push((payment.to_string(), passengers, tip));
    }
    std::fs::write(path, text).unwrap();
    out
}

#[test]
fn stats_by_a_category_and_by_two_columns() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("trips.csv");
    let rows = write_trips(&csv, 5000);
    let store = dir.path().join("taxi.zarr");
    ok(&["convert", s(&csv), s(&store), "--chunks", "300", "-q"]);
    let tip = store.join("tip");

    let report: GroupedStatsOutput = json(&["stats", s(&tip), "--by", "payment"]);
    assert_eq!(
        (
            report.path.as_str(),
            report.data_type.as_str(),
            &report.shape[..]
        ),
        (s(&tip), "float64", &[5000][..])
    );
    assert_eq!(report.by, [s(&store.join("payment"))]);
    let mut serial: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (payment, _, tip) in &rows {
        if !payment.is_empty() {
            serial.entry(payment).or_default().push(*tip);
        }
    }
    let labels: Vec<&str> = report.groups.iter().map(|g| g.keys[0].as_str()).collect();
    assert_eq!(labels, serial.keys().copied().collect::<Vec<_>>());
    for (g, (name, tips)) in report.groups.iter().zip(&serial) {
        assert_eq!(
            g.codes,
            [PAYMENTS.iter().position(|p| p == name).unwrap() as i64]
        );
        check(g, tips, name);
    }

    let report: GroupedStatsOutput = json(&["stats", s(&tip), "--by", "payment,passengers"]);
    let mut serial: BTreeMap<(&str, i64), Vec<f64>> = BTreeMap::new();
    for (payment, passengers, tip) in &rows {
        if !payment.is_empty() {
            serial.entry((payment, *passengers)).or_default().push(*tip);
        }
    }
    assert_eq!(report.groups.len(), serial.len());
    for (g, ((name, passengers), tips)) in report.groups.iter().zip(&serial) {
        assert_eq!(g.keys, [name.to_string(), passengers.to_string()]);
        check(g, tips, name);
    }

    let text = ok(&["stats", s(&tip), "--by", "payment"]);
    assert!(text.contains("by payment"), "{text}");
    for name in PAYMENTS {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "no row for {name}: {text}"
        );
    }
    assert_eq!(text.lines().count(), 2 + PAYMENTS.len(), "{text}");
}

#[test]
fn stats_by_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("trips.csv");
    write_trips(&csv, 100);
    let store = dir.path().join("taxi.zarr");
    ok(&["convert", s(&csv), s(&store), "-q"]);
    let other = dir.path().join("short.csv");
    write_trips(&other, 99);
    let short = dir.path().join("short.zarr");
    ok(&["convert", s(&other), s(&short), "-q"]);
    let tip = store.join("tip");

    let message = error(&["stats", s(&tip), "--by", "nothing"]);
    assert!(message.contains("nothing"), "{message}");
    let message = error(&["stats", s(&tip), "--by", s(&short.join("payment"))]);
    assert!(message.contains("shape"), "{message}");
    let message = error(&["stats", s(&tip), "--by", "tip"]);
    assert!(message.contains("float64"), "{message}");
    let message = error(&["stats", s(&tip), "--by", "payment", "--axis", "0"]);
    assert!(message.contains("--axis"), "{message}");
}
