//! After pass 1: each column's type, the bad rows, and where every input's good rows start.

use std::collections::HashMap;
use std::path::PathBuf;

use csv::ByteRecord;

use super::scan::{self, BadRow, ColumnScan, FastHash, Scan, Sniffed};
use super::value::{self, field, float_value, parse_datetime, parse_int};
use super::{CsvOptions, SkippedColumn, SkippedRow};
use crate::element::DataType;
use crate::error::{bad_input, invalid, Result};

/// What a converted column holds, decided after pass 1.
#[derive(Debug)]
pub(super) enum ColumnType {
    Int,
    Float,
    /// Counts of 10^-`digits` seconds.
    DateTime {
        digits: u8,
    },
    /// Codes into sorted values.
    Category {
        codes: HashMap<Box<[u8]>, i32, FastHash>,
        values: Vec<Box<[u8]>>,
        data_type: DataType,
    },
}

impl ColumnType {
    pub(super) fn data_type(&self) -> DataType {
        match self {
            ColumnType::Int | ColumnType::DateTime { .. } => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Category { data_type, .. } => *data_type,
        }
    }

    /// The value of one field, `None` when it does not fit the type (a bad row).
    pub(super) fn value(&self, v: &[u8]) -> Option<CellValue> {
        match self {
            ColumnType::Int => parse_int(v).map(CellValue::I),
            ColumnType::Float => float_value(v).map(CellValue::F),
            ColumnType::DateTime { digits } => {
                if value::is_missing(v) {
                    Some(CellValue::I(i64::MIN))
                } else {
                    // Every value was range-checked for these units in pass 1.
                    parse_datetime(v)
                        .and_then(|d| d.in_units(*digits))
                        .map(CellValue::I)
                }
            }
            ColumnType::Category { codes, .. } => {
                if v.is_empty() {
                    Some(CellValue::I(-1))
                } else {
                    codes.get(v).map(|&c| CellValue::I(i64::from(c)))
                }
            }
        }
    }
}

/// One converted value.
#[derive(Debug, Clone, Copy)]
pub(super) enum CellValue {
    I(i64),
    F(f64),
}

/// Why a column is not converted, or its type; and for numeric and date-time columns, the
/// rows whose values do not fit.
pub(super) fn decide(column: &ColumnScan) -> (Option<ColumnType>, Vec<BadRow>) {
    let present = column.present();
    let rare = |n: u64| n <= (present / 1000).max(1);
    let numbers = column.ints + column.floats;
    if column.datetimes == 0 && column.texts == 0 {
        let t = if column.floats == 0 && column.missing == 0 && column.ints > 0 {
            ColumnType::Int
        } else {
            ColumnType::Float
        };
        return (Some(t), Vec::new());
    }
    if numbers == 0 && column.texts == 0 {
        return (Some(datetime_type(column)), Vec::new());
    }
    let not_numbers = column.datetimes + column.texts;
    if numbers > 0 && rare(not_numbers) && !column.not_numeric.dropped {
        let t = if column.floats == 0 && column.missing == 0 {
            ColumnType::Int
        } else {
            ColumnType::Float
        };
        return (Some(t), column.not_numeric.rows.clone());
    }
    let not_datetimes = numbers + column.texts;
    if column.datetimes > 0 && rare(not_datetimes) && !column.not_datetime.dropped {
        return (
            Some(datetime_type(column)),
            column.not_datetime.rows.clone(),
        );
    }
    if column.too_many_categories {
        return (None, Vec::new());
    }
    let mut values: Vec<Box<[u8]>> = column.categories.iter().cloned().collect();
    values.sort();
    let codes = values
        .iter()
        .enumerate()
        .map(|(i, v)| (v.clone(), i as i32))
        .collect();
    let data_type = match values.len() {
        n if n <= i8::MAX as usize => DataType::Int8,
        n if n <= i16::MAX as usize => DataType::Int16,
        _ => DataType::Int32,
    };
    (
        Some(ColumnType::Category {
            codes,
            values,
            data_type,
        }),
        Vec::new(),
    )
}

/// The finest units (s, ms, µs, ns) the values need that still hold their range in int64.
pub(super) fn datetime_type(column: &ColumnScan) -> ColumnType {
    let mut digits = column.datetime_digits;
    while digits > 0 {
        let scale = 10i64.pow(u32::from(digits));
        let fits = column.datetime_min.checked_mul(scale).is_some()
            && column
                .datetime_max
                .checked_add(1)
                .and_then(|m| m.checked_mul(scale))
                .is_some();
        if fits {
            break;
        }
        digits -= 3;
    }
    ColumnType::DateTime { digits }
}

pub(super) fn units(digits: u8) -> String {
    let unit = match digits {
        0 => "seconds",
        3 => "milliseconds",
        6 => "microseconds",
        _ => "nanoseconds",
    };
    format!("{unit} since 1970-01-01T00:00:00")
}

