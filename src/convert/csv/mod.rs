//! CSV import: a table becomes a group with one 1-D array per column (or one 2-D array with
//! [`CsvOptions::matrix`]), streamed in two passes so no input is ever held in memory.
//!
//! **Pass 1** reads every input once, in order, with the `csv` crate: it infers each
//! column's type, counts rows, collects the distinct values of text columns (up to
//! [`CsvOptions::max_categories`]), finds bad rows, and records where every
//! [`CHECKPOINT_RECORDS`]-th row (and every file's first row) starts. **Pass 2** converts the
//! row chunks in parallel (rayon), each seeking to the checkpoint before its first row,
//! reading across file boundaries under [`Combine::Concat`], and writes each column's chunk
//! with [`ArrayWriter::write_chunk`]. Memory is a row chunk of every column per thread.
//!
//! Column types, from the values that are not missing (`""`, `NA`, `N/A`, `nan`, `NaN`,
//! `null`, `None`, `NaT`, …):
//! - **int64** when every value is an integer and none is missing. An integer column with
//!   missing values becomes **float64** with NaN for them.
//! - **float64** when every value is a number (`inf`, `1e-3`, …); missing values are NaN.
//! - **date-time** (ISO 8601 dates and date-times, `T` or space, optional fractional seconds
//!   and `Z`/`±HH:MM` offset; offsets are converted to UTC, values without one are taken as
//!   UTC) → **int64** counts since 1970-01-01 with the CF attributes `units`
//!   (`"seconds since 1970-01-01T00:00:00"`, or milli/micro/nanoseconds when the values
//!   carry fractions of a second) and `calendar` (`"proleptic_gregorian"`), which xarray
//!   decodes to `datetime64`. Missing values are `i64::MIN` (the array's fill value, also
//!   given as `_FillValue`).
//! - **category**: any other column with at most `max_categories` distinct non-empty values
//!   → integer codes (the smallest of int8/int16/int32) into the sorted distinct values,
//!   which are the attribute `categories` (plus CF `flag_values`/`flag_meanings` when no
//!   value has white space); an empty field is code -1.
//! - a text column with more distinct values is **skipped** and listed in
//!   [`CsvReport::skipped_columns`].
//!
//! A column whose values are numbers (or date-times) except for a *rare* few — at most one
//! in a thousand of its values, or one — keeps the numeric (date-time) type and those rows
//! are bad rows. A bad row (wrong number of fields, or such a value) is an
//! [`Error::Input`](crate::Error::Input) naming the file and the 1-based line, or with
//! [`CsvOptions::skip_bad_rows`] is left out and counted.

use std::collections::HashMap;
use std::path::PathBuf;

use csv::ByteRecord;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{Combine, ConvertOptions};
use crate::element::{DataType, Element, FillValue};
use crate::error::{bad_input, invalid, Result};
use crate::exec::{Progress, ProgressFn};
use crate::store::{ArrayWriter, Store};

mod scan;
mod value;

use scan::{BadRow, ColumnScan, FileReader, Scan, Sniffed};
pub use scan::{CHECKPOINT_RECORDS, MAX_RECORD_BYTES};
use value::{field, float_value, parse_datetime, parse_int};

/// Whether the first row of each input names the columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Header {
    /// Decide from the first rows of the first input, like Python's
    /// `csv.Sniffer.has_header`: the first row is a header when, in the columns whose other
    /// values are all numbers (or all date-times), its values mostly are not.
    #[default]
    Auto,
    /// The first row is a header.
    Present,
    /// Every row is data; columns are named `column_0`, `column_1`, ….
    Absent,
}

/// How a CSV is read.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// The field delimiter; `None` sniffs it from the first rows among `,` `;` tab `|`.
    pub delimiter: Option<u8>,
    /// Whether the first row is a header.
    pub header: Header,
    /// One 2-D array (rows, columns) instead of a group of columns: every column must be
    /// numeric; int64 when all are integers, else float64.
    pub matrix: bool,
    /// Leave out bad rows (and count them) instead of failing on the first.
    pub skip_bad_rows: bool,
    /// A text column with at most this many distinct values becomes integer codes.
    pub max_categories: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            header: Header::Auto,
            matrix: false,
            skip_bad_rows: false,
            max_categories: 1024,
        }
    }
}

