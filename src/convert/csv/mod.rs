//! CSV import: a table becomes a group with one 1-D array per column (or one 2-D array with
//! [`CsvOptions::matrix`]), streamed in two passes so no input is ever held in memory.
//!
//! **Pass 1** reads every input once, in order, with the `csv` crate: it infers each
//! column's type, counts rows, collects the distinct values of text columns (up to
//! [`CsvOptions::max_categories`]), finds bad rows, and records where every
//! [`CHECKPOINT_RECORDS`]-th row (and every file's first row) starts. **Pass 2** converts the
//! row chunks in parallel (rayon), each seeking to the checkpoint before its first row,
//! reading across file boundaries under [`Combine::Concat`], and writes each column's chunk
//! with [`crate::ArrayWriter::write_chunk`]. Memory is a row chunk of every column per thread.
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
//! [`CsvOptions::skip_bad_rows`] is left out and counted. Quoting is read as the `csv`
//! crate reads it, leniently (a stray quote inside a field is kept); an unclosed quote runs
//! on into the following lines, which shows as a row with the wrong number of fields, a
//! value that does not fit, or a row longer than [`MAX_RECORD_BYTES`] (an error, so a
//! broken file is never read into memory whole). Fields are trimmed of ASCII white space.

use std::path::PathBuf;

use csv::ByteRecord;
use serde::Serialize;

use super::{Combine, ConvertOptions};
use crate::error::{invalid, out_of_bounds, Result};
use crate::exec::{report, Progress, ProgressFn};
use crate::store::Store;

mod plan;
mod scan;
mod value;
mod write;

use plan::ImportPlan;
pub use scan::{CHECKPOINT_RECORDS, MAX_RECORD_BYTES};

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
///
/// # Errors
/// - [`ErrorKind::InvalidArgument`]: no inputs, or several without `how`; a chunk shape with
///   a zero, or (under `Stack`) not 1 along the file axis.
/// - [`ErrorKind::OutOfBounds`]: `max_categories` past `i32::MAX`.
/// - [`ErrorKind::ShapeMismatch`]: a chunk shape of the wrong rank.
/// - [`ErrorKind::MalformedInput`], naming the file (and line): an empty file or one with
///   only a header, a row longer than [`MAX_RECORD_BYTES`], a bad row (unless skipped),
///   inputs whose headers or (under `Stack`) row counts differ, no convertible column, every
///   row bad, a non-numeric column in a matrix import, or a file that changed between the
///   passes.
/// - [`ErrorKind::NotFound`] / [`ErrorKind::Io`]: an input that cannot be opened or read (a
///   missing input is `NotFound` here, where [`super::binary::open_npy`] says
///   `MalformedInput`), or a node of `store` that cannot be written.
/// - [`ErrorKind::AlreadyExists`]: anything already where the matrix or a column's array
///   goes (an existing group `name` is reused, its attributes replaced).
/// - `Cancelled`: `progress` stopped either pass (no column array is published).
///
/// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
/// [`ErrorKind::OutOfBounds`]: crate::ErrorKind::OutOfBounds
/// [`ErrorKind::ShapeMismatch`]: crate::ErrorKind::ShapeMismatch
/// [`ErrorKind::MalformedInput`]: crate::ErrorKind::MalformedInput
/// [`ErrorKind::NotFound`]: crate::ErrorKind::NotFound
/// [`ErrorKind::Io`]: crate::ErrorKind::Io
/// [`ErrorKind::AlreadyExists`]: crate::ErrorKind::AlreadyExists
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
            "{} inputs: choose to stack them (a new leading axis) or concatenate them (along axis 0)",
            inputs.len()
        )));
    }
    let stack = inputs.len() > 1 && how == Some(Combine::Stack);
    if options.max_categories > i32::MAX as usize {
        return Err(out_of_bounds("max_categories must fit an int32 code"));
    }
    let sniffed = scan::sniff(first, options.delimiter, options.header)?;
    let started = std::time::Instant::now();
    let report_bytes = |bytes: u64| report(progress, &Progress::since(started, 0, 0, bytes));
    let scan = scan::scan(
        inputs,
        &sniffed,
        options.skip_bad_rows,
        options.max_categories,
        &report_bytes,
    )?;
    let plan = ImportPlan::new(inputs, &sniffed, &scan, options, stack)?;
    plan.write(store, name, convert, &sniffed, &scan, progress)
}

/// Both passes of [`import_csv`] over `inputs` without a store: sniffing, pass 1 and the
/// plan, then every input read again from its first checkpoint and each row parsed as pass 2
/// parses it. Returns the rows an import would convert. A test hook (the `csv` fuzz target
/// runs it): the rows pass 2 finds good must be the rows the plan counts, or an import of an
/// unchanged file fails as changed, so a disagreement panics.
pub(crate) fn check_passes(
    inputs: &[PathBuf],
    how: Option<Combine>,
    options: &CsvOptions,
) -> Result<u64> {
    let Some(first) = inputs.first() else {
        return Err(invalid("no inputs to convert"));
    };
    let stack = inputs.len() > 1 && how == Some(Combine::Stack);
    let sniffed = scan::sniff(first, options.delimiter, options.header)?;
    let scan = scan::scan(
        inputs,
        &sniffed,
        options.skip_bad_rows,
        options.max_categories,
        &|_| Ok(()),
    )?;
    let plan = ImportPlan::new(inputs, &sniffed, &scan, options, stack)?;
    let mut record = ByteRecord::new();
    let mut values = Vec::new();
    let mut good = vec![0u64; inputs.len()];
    for (f, path) in inputs.iter().enumerate() {
        let checkpoint = scan
            .checkpoints
            .iter()
            .find(|cp| cp.file == f)
            .expect("pass 1 found rows in every input");
        let mut reader = scan::FileReader::open(path, sniffed.delimiter)?;
        reader.seek(&checkpoint.pos)?;
        while reader.read(&mut record)? {
            if plan.parse(&record, &mut values) {
                good[f] += 1;
            }
        }
    }
    assert_eq!(
        good, plan.good_rows,
        "pass 2 finds other good rows than pass 1 in {inputs:?}"
    );
    Ok(plan.rows())
}