/// A converted column.
#[derive(Debug)]
pub(super) struct Column {
    /// Position in the CSV.
    pub(super) index: usize,
    pub(super) header: String,
    pub(super) array: String,
    pub(super) kind: ColumnType,
    pub(super) missing: u64,
}

/// Everything pass 2 needs.
pub(super) struct ImportPlan {
    pub(super) inputs: Vec<PathBuf>,
    pub(super) header: bool,
    pub(super) ncols: usize,
    pub(super) stack: bool,
    pub(super) matrix: bool,
    pub(super) columns: Vec<Column>,
    pub(super) skipped_columns: Vec<SkippedColumn>,
    /// Sorted record numbers of rows with a value that does not fit its column.
    pub(super) type_bad: Vec<u64>,
    /// Good rows before each input's first row, and in each input.
    pub(super) good_start: Vec<u64>,
    pub(super) good_rows: Vec<u64>,
    pub(super) skipped_rows: u64,
    pub(super) first_skipped: Vec<SkippedRow>,
}

impl ImportPlan {
    pub(super) fn new(
        inputs: &[PathBuf],
        sniffed: &Sniffed,
        scan: &Scan,
        options: &CsvOptions,
        stack: bool,
    ) -> Result<ImportPlan> {
        let headers: Vec<String> = match &scan.header {
            Some(h) => h
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    if h.is_empty() {
                        format!("column_{i}")
                    } else {
                        h.clone()
                    }
                })
                .collect(),
            None => (0..sniffed.columns)
                .map(|i| format!("column_{i}"))
                .collect(),
        };
        let arrays = node_names(&headers);
        let mut columns = Vec::new();
        let mut skipped_columns = Vec::new();
        let mut bad: Vec<BadRow> = Vec::new();
        for (index, column) in scan.columns.iter().enumerate() {
            let (kind, rows) = decide(column);
            bad.extend(rows);
            match kind {
                Some(kind) => {
                    let missing = match kind {
                        ColumnType::Category { .. } => column.empty,
                        _ => column.missing,
                    };
                    columns.push(Column {
                        index,
                        header: headers[index].clone(),
                        array: arrays[index].clone(),
                        kind,
                        missing,
                    })
                }
                None => skipped_columns.push(SkippedColumn {
                    header: headers[index].clone(),
                    index,
                    reason: format!(
                        "text with more than {} distinct values",
                        options.max_categories
                    ),
                }),
            }
        }
        bad.sort_by_key(|b| b.ordinal);
        bad.dedup_by_key(|b| b.ordinal);
        let file_of = |ordinal: u64| {
            scan.files
                .partition_point(|f| f.first_ordinal <= ordinal)
                .saturating_sub(1)
        };
        if let Some(b) = bad.first() {
            if !options.skip_bad_rows {
                // The first bad row is the first exception of its column, the one with a
                // reason.
                let (column, why) = columns
                    .iter()
                    .find_map(|c| {
                        let rows = exceptions(c, scan)?;
                        let r = rows.first().filter(|r| r.ordinal == b.ordinal)?;
                        Some((c, r.reason.clone()))
                    })
                    .ok_or_else(|| invalid("internal: a bad row without a column"))?;
                return Err(bad_input(
                    &scan.files[file_of(b.ordinal)].path,
                    format!(
                        "line {}: column {:?}: {why} (the column is {})",
                        b.line,
                        column.header,
                        column.kind.data_type()
                    ),
                ));
            }
        }
        if options.matrix {
            if let Some(s) = skipped_columns.first() {
                return Err(bad_input(
                    &inputs[0],
                    format!(
                        "column {:?} is {}; a matrix import needs every column numeric",
                        s.header, s.reason
                    ),
                ));
            }
            if let Some(c) = columns
                .iter()
                .find(|c| !matches!(c.kind, ColumnType::Int | ColumnType::Float))
            {
                let what = match c.kind {
                    ColumnType::DateTime { .. } => "date-times",
                    _ => "text",
                };
                return Err(bad_input(
                    &inputs[0],
                    format!(
                        "column {:?} holds {what}; a matrix import needs every column numeric",
                        c.header
                    ),
                ));
            }
        }
        if columns.is_empty() {
            return Err(bad_input(&inputs[0], "no column can be converted"));
        }
        let type_bad: Vec<u64> = bad.iter().map(|b| b.ordinal).collect();
        let mut good_start = Vec::with_capacity(scan.files.len());
        let mut good_rows = Vec::with_capacity(scan.files.len());
        let mut start = 0;
        for file in &scan.files {
            let end = file.first_ordinal + file.records;
            let typed = type_bad.partition_point(|&o| o < end)
                - type_bad.partition_point(|&o| o < file.first_ordinal);
            let good = file.records - file.short - typed as u64;
            good_start.push(start);
            good_rows.push(good);
            start += good;
        }
        if start == 0 {
            return Err(bad_input(
                &inputs[0],
                "every row is bad: nothing to convert",
            ));
        }
        if stack {
            if let Some(i) = (1..good_rows.len()).find(|&i| good_rows[i] != good_rows[0]) {
                return Err(bad_input(
                    &inputs[i],
                    format!(
                        "{} rows, {} has {}: stacking needs the same number of rows in every input",
                        good_rows[i],
                        inputs[0].display(),
                        good_rows[0]
                    ),
                ));
            }
        }
        let mut skipped: Vec<(u64, SkippedRow)> = scan
            .short_first
            .iter()
            .map(|(f, b)| {
                (
                    b.ordinal,
                    SkippedRow {
                        file: scan.files[*f].path.clone(),
                        line: b.line,
                        reason: b.reason.clone(),
                    },
                )
            })
            .collect();
        for b in bad.iter().take(scan::REPORTED_BAD_ROWS) {
            let reason = columns
                .iter()
                .find(|c| {
                    exceptions(c, scan).is_some_and(|rows| {
                        rows.binary_search_by_key(&b.ordinal, |r| r.ordinal).is_ok()
                    })
                })
                .map(|c| format!("column {:?} does not fit {}", c.header, c.kind.data_type()))
                .unwrap_or_default();
            skipped.push((
                b.ordinal,
                SkippedRow {
                    file: scan.files[file_of(b.ordinal)].path.clone(),
                    line: b.line,
                    reason,
                },
            ));
        }
        skipped.sort_by_key(|(o, _)| *o);
        skipped.truncate(scan::REPORTED_BAD_ROWS);
        Ok(ImportPlan {
            inputs: inputs.to_vec(),
            header: sniffed.header,
            ncols: sniffed.columns,
            stack,
            matrix: options.matrix,
            columns,
            skipped_columns,
            skipped_rows: scan.short + type_bad.len() as u64,
            type_bad,
            good_start,
            good_rows,
            first_skipped: skipped.into_iter().map(|(_, s)| s).collect(),
        })
    }

    /// Rows of one column's array (all inputs under concat, one input under stack).
    pub(super) fn rows(&self) -> u64 {
        if self.stack {
            self.good_rows[0]
        } else {
            self.good_rows.iter().sum()
        }
    }

    /// Whether a record is a good row; if so its values are left in `values`.
    pub(super) fn parse(&self, record: &ByteRecord, values: &mut Vec<CellValue>) -> bool {
        values.clear();
        if record.len() != self.ncols {
            return false;
        }
        for c in &self.columns {
            match c.kind.value(field(&record[c.index])) {
                Some(v) => values.push(v),
                None => return false,
            }
        }
        true
    }

    pub(super) fn matrix_type(&self) -> DataType {
        if self
            .columns
            .iter()
            .all(|c| matches!(c.kind, ColumnType::Int))
        {
            DataType::Int64
        } else {
            DataType::Float64
        }
    }

    /// Good rows before checkpoint `i`.
    pub(super) fn good_before(&self, cp: &scan::Checkpoint) -> u64 {
        cp.ordinal - cp.short_before - self.type_bad.partition_point(|&o| o < cp.ordinal) as u64
    }
}