/// What a column became.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Integers (int64).
    Integer,
    /// Numbers (float64, NaN for missing values).
    Float,
    /// Date-times as int64 counts of `units` since 1970-01-01 (CF convention).
    DateTime,
    /// Text with few distinct values, as integer codes into `categories`.
    Category,
}

/// One converted column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnReport {
    /// The header's name for it (or `column_<i>` without a header).
    pub header: String,
    /// Its array's name: `<name>/<array>` in the group (the header made a valid node name).
    pub array: String,
    /// Its 0-based position in the CSV.
    pub index: usize,
    /// What it became.
    pub kind: ColumnKind,
    /// The stored data type (`"int64"`, `"float64"`, `"int8"`, …).
    pub data_type: String,
    /// Missing values (NaN, the date-time fill value, or code -1), bad rows included.
    pub missing: u64,
    /// For a category column, the number of categories.
    pub categories: Option<usize>,
    /// For a date-time column, the CF `units`.
    pub units: Option<String>,
}

/// A column that was not converted.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedColumn {
    /// The header's name for it.
    pub header: String,
    /// Its 0-based position in the CSV.
    pub index: usize,
    /// Why.
    pub reason: String,
}

/// A row that was left out.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedRow {
    /// The input file.
    pub file: PathBuf,
    /// Its 1-based line in the file.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// What [`import_csv`] did.
#[derive(Debug, Clone, Serialize)]
pub struct CsvReport {
    /// The inputs, in order.
    pub inputs: Vec<PathBuf>,
    /// The delimiter used.
    pub delimiter: char,
    /// Whether the inputs had a header row.
    pub header: bool,
    /// Rows converted, all inputs together.
    pub rows: u64,
    /// Rows converted from each input.
    pub rows_per_input: Vec<u64>,
    /// The shape of each column's array (or of the matrix).
    pub shape: Vec<u64>,
    /// Rows left out ([`CsvOptions::skip_bad_rows`]).
    pub skipped_rows: u64,
    /// The first few of them (ten at most).
    pub first_skipped_rows: Vec<SkippedRow>,
    /// The converted columns, in CSV order.
    pub columns: Vec<ColumnReport>,
    /// Columns left out (text with too many distinct values).
    pub skipped_columns: Vec<SkippedColumn>,
    /// Bytes of input read (each pass reads them once).
    pub input_bytes: u64,
}

/// Converts CSV `inputs` into the node `name` of `store`: a group of 1-D column arrays
/// (`name/<column>`, dimension `row`), or with [`CsvOptions::matrix`] one 2-D array
/// (`row`, `column`). Several inputs need `how`: [`Combine::Concat`] appends their rows
/// (every input needs the same header), [`Combine::Stack`] adds a leading `file` axis
/// (every input needs the same header and the same number of rows).
///
/// `convert.chunks` / `convert.shards` have the rank of one column's array (plus one for
/// `Stack`, whose chunks along the file axis must be 1). Progress: pass 1 reports
/// `blocks_total == 0` and the input bytes read so far; pass 2 reports row chunks done out of
/// all of them and the input bytes they covered.
pub fn import_csv(
    inputs: &[PathBuf],
    how: Option<Combine>,
    store: &Store,
    name: &str,
    convert: &ConvertOptions,
    options: &CsvOptions,
    progress: Option<ProgressFn<'_>>,
) -> Result<CsvReport> {
    let Some(first) = inputs.first() else {
        return Err(invalid("no inputs to convert"));
    };
    if inputs.len() > 1 && how.is_none() {
        return Err(invalid(format!(
            "{} inputs: choose --stack (a new leading axis) or --concat (along axis 0)",
            inputs.len()
        )));
    }
    let stack = inputs.len() > 1 && how == Some(Combine::Stack);
    if options.max_categories > i32::MAX as usize {
        return Err(invalid("max_categories must fit an int32 code"));
    }
    let sniffed = scan::sniff(first, options.delimiter, options.header)?;
    let report_bytes = |bytes: u64| {
        if let Some(p) = progress {
            p(&Progress {
                blocks_done: 0,
                blocks_total: 0,
                bytes_done: bytes,
            });
        }
    };
    let scan = scan::scan(
        inputs,
        &sniffed,
        options.skip_bad_rows,
        options.max_categories,
        &report_bytes,
    )?;
    let plan = Plan::new(inputs, &sniffed, &scan, options, stack)?;
    plan.write(store, name, convert, &sniffed, &scan, progress)
}

