//! Reading CSV files: the guarded reader both passes use, delimiter and header sniffing,
//! and pass 1 (types, row counts, categories, bad rows and the positions rows start at).

use std::cell::Cell;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use csv::{ByteRecord, Position, ReaderBuilder};

use super::value::{classify, field, Class};
use super::Header;
use crate::error::{bad_input, Error, Result};
use crate::storage::io_err;

/// A record (one row, quoted newlines included) longer than this is an error: it is almost
/// always an unclosed quote swallowing the rest of the file, which would otherwise be read
/// into memory whole.
pub const MAX_RECORD_BYTES: u64 = 64 << 20;

/// Pass 1 records where a row starts every this many records (and at every file's first
/// row); pass 2 seeks to the nearest one before its chunk.
pub const CHECKPOINT_RECORDS: u64 = 4096;

/// How many skipped rows the report lists.
pub(crate) const REPORTED_BAD_ROWS: usize = 10;

/// Delimiters tried by the sniffer, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// A `Read + Seek` that refuses to read more than [`MAX_RECORD_BYTES`] past `mark` (the end
/// of the last record the caller finished).
pub(crate) struct Guarded {
    file: File,
    at: u64,
    mark: Rc<Cell<u64>>,
}

impl Read for Guarded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at.saturating_sub(self.mark.get()) > MAX_RECORD_BYTES {
            return Err(io::Error::other(RecordTooLong));
        }
        let n = self.file.read(buf)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl Seek for Guarded {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.at = self.file.seek(pos)?;
        self.mark.set(self.at);
        Ok(self.at)
    }
}

/// The error [`Guarded`] reports.
#[derive(Debug)]
struct RecordTooLong;

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record too long")
    }
}

impl std::error::Error for RecordTooLong {}

/// A CSV reader over one file with the settings both passes share.
pub(crate) struct FileReader {
    pub(crate) path: PathBuf,
    pub(crate) reader: csv::Reader<Guarded>,
    mark: Rc<Cell<u64>>,
}

impl FileReader {
    pub(crate) fn open(path: &Path, delimiter: u8) -> Result<FileReader> {
        let file = File::open(path).map_err(io_err(path, "open"))?;
        let mark = Rc::new(Cell::new(0));
        let guarded = Guarded {
            file,
            at: 0,
            mark: mark.clone(),
        };
        let reader = ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 << 10)
            .from_reader(guarded);
        Ok(FileReader {
            path: path.to_owned(),
            reader,
            mark,
        })
    }

    /// Reads the next record into `record`; `false` at the end of the file.
    pub(crate) fn read(&mut self, record: &mut ByteRecord) -> Result<bool> {
        let line = self.reader.position().line();
        match self.reader.read_byte_record(record) {
            Ok(more) => {
                self.mark.set(self.reader.position().byte());
                Ok(more)
            }
            Err(e) => Err(self.csv_error(e, line)),
        }
    }

    /// Continues at `pos`, a position pass 1 recorded.
    pub(crate) fn seek(&mut self, pos: &Position) -> Result<()> {
        let line = pos.line();
        self.reader
            .seek(pos.clone())
            .map_err(|e| self.csv_error(e, line))?;
        self.mark.set(pos.byte());
        Ok(())
    }

    pub(crate) fn byte(&self) -> u64 {
        self.reader.position().byte()
    }

    fn csv_error(&self, e: csv::Error, line: u64) -> Error {
        if let csv::ErrorKind::Io(io) = e.kind() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<RecordTooLong>())
            {
                return bad_input(
                    &self.path,
                    format!(
                        "line {line}: a row longer than {} MiB (an unclosed quote?)",
                        MAX_RECORD_BYTES >> 20
                    ),
                );
            }
            return crate::storage::io_err(&self.path, "read")(io::Error::new(
                io.kind(),
                io.to_string(),
            ))
            .into();
        }
        let line = e.position().map_or(line, |p| p.line());
        bad_input(&self.path, format!("line {line}: {e}"))
    }
}