/// Valid, unique node names from header names: `/` and `\` become `_`, a leading `.` or a
/// reserved name (`zarr.json`, names starting with `__`) gets a `_` prefix, an empty name is
/// `column_<i>`, and repeats get `_2`, `_3`, ….
pub(super) fn node_names(headers: &[String]) -> Vec<String> {
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let mut name: String = h
            .trim()
            .chars()
            .map(|c| {
                if c == '/' || c == '\\' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if name.is_empty() {
            name = format!("column_{i}");
        }
        if name.starts_with('.') || name.starts_with("__") || name == "zarr.json" {
            name = format!("_{name}");
        }
        let mut unique = name.clone();
        let mut n = 2;
        while !used.insert(unique.to_lowercase()) {
            unique = format!("{name}_{n}");
            n += 1;
        }
        out.push(unique);
    }
    out
}

/// The rows pass 1 found not to fit a numeric or date-time column's type.
pub(super) fn exceptions<'a>(c: &Column, scan: &'a Scan) -> Option<&'a [BadRow]> {
    let column = &scan.columns[c.index];
    match c.kind {
        ColumnType::Int | ColumnType::Float => Some(&column.not_numeric.rows),
        ColumnType::DateTime { .. } => Some(&column.not_datetime.rows),
        ColumnType::Category { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_valid_and_unique() {
        let headers: Vec<String> = [
            "a/b",
            ".x",
            "",
            "a_b",
            "A_B",
            "zarr.json",
            "__m",
            " pad ",
            "tab\there",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            node_names(&headers),
            [
                "a_b",
                "_.x",
                "column_2",
                "a_b_2",
                "A_B_3",
                "_zarr.json",
                "___m",
                "pad",
                "tab_here"
            ]
        );
    }
}
