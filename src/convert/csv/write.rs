//! Pass 2: the arrays, and row chunks converted in parallel.

use csv::ByteRecord;
use rayon::prelude::*;
use serde_json::{json, Map, Value};

use super::plan::{units, CellValue, Column, ColumnType, ImportPlan};
use super::scan::{FileReader, Scan, Sniffed, CHECKPOINT_RECORDS};
use super::{ColumnKind, ColumnReport, CsvReport};
use crate::convert::ConvertOptions;
use crate::element::{DataType, Element, FillValue};
use crate::error::{bad_input, invalid, shape_mismatch, unsupported, Result};
use crate::exec::{report, Progress, ProgressFn};
use crate::store::{ArrayWriter, Store};

impl ImportPlan {
    pub(super) fn write(
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
                    return Err(shape_mismatch(format!(
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
                        "the chunk shape {chunks:?}: when stacking files, chunks along the file axis must be 1"
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
        let started = std::time::Instant::now();
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
            if progress.is_some() {
                // Rows are converted in input order: the input before the end of the
                // batch's last row chunk is done (all of it after the last batch).
                let bytes_done = if done == total {
                    input_bytes
                } else {
                    ends.last()
                        .map_or(0, |&(file, byte)| file_offsets[file] + byte)
                };
                report(progress, &Progress::since(started, done, total, bytes_done))?;
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

    /// Reads good rows `start .. start + len` (global numbering) and writes them as row
    /// chunk `k` of input `f`'s slab. Returns where its last row ends (input, byte).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn convert_chunk(
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
pub(super) enum Buffer {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

impl Buffer {
    pub(super) fn new(data_type: DataType, capacity: usize) -> Buffer {
        match data_type {
            DataType::Int8 => Buffer::I8(Vec::with_capacity(capacity)),
            DataType::Int16 => Buffer::I16(Vec::with_capacity(capacity)),
            DataType::Int32 => Buffer::I32(Vec::with_capacity(capacity)),
            DataType::Int64 => Buffer::I64(Vec::with_capacity(capacity)),
            _ => Buffer::F64(Vec::with_capacity(capacity)),
        }
    }

    pub(super) fn push(&mut self, v: CellValue) {
        // Codes fit their type by construction (the type was chosen from the count).
        match (self, v) {
            (Buffer::I8(b), CellValue::I(x)) => b.push(x as i8),
            (Buffer::I16(b), CellValue::I(x)) => b.push(x as i16),
            (Buffer::I32(b), CellValue::I(x)) => b.push(x as i32),
            (Buffer::I64(b), CellValue::I(x)) => b.push(x),
            (Buffer::I64(b), CellValue::F(x)) => b.push(x as i64),
            (Buffer::F64(b), CellValue::F(x)) => b.push(x),
            (Buffer::F64(b), CellValue::I(x)) => b.push(x as f64),
            (Buffer::I8(b), CellValue::F(x)) => b.push(x as i8),
            (Buffer::I16(b), CellValue::F(x)) => b.push(x as i16),
            (Buffer::I32(b), CellValue::F(x)) => b.push(x as i32),
        }
    }

    pub(super) fn extend(&mut self, values: &[CellValue]) {
        for &v in values {
            self.push(v);
        }
    }

    pub(super) fn write(&self, writer: &ArrayWriter, coords: &[u64]) -> Result<()> {
        match self {
            Buffer::I8(b) => writer.write_chunk(coords, b),
            Buffer::I16(b) => writer.write_chunk(coords, b),
            Buffer::I32(b) => writer.write_chunk(coords, b),
            Buffer::I64(b) => writer.write_chunk(coords, b),
            Buffer::F64(b) => writer.write_chunk(coords, b),
        }
    }

    /// Writes columns `lo..hi` of a row-major block `width` wide.
    pub(super) fn write_columns(
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
            _ => Err(unsupported("a matrix is int64 or float64")),
        }
    }
}

/// The attributes and fill value of a column's array.
pub(super) fn column_attributes(c: &Column) -> (Map<String, Value>, FillValue) {
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