/// The first rows of a file, for sniffing. `complete` is false when the sample stopped
/// before the end of the file (its last row may be cut short, so it is dropped).
fn sample(path: &Path) -> Result<(Vec<u8>, bool)> {
    let mut file = File::open(path).map_err(io_err(path, "open"))?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut chunk).map_err(io_err(path, "read"))?;
        if n == 0 {
            return Ok((buf, true));
        }
        buf.extend_from_slice(&chunk[..n]);
        let lines = buf.iter().filter(|&&b| b == b'\n').count();
        if lines >= 100 || buf.len() >= 1 << 20 {
            return Ok((buf, false));
        }
    }
}

fn sample_records(data: &[u8], complete: bool, delimiter: u8) -> Vec<ByteRecord> {
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut out = Vec::new();
    let mut record = ByteRecord::new();
    while let Ok(true) = reader.read_byte_record(&mut record) {
        out.push(record.clone());
    }
    if !complete && out.len() > 1 {
        out.pop();
    }
    out
}

/// What sniffing decided about the inputs.
pub(crate) struct Sniffed {
    pub(crate) delimiter: u8,
    pub(crate) header: bool,
    /// Fields per row: the header's, or the most common count in the sample.
    pub(crate) columns: usize,
}

/// Picks the delimiter (unless given) and decides whether the first row is a header
/// (unless given), from the first rows of `path`.
pub(crate) fn sniff(path: &Path, delimiter: Option<u8>, header: Header) -> Result<Sniffed> {
    let (data, complete) = sample(path)?;
    let delimiter = match delimiter {
        Some(d) => d,
        None => sniff_delimiter(&data, complete),
    };
    let records = sample_records(&data, complete, delimiter);
    let Some(first) = records.first() else {
        return Err(bad_input(path, "the file is empty"));
    };
    let header = match header {
        Header::Present => true,
        Header::Absent => false,
        Header::Auto => looks_like_header(first, &records[1..]),
    };
    let columns = if header {
        first.len()
    } else {
        mode(records.iter().map(|r| r.len())).unwrap_or(first.len())
    };
    Ok(Sniffed {
        delimiter,
        header,
        columns,
    })
}