/// What a converted column holds, decided after pass 1.
#[derive(Debug)]
enum ColumnType {
    Int,
    Float,
    /// Counts of 10^-`digits` seconds.
    DateTime {
        digits: u8,
    },
    /// Codes into sorted values.
    Category {
        codes: HashMap<Box<[u8]>, i32>,
        values: Vec<Box<[u8]>>,
        data_type: DataType,
    },
}

impl ColumnType {
    fn data_type(&self) -> DataType {
        match self {
            ColumnType::Int | ColumnType::DateTime { .. } => DataType::Int64,
            ColumnType::Float => DataType::Float64,
            ColumnType::Category { data_type, .. } => *data_type,
        }
    }

    /// The value of one field, `None` when it does not fit the type (a bad row).
    fn value(&self, v: &[u8]) -> Option<Num> {
        match self {
            ColumnType::Int => parse_int(v).map(Num::I),
            ColumnType::Float => float_value(v).map(Num::F),
            ColumnType::DateTime { digits } => {
                if value::is_missing(v) {
                    Some(Num::I(i64::MIN))
                } else {
                    // Every value was range-checked for these units in pass 1.
                    parse_datetime(v)
                        .and_then(|d| d.in_units(*digits))
                        .map(Num::I)
                }
            }
            ColumnType::Category { codes, .. } => {
                if v.is_empty() {
                    Some(Num::I(-1))
                } else {
                    codes.get(v).map(|&c| Num::I(i64::from(c)))
                }
            }
        }
    }
}

/// One converted value.
#[derive(Debug, Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