/// The most common value (the first of equals), if any.
fn mode(values: impl Iterator<Item = usize>) -> Option<usize> {
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for v in values {
        match counts.iter_mut().find(|(value, _)| *value == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    let best = counts.iter().map(|&(_, n)| n).max()?;
    counts.iter().find(|&&(_, n)| n == best).map(|&(v, _)| v)
}

/// The delimiter that splits the sample's rows into the same number (> 1) of fields most
/// consistently; ties go to more fields, then to `,` `;` tab `|` in that order. A sample
/// no candidate splits is one column (`,`).
fn sniff_delimiter(data: &[u8], complete: bool) -> u8 {
    let mut best: Option<(u8, f64, usize)> = None;
    for d in DELIMITERS {
        let records = sample_records(data, complete, d);
        let Some(fields) = mode(records.iter().map(|r| r.len())) else {
            continue;
        };
        if fields < 2 {
            continue;
        }
        let agree = records.iter().filter(|r| r.len() == fields).count();
        let score = agree as f64 / records.len() as f64;
        let better = match best {
            None => true,
            Some((_, s, f)) => score > s + 1e-9 || ((score - s).abs() <= 1e-9 && fields > f),
        };
        if better {
            best = Some((d, score, fields));
        }
    }
    best.map_or(b',', |(d, _, _)| d)
}

/// Like Python's `csv.Sniffer.has_header`: a column whose other sampled values are all
/// numbers (or all date-times) votes "header" when the first row's value is not one, and
/// "no header" when it is; a text column whose other values all have one length votes
/// "header" when the first row's value has another length, "no header" when the same.
/// Without a majority, the first row is a header when its fields are non-empty, distinct,
/// and all text.
fn looks_like_header(first: &ByteRecord, rest: &[ByteRecord]) -> bool {
    let mut votes = 0i64;
    for (j, head) in first.iter().enumerate() {
        let head = field(head);
        let head_class = classify(head);
        let mut numeric = true;
        let mut datetime = true;
        let mut length: Option<Option<usize>> = None;
        let mut seen = 0;
        for row in rest {
            let Some(v) = row.get(j) else { continue };
            let v = field(v);
            let len = std::str::from_utf8(v).map_or(v.len(), |s| s.chars().count());
            length = match length {
                None => Some(Some(len)),
                Some(Some(l)) if l == len => Some(Some(l)),
                _ => Some(None),
            };
            match classify(v) {
                Class::Missing => continue,
                Class::Int | Class::Float => datetime = false,
                Class::DateTime(_) => numeric = false,
                Class::Text => {
                    numeric = false;
                    datetime = false;
                }
            }
            seen += 1;
        }
        if seen == 0 || matches!(head_class, Class::Missing) {
            continue;
        }
        if numeric || datetime {
            let matches = match head_class {
                Class::Int | Class::Float => numeric,
                Class::DateTime(_) => datetime,
                _ => false,
            };
            votes += if matches { -1 } else { 1 };
        } else if let Some(Some(len)) = length {
            let head_len = std::str::from_utf8(head).map_or(head.len(), |s| s.chars().count());
            votes += if head_len == len { -1 } else { 1 };
        }
    }
    if votes != 0 {
        return votes > 0;
    }
    let fields: Vec<&[u8]> = first.iter().map(field).collect();
    let distinct: HashSet<&[u8]> = fields.iter().copied().collect();
    !fields.is_empty()
        && distinct.len() == fields.len()
        && fields.iter().all(|f| classify(f) == Class::Text)
}

/// A place pass 2 can seek to: the row with global record number `ordinal` (data rows of
/// all inputs, in order, bad ones included) starts at `pos` in input `file`.
#[derive(Debug, Clone)]
pub(crate) struct Checkpoint {
    pub(crate) ordinal: u64,
    /// Rows with the wrong number of fields before `ordinal`.
    pub(crate) short_before: u64,
    pub(crate) file: usize,
    pub(crate) pos: Position,
}

/// One input as pass 1 found it.
#[derive(Debug, Clone)]
pub(crate) struct FileScan {
    pub(crate) path: PathBuf,
    /// The global record number of its first data row.
    pub(crate) first_ordinal: u64,
    /// Data rows, bad ones included.
    pub(crate) records: u64,
    /// Rows with the wrong number of fields.
    pub(crate) short: u64,
    pub(crate) bytes: u64,
}

/// A bad row: where, and why.
#[derive(Debug, Clone)]
pub(crate) struct BadRow {
    pub(crate) ordinal: u64,
    pub(crate) line: u64,
    pub(crate) reason: String,
}

/// Values of one column that are not of some type: their rows, kept while they are rare
/// (dropped once they outnumber `4096 + 0.1%` of the column's values).
#[derive(Debug, Default)]
pub(crate) struct Exceptions {
    pub(crate) rows: Vec<BadRow>,
    pub(crate) dropped: bool,
}

impl Exceptions {
    fn push(&mut self, ordinal: u64, line: u64, value: &[u8], what: &str, seen: u64) {
        if self.dropped {
            return;
        }
        if self.rows.len() as u64 > 4096 + seen / 1000 {
            self.dropped = true;
            self.rows = Vec::new();
            return;
        }
        let reason = if self.rows.is_empty() {
            let text = String::from_utf8_lossy(value);
            let shown: String = text.chars().take(40).collect();
            format!("{shown:?} is not {what}")
        } else {
            String::new()
        };
        self.rows.push(BadRow {
            ordinal,
            line,
            reason,
        });
    }
}

/// A fast non-cryptographic hasher (FxHash's multiply-rotate) for category values: inputs
/// are the user's own data, and a pass-1 lookup per field should cost little.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

/// The hasher of [`FastHash`].
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What pass 1 learned about one column.
#[derive(Debug, Default)]
pub(crate) struct ColumnScan {
    pub(crate) missing: u64,
    pub(crate) ints: u64,
    pub(crate) floats: u64,
    pub(crate) datetimes: u64,
    pub(crate) texts: u64,
    /// Empty fields (missing in a category column).
    pub(crate) empty: u64,
    /// Rows whose value is not a number.
    pub(crate) not_numeric: Exceptions,
    /// Rows whose value is not a date-time.
    pub(crate) not_datetime: Exceptions,
    /// Distinct non-empty values, until there are more than the category limit.
    pub(crate) categories: HashSet<Box<[u8]>, FastHash>,
    pub(crate) too_many_categories: bool,
    /// The finest fractional-second digits a date-time needs (0, 3, 6, 9).
    pub(crate) datetime_digits: u8,
    pub(crate) datetime_min: i64,
    pub(crate) datetime_max: i64,
}

impl ColumnScan {
    fn observe(&mut self, v: &[u8], ordinal: u64, line: u64, max_categories: usize) {
        let seen = self.ints + self.floats + self.datetimes + self.texts;
        match classify(v) {
            Class::Missing => self.missing += 1,
            Class::Int => {
                self.ints += 1;
                self.not_datetime
                    .push(ordinal, line, v, "an ISO 8601 date-time", seen);
            }
            Class::Float => {
                self.floats += 1;
                self.not_datetime
                    .push(ordinal, line, v, "an ISO 8601 date-time", seen);
            }
            Class::DateTime(dt) => {
                if self.datetimes == 0 {
                    self.datetime_min = dt.seconds;
                    self.datetime_max = dt.seconds;
                }
                self.datetimes += 1;
                self.datetime_digits = self.datetime_digits.max(dt.digits);
                self.datetime_min = self.datetime_min.min(dt.seconds);
                self.datetime_max = self.datetime_max.max(dt.seconds);
                self.not_numeric.push(ordinal, line, v, "a number", seen);
            }
            Class::Text => {
                self.texts += 1;
                self.not_numeric.push(ordinal, line, v, "a number", seen);
                self.not_datetime
                    .push(ordinal, line, v, "an ISO 8601 date-time", seen);
            }
        }
        if v.is_empty() {
            self.empty += 1;
        } else if !self.too_many_categories && !self.categories.contains(v) {
            if self.categories.len() >= max_categories {
                self.too_many_categories = true;
                self.categories = HashSet::default();
            } else {
                self.categories.insert(v.into());
            }
        }
    }

    /// Values that are not missing tokens.
    pub(crate) fn present(&self) -> u64 {
        self.ints + self.floats + self.datetimes + self.texts
    }
}

/// Everything pass 1 learned.
#[derive(Debug)]
pub(crate) struct Scan {
    pub(crate) header: Option<Vec<String>>,
    pub(crate) files: Vec<FileScan>,
    pub(crate) columns: Vec<ColumnScan>,
    pub(crate) checkpoints: Vec<Checkpoint>,
    /// Rows with the wrong number of fields, all inputs.
    pub(crate) short: u64,
    /// The first few of them.
    pub(crate) short_first: Vec<(usize, BadRow)>,
    pub(crate) records: u64,
}

/// Pass 1 over every input in order. A row with the wrong number of fields is an error
/// unless `skip_bad_rows`. `progress` gets the bytes read so far, and stops the pass with
/// its error.
pub(crate) fn scan(
    inputs: &[PathBuf],
    sniffed: &Sniffed,
    skip_bad_rows: bool,
    max_categories: usize,
    progress: &dyn Fn(u64) -> Result<()>,
) -> Result<Scan> {
    let ncols = sniffed.columns;
    let mut scan = Scan {
        header: None,
        files: Vec::with_capacity(inputs.len()),
        columns: (0..ncols).map(|_| ColumnScan::default()).collect(),
        checkpoints: Vec::new(),
        short: 0,
        short_first: Vec::new(),
        records: 0,
    };
    let mut record = ByteRecord::new();
    let mut bytes_before = 0u64;
    let mut next_report = 16u64 << 20;
    for (file_index, path) in inputs.iter().enumerate() {
        let mut reader = FileReader::open(path, sniffed.delimiter)?;
        if sniffed.header {
            if !reader.read(&mut record)? {
                return Err(bad_input(path, "the file is empty"));
            }
            let names: Vec<String> = record
                .iter()
                .map(|f| String::from_utf8_lossy(field(f)).into_owned())
                .collect();
            match &scan.header {
                None => scan.header = Some(names),
                Some(first) if *first != names => {
                    return Err(bad_input(
                        path,
                        format!(
                            "its header {names:?} differs from the header of {}: {first:?}",
                            inputs[0].display()
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        let mut file = FileScan {
            path: path.clone(),
            first_ordinal: scan.records,
            records: 0,
            short: 0,
            bytes: 0,
        };
        loop {
            let pos = reader.reader.position().clone();
            if !reader.read(&mut record)? {
                break;
            }
            let ordinal = scan.records;
            let line = pos.line();
            if file.records == 0 || ordinal.is_multiple_of(CHECKPOINT_RECORDS) {
                scan.checkpoints.push(Checkpoint {
                    ordinal,
                    short_before: scan.short,
                    file: file_index,
                    pos,
                });
            }
            scan.records += 1;
            file.records += 1;
            if record.len() != ncols {
                let reason = format!("expected {ncols} fields, found {}", record.len());
                if !skip_bad_rows {
                    return Err(bad_input(path, format!("line {line}: {reason}")));
                }
                scan.short += 1;
                file.short += 1;
                if scan.short_first.len() < REPORTED_BAD_ROWS {
                    scan.short_first.push((
                        file_index,
                        BadRow {
                            ordinal,
                            line,
                            reason,
                        },
                    ));
                }
                continue;
            }
            for (column, value) in scan.columns.iter_mut().zip(record.iter()) {
                column.observe(field(value), ordinal, line, max_categories);
            }
            let done = bytes_before + reader.byte();
            if done >= next_report {
                progress(done)?;
                next_report = done + (16 << 20);
            }
        }
        if file.records == 0 {
            return Err(bad_input(
                path,
                if sniffed.header {
                    "the file has a header but no rows"
                } else {
                    "the file is empty"
                },
            ));
        }
        file.bytes = reader.byte();
        bytes_before += file.bytes;
        progress(bytes_before)?;
        scan.files.push(file);
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<ByteRecord> {
        sample_records(text.as_bytes(), true, b',')
    }

    #[test]
    fn delimiters() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2,5;3\n4;5;6\n", true), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n1,5\t2\n", true), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\n1|2\n", true), b'|');
        assert_eq!(sniff_delimiter(b"a,b\n\"1;2\",3\n", true), b',');
        assert_eq!(sniff_delimiter(b"single\n1\n2\n", true), b',');
        assert_eq!(sniff_delimiter(b"", true), b',');
    }

    #[test]
    fn headers() {
        let has = |text: &str| {
            let r = records(text);
            looks_like_header(&r[0], &r[1..])
        };
        assert!(has("x,y\n1,2\n3,4\n"));
        assert!(!has("1,2\n3,4\n"));
        assert!(has("when\n2020-01-01\n"));
        assert!(!has("2020-01-01\n2020-01-02\n"));
        assert!(has("name,score\nann,1\nbob,2\n"));
        assert!(!has("ann,1\nbob,2\n"));
        assert!(!has(",\n1,2\n"));
    }

    #[test]
    fn exceptions_stop_growing() {
        let mut e = Exceptions::default();
        for i in 0..10_000 {
            e.push(i, i + 1, b"x", "a number", i);
        }
        assert!(e.dropped && e.rows.is_empty());
    }
}