/// Why a column is not converted, or its type; and for numeric and date-time columns, the
/// rows whose values do not fit.
fn decide(column: &ColumnScan) -> (Option<ColumnType>, Vec<BadRow>) {
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
fn datetime_type(column: &ColumnScan) -> ColumnType {
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

fn units(digits: u8) -> String {
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
struct Column {
    /// Position in the CSV.
    index: usize,
    header: String,
    array: String,
    kind: ColumnType,
    missing: u64,
}

/// Everything pass 2 needs.
struct Plan {
    inputs: Vec<PathBuf>,
    header: bool,
    ncols: usize,
    stack: bool,
    matrix: bool,
    columns: Vec<Column>,
    skipped_columns: Vec<SkippedColumn>,
    /// Sorted record numbers of rows with a value that does not fit its column.
    type_bad: Vec<u64>,
    /// Good rows before each input's first row, and in each input.
    good_start: Vec<u64>,
    good_rows: Vec<u64>,
    skipped_rows: u64,
    first_skipped: Vec<SkippedRow>,
}

impl Plan {
    fn new(
        inputs: &[PathBuf],
        sniffed: &Sniffed,
        scan: &Scan,
        options: &CsvOptions,
        stack: bool,
    ) -> Result<Plan> {
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
                        "column {:?} is {}; --matrix needs every column numeric",
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
                        "column {:?} holds {what}; --matrix needs every column numeric",
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
                        "{} rows, {} has {}: --stack needs the same number of rows in every input",
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
        Ok(Plan {
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
    fn rows(&self) -> u64 {
        if self.stack {
            self.good_rows[0]
        } else {
            self.good_rows.iter().sum()
        }
    }

    /// Whether a record is a good row; if so its values are left in `values`.
    fn parse(&self, record: &ByteRecord, values: &mut Vec<Num>) -> bool {
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

    fn write(
        self,
        store: &Store,
        name: &str,
        convert: &ConvertOptions,
        sniffed: &Sniffed,
        scan: &Scan,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<CsvReport> {
        let rows = self.rows();
        let files = self.inputs.len() as u64;
        let width = self.columns.len() as u64;
        let mut shape = Vec::new();
        let mut dims = Vec::new();
        if self.stack {
            shape.push(files);
            dims.push("file");
        }
        shape.push(rows);
        dims.push("row");
        if self.matrix {
            shape.push(width);
            dims.push("column");
        }
        let row_axis = usize::from(self.stack);
        // Row and column chunk lengths.
        let (row_chunk, col_chunk) = match &convert.chunks {
            Some(chunks) => {
                if chunks.len() != shape.len() {
                    return Err(invalid(format!(
                        "the chunk shape {chunks:?} has {} dimensions, the arrays {shape:?} have {}",
                        chunks.len(),
                        shape.len()
                    )));
                }
                if chunks.contains(&0) {
                    return Err(invalid(format!("the chunk shape {chunks:?} has a zero")));
                }
                if self.stack && chunks[0] != 1 {
                    return Err(invalid(format!(
                        "the chunk shape {chunks:?}: with --stack, chunks along the file axis must be 1"
                    )));
                }
                (
                    chunks[row_axis],
                    if self.matrix { chunks[row_axis + 1] } else { 1 },
                )
            }
            None => {
                let row_bytes = 8 * width;
                let target = if self.matrix {
                    (crate::format::layout::DEFAULT_CHUNK_BYTES / row_bytes).max(1)
                } else {
                    ((64u64 << 20) / row_bytes).clamp(
                        CHECKPOINT_RECORDS,
                        crate::format::layout::DEFAULT_CHUNK_BYTES / 8,
                    )
                };
                let pow2 = 1u64 << (63 - target.leading_zeros());
                (pow2.min(rows.max(1)), width.max(1))
            }
        };
        let mut chunk_shape = Vec::new();
        if self.stack {
            chunk_shape.push(1);
        }
        chunk_shape.push(row_chunk);
        if self.matrix {
            chunk_shape.push(col_chunk);
        }
        let names: Vec<String> = self
            .inputs
            .iter()
            .map(|p| {
                p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
            })
            .collect();

        // Create the arrays.
        let mut writers: Vec<ArrayWriter> = Vec::new();
        let spec_for = |data_type: DataType, fill: FillValue, attrs: Map<String, Value>| {
            let mut spec = convert.spec(data_type, &shape)?;
            if convert.chunks.is_none() {
                spec = spec.chunks(&chunk_shape);
            }
            Ok::<_, crate::Error>(
                spec.fill_value(fill)
                    .attributes(attrs)
                    .dimension_names(&dims),
            )
        };
        let mut column_reports = Vec::new();
        for c in &self.columns {
            let data_type = if self.matrix {
                self.matrix_type()
            } else {
                c.kind.data_type()
            };
            column_reports.push(ColumnReport {
                header: c.header.clone(),
                array: if self.matrix {
                    String::new()
                } else {
                    c.array.clone()
                },
                index: c.index,
                kind: match c.kind {
                    ColumnType::Int => ColumnKind::Integer,
                    ColumnType::Float => ColumnKind::Float,
                    ColumnType::DateTime { .. } => ColumnKind::DateTime,
                    ColumnType::Category { .. } => ColumnKind::Category,
                },
                data_type: data_type.name().to_string(),
                missing: c.missing,
                categories: match &c.kind {
                    ColumnType::Category { values, .. } => Some(values.len()),
                    _ => None,
                },
                units: match c.kind {
                    ColumnType::DateTime { digits } => Some(units(digits)),
                    _ => None,
                },
            });
        }
        let source = json!({
            "source_files": names,
            "delimiter": (sniffed.delimiter as char).to_string(),
            "header": sniffed.header,
            "skipped_rows": self.skipped_rows,
        });
        if self.matrix {
            let mut attrs = Map::new();
            attrs.insert(
                "columns".into(),
                self.columns.iter().map(|c| c.header.clone()).collect(),
            );
            attrs.insert("csv".into(), source.clone());
            let data_type = self.matrix_type();
            let fill = match data_type {
                DataType::Float64 => FillValue::of(f64::NAN),
                _ => FillValue::zero(data_type),
            };
            writers.push(store.create_array(name, &spec_for(data_type, fill, attrs)?)?);
        } else {
            let mut attrs = Map::new();
            attrs.insert(
                "columns".into(),
                self.columns.iter().map(|c| c.header.clone()).collect(),
            );
            attrs.insert(
                "arrays".into(),
                self.columns.iter().map(|c| c.array.clone()).collect(),
            );
            attrs.insert(
                "skipped_columns".into(),
                self.skipped_columns
                    .iter()
                    .map(|c| c.header.clone())
                    .collect(),
            );
            attrs.insert("csv".into(), source.clone());
            store.create_group(name, attrs)?;
            for c in &self.columns {
                let (attrs, fill) = column_attributes(c);
                let spec = spec_for(c.kind.data_type(), fill, attrs)?;
                writers.push(store.create_array(&format!("{name}/{}", c.array), &spec)?);
            }
        }

        // Pass 2: row chunks in batches, in order.
        let tasks: Vec<(usize, u64)> = if self.stack {
            (0..self.inputs.len())
                .flat_map(|f| (0..rows.div_ceil(row_chunk)).map(move |k| (f, k)))
                .collect()
        } else {
            (0..rows.div_ceil(row_chunk)).map(|k| (0, k)).collect()
        };
        let total = tasks.len() as u64;
        let batch = rayon::current_num_threads().max(1) * 2;
        let file_offsets: Vec<u64> = scan
            .files
            .iter()
            .scan(0, |at, f| {
                let start = *at;
                *at += f.bytes;
                Some(start)
            })
            .collect();
        let input_bytes: u64 = scan.files.iter().map(|f| f.bytes).sum();
        let mut done = 0u64;
        for group in tasks.chunks(batch) {
            let ends = group
                .par_iter()
                .map(|&(f, k)| {
                    let start = self.good_start[f] + k * row_chunk;
                    let len = row_chunk.min(rows - k * row_chunk);
                    self.convert_chunk(scan, sniffed, &writers, f, k, start, len, col_chunk)
                })
                .collect::<Result<Vec<(usize, u64)>>>()?;
            done += group.len() as u64;
            if let Some(p) = progress {
                // Rows are converted in input order: the input before the end of the
                // batch's last row chunk is done (all of it after the last batch).
                let bytes_done = if done == total {
                    input_bytes
                } else {
                    ends.last()
                        .map_or(0, |&(file, byte)| file_offsets[file] + byte)
                };
                p(&Progress {
                    blocks_done: done,
                    blocks_total: total,
                    bytes_done,
                });
            }
        }
        for w in writers {
            w.finish()?;
        }
        Ok(CsvReport {
            inputs: self.inputs.clone(),
            delimiter: sniffed.delimiter as char,
            header: self.header,
            rows: self.good_rows.iter().sum(),
            rows_per_input: self.good_rows.clone(),
            shape,
            skipped_rows: self.skipped_rows,
            first_skipped_rows: self.first_skipped.clone(),
            columns: column_reports,
            skipped_columns: self.skipped_columns.clone(),
            input_bytes,
        })
    }

    fn matrix_type(&self) -> DataType {
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
    fn good_before(&self, cp: &scan::Checkpoint) -> u64 {
        cp.ordinal - cp.short_before - self.type_bad.partition_point(|&o| o < cp.ordinal) as u64
    }

    /// Reads good rows `start .. start + len` (global numbering) and writes them as row
    /// chunk `k` of input `f`'s slab. Returns where its last row ends (input, byte).
    #[allow(clippy::too_many_arguments)]
    fn convert_chunk(
        &self,
        scan: &Scan,
        sniffed: &Sniffed,
        writers: &[ArrayWriter],
        f: usize,
        k: u64,
        start: u64,
        len: u64,
        col_chunk: u64,
    ) -> Result<(usize, u64)> {
        let at = scan
            .checkpoints
            .partition_point(|cp| self.good_before(cp) <= start)
            .saturating_sub(1);
        let cp = &scan.checkpoints[at];
        let mut good = self.good_before(cp);
        let mut file = cp.file;
        let mut reader = FileReader::open(&self.inputs[file], sniffed.delimiter)?;
        reader.seek(&cp.pos)?;
        let mut record = ByteRecord::new();
        let mut values = Vec::with_capacity(self.columns.len());
        let n = len as usize;
        let mut buffers: Vec<Buffer> = if self.matrix {
            vec![Buffer::new(self.matrix_type(), n * self.columns.len())]
        } else {
            self.columns
                .iter()
                .map(|c| Buffer::new(c.kind.data_type(), n))
                .collect()
        };
        let mut taken = 0u64;
        while taken < len {
            if !reader.read(&mut record)? {
                file += 1;
                if file >= self.inputs.len() {
                    return Err(bad_input(
                        &self.inputs[file - 1],
                        "the file changed while it was being converted (fewer rows than in the first pass)",
                    ));
                }
                reader = FileReader::open(&self.inputs[file], sniffed.delimiter)?;
                if self.header {
                    reader.read(&mut record)?;
                }
                continue;
            }
            if !self.parse(&record, &mut values) {
                continue;
            }
            if good >= start {
                if self.matrix {
                    buffers[0].extend(&values);
                } else {
                    for (b, &v) in buffers.iter_mut().zip(&values) {
                        b.push(v);
                    }
                }
                taken += 1;
            }
            good += 1;
        }
        let end = (file, reader.byte());
        let mut coords = Vec::with_capacity(3);
        if self.stack {
            coords.push(f as u64);
        }
        coords.push(k);
        if self.matrix {
            let width = self.columns.len() as u64;
            for b in 0..width.div_ceil(col_chunk) {
                let lo = (b * col_chunk) as usize;
                let hi = ((b + 1) * col_chunk).min(width) as usize;
                let mut c = coords.clone();
                c.push(b);
                buffers[0].write_columns(&writers[0], &c, self.columns.len(), lo, hi)?;
            }
        } else {
            for (w, b) in writers.iter().zip(&buffers) {
                b.write(w, &coords)?;
            }
        }
        Ok(end)
    }
}

/// A row chunk of one column (or of the matrix) in its stored type.
enum Buffer {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

impl Buffer {
    fn new(data_type: DataType, capacity: usize) -> Buffer {
        match data_type {
            DataType::Int8 => Buffer::I8(Vec::with_capacity(capacity)),
            DataType::Int16 => Buffer::I16(Vec::with_capacity(capacity)),
            DataType::Int32 => Buffer::I32(Vec::with_capacity(capacity)),
            DataType::Int64 => Buffer::I64(Vec::with_capacity(capacity)),
            _ => Buffer::F64(Vec::with_capacity(capacity)),
        }
    }

    fn push(&mut self, v: Num) {
        // Codes fit their type by construction (the type was chosen from the count).
        match (self, v) {
            (Buffer::I8(b), Num::I(x)) => b.push(x as i8),
            (Buffer::I16(b), Num::I(x)) => b.push(x as i16),
            (Buffer::I32(b), Num::I(x)) => b.push(x as i32),
            (Buffer::I64(b), Num::I(x)) => b.push(x),
            (Buffer::I64(b), Num::F(x)) => b.push(x as i64),
            (Buffer::F64(b), Num::F(x)) => b.push(x),
            (Buffer::F64(b), Num::I(x)) => b.push(x as f64),
            (Buffer::I8(b), Num::F(x)) => b.push(x as i8),
            (Buffer::I16(b), Num::F(x)) => b.push(x as i16),
            (Buffer::I32(b), Num::F(x)) => b.push(x as i32),
        }
    }

    fn extend(&mut self, values: &[Num]) {
        for &v in values {
            self.push(v);
        }
    }

    fn write(&self, writer: &ArrayWriter, coords: &[u64]) -> Result<()> {
        match self {
            Buffer::I8(b) => writer.write_chunk(coords, b),
            Buffer::I16(b) => writer.write_chunk(coords, b),
            Buffer::I32(b) => writer.write_chunk(coords, b),
            Buffer::I64(b) => writer.write_chunk(coords, b),
            Buffer::F64(b) => writer.write_chunk(coords, b),
        }
    }

    /// Writes columns `lo..hi` of a row-major block `width` wide.
    fn write_columns(
        &self,
        writer: &ArrayWriter,
        coords: &[u64],
        width: usize,
        lo: usize,
        hi: usize,
    ) -> Result<()> {
        fn pick<T: Element>(data: &[T], width: usize, lo: usize, hi: usize) -> Vec<T> {
            data.chunks(width)
                .flat_map(|row| row[lo..hi].iter().copied())
                .collect()
        }
        if lo == 0 && hi == width {
            return self.write(writer, coords);
        }
        match self {
            Buffer::I64(b) => writer.write_chunk(coords, &pick(b, width, lo, hi)),
            Buffer::F64(b) => writer.write_chunk(coords, &pick(b, width, lo, hi)),
            _ => Err(invalid("a matrix is int64 or float64")),
        }
    }
}

/// The attributes and fill value of a column's array.
fn column_attributes(c: &Column) -> (Map<String, Value>, FillValue) {
    let mut attrs = Map::new();
    attrs.insert("long_name".into(), c.header.clone().into());
    attrs.insert("csv_column".into(), c.index.into());
    let fill = match &c.kind {
        ColumnType::Int => FillValue::of(0i64),
        ColumnType::Float => FillValue::of(f64::NAN),
        ColumnType::DateTime { digits } => {
            attrs.insert("units".into(), units(*digits).into());
            attrs.insert("calendar".into(), "proleptic_gregorian".into());
            if c.missing > 0 {
                attrs.insert("_FillValue".into(), i64::MIN.into());
            }
            FillValue::of(i64::MIN)
        }
        ColumnType::Category {
            values, data_type, ..
        } => {
            let names: Vec<String> = values
                .iter()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            if names
                .iter()
                .all(|n| !n.is_empty() && !n.chars().any(char::is_whitespace))
            {
                attrs.insert(
                    "flag_values".into(),
                    (0..names.len() as i64).collect::<Vec<_>>().into(),
                );
                attrs.insert("flag_meanings".into(), names.join(" ").into());
            }
            attrs.insert("categories".into(), names.into());
            match data_type {
                DataType::Int8 => FillValue::of(-1i8),
                DataType::Int16 => FillValue::of(-1i16),
                _ => FillValue::of(-1i32),
            }
        }
    };
    (attrs, fill)
}

/// Valid, unique node names from header names: `/` and `\` become `_`, a leading `.` or a
/// reserved name (`zarr.json`, names starting with `__`) gets a `_` prefix, an empty name is
/// `column_<i>`, and repeats get `_2`, `_3`, ….
fn node_names(headers: &[String]) -> Vec<String> {
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
fn exceptions<'a>(c: &Column, scan: &'a Scan) -> Option<&'a [BadRow]> {
    let column = &scan.columns[c.index];
    match c.kind {
        ColumnType::Int | ColumnType::Float => Some(&column.not_numeric.rows),
        ColumnType::DateTime { .. } => Some(&column.not_datetime.rows),
        ColumnType::Category { .. } => None,
    }
}
