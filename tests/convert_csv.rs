//! The CSV importer (`outcore::convert::csv`) against independent references:
//! - an HTRU2-shaped table (17,898 rows × 8 float features + an int class), with and
//!   without a header, as columns and as a matrix: filtered sums computed by the engine over
//!   the stored arrays equal a serial `str::split` + `f64::from_str` parse (and numpy's,
//!   with `OUTCORE_PYTHON`);
//! - 25 monthly taxi-trip-like files concatenated: row counts, category codes, the mean
//!   total per payment type and the fraction of trips over 20 minutes against the values
//!   the generator used; with `OUTCORE_PYTHON`, xarray decodes the CF date-times to the
//!   original strings (`tests/convert_csv/check_csv_store.py`);
//! - delimiter sniffing, header detection, `--stack`, bad rows (exact line numbers) and
//!   `skip_bad_rows`, nasty inputs (BOM, CRLF, quoted delimiters and newlines, unicode
//!   headers) and random bytes, which must give `Ok` or `Err`, never a panic.

use std::fmt::Write as _;
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use outcore::convert::csv::{import_csv, ColumnKind, CsvOptions, CsvReport, Header};
use outcore::convert::{Combine, ConvertOptions};
use outcore::{Axes, LazyArray, Progress, Result, Store};
use proptest::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Imported {
    _dir: TempDir,
    store: Store,
    report: Result<CsvReport>,
}

fn import_with(
    inputs: &[PathBuf],
    how: Option<Combine>,
    convert: &ConvertOptions,
    options: &CsvOptions,
) -> Imported {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("out.zarr")).unwrap();
    let report = import_csv(inputs, how, &store, "t", convert, options, None);
    Imported {
        _dir: dir,
        store,
        report,
    }
}

fn import(inputs: &[PathBuf], options: &CsvOptions) -> Imported {
    import_with(inputs, None, &ConvertOptions::default(), options)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn column(store: &Store, name: &str) -> LazyArray {
    LazyArray::from_stored(&store.open_array(name).unwrap())
}

fn attributes(store: &Store, name: &str) -> Value {
    let text = fs::read(store.node_dir(name).unwrap().join("zarr.json")).unwrap();
    let doc: Value = serde_json::from_slice(&text).unwrap();
    doc["attributes"].clone()
}

fn python() -> Option<PathBuf> {
    match std::env::var_os("OUTCORE_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set OUTCORE_PYTHON (see .ci/run)"
            );
            eprintln!(
                "skipped the Python checks: set OUTCORE_PYTHON (tests/interop/requirements.txt)"
            );
            None
        }
    }
}

fn run_python(args: &[&str]) {
    let Some(python) = python() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/convert_csv/check_csv_store.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

// ---------------------------------------------------------------------------------------
// HTRU2-shaped table

const HTRU2_ROWS: usize = 17_898;
const HTRU2_HEADER: &str = "Mean of the integrated profile,Standard deviation of the integrated profile,Excess kurtosis of the integrated profile,Skewness of the integrated profile,Mean of the DM-SNR curve,Standard deviation of the DM-SNR curve,Excess kurtosis of the DM-SNR curve,Skewness of the DM-SNR curve,Class";

/// The table as text, 8 float features with the spreads of HTRU2's and a 0/1 class.
fn htru2_text(header: bool) -> String {
    let mut rng = Rng(2016);
    let mut out = String::new();
    if header {
        out.push_str(HTRU2_HEADER);
        out.push('\n');
    }
    for _ in 0..HTRU2_ROWS {
        let class = u64::from(rng.uniform() < 0.09);
        let pulsar = class as f64;
        let features = [
            111.0 - 55.0 * pulsar + 25.0 * (rng.uniform() - 0.5),
            46.5 - 8.0 * pulsar + 7.0 * (rng.uniform() - 0.5),
            0.47 + 2.5 * pulsar * rng.uniform() + 0.4 * (rng.uniform() - 0.5),
            1.77 + 10.0 * pulsar * rng.uniform() + 3.0 * (rng.uniform() - 0.5),
            12.6 * rng.uniform().powi(3) * 20.0,
            26.3 + 20.0 * (rng.uniform() - 0.5),
            8.3 + 4.5 * (rng.uniform() - 0.5),
            104.9 + 100.0 * (rng.uniform() - 0.5),
        ];
        for (i, f) in features.iter().enumerate() {
            // Mixed precisions, like the original file.
            match i % 3 {
                0 => write!(out, "{f:.8},").unwrap(),
                1 => write!(out, "{f},").unwrap(),
                _ => write!(out, "{f:.3},").unwrap(),
            }
        }
        writeln!(out, "{class}").unwrap();
    }
    out
}

/// The serial reference: every row split on `,`, every field `f64::from_str`.
fn htru2_reference(text: &str, header: bool) -> Vec<Vec<f64>> {
    text.lines()
        .skip(usize::from(header))
        .map(|l| l.split(',').map(|f| f.parse::<f64>().unwrap()).collect())
        .collect()
}

/// `sum(col[b] where col[a] > t)` and the count, serially.
fn filtered_sum(rows: &[Vec<f64>], a: usize, t: f64, b: usize) -> (f64, usize) {
    let picked: Vec<f64> = rows.iter().filter(|r| r[a] > t).map(|r| r[b]).collect();
    (picked.iter().sum(), picked.len())
}

/// The same through the engine, over stored arrays.
fn engine_filtered_sum(a: &LazyArray, t: f64, b: &LazyArray) -> (f64, i64) {
    let cond = a.greater(t).unwrap();
    let sum = LazyArray::where_(&cond, b, 0.0)
        .unwrap()
        .sum(Axes::all())
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    let count = cond
        .astype(outcore::DataType::Int64)
        .sum(Axes::all())
        .unwrap()
        .to_scalar::<i64>()
        .unwrap();
    (sum, count)
}

#[test]
fn htru2_columns_without_header() {
    let dir = tempfile::tempdir().unwrap();
    let text = htru2_text(false);
    let path = write(dir.path(), "HTRU_2.csv", &text);
    let rows = htru2_reference(&text, false);
    // Small chunks: many row chunks, none aligned with the reader's checkpoints.
    let convert = ConvertOptions {
        chunks: Some(vec![1000]),
        ..Default::default()
    };
    let out = import_with(
        std::slice::from_ref(&path),
        None,
        &convert,
        &CsvOptions::default(),
    );
    let report = out.report.unwrap();
    assert!(!report.header, "HTRU2 has no header row");
    assert_eq!(report.rows, HTRU2_ROWS as u64);
    assert_eq!(report.shape, vec![HTRU2_ROWS as u64]);
    assert_eq!(report.columns.len(), 9);
    for c in &report.columns[..8] {
        assert_eq!(
            (c.kind, c.data_type.as_str()),
            (ColumnKind::Float, "float64")
        );
    }
    assert_eq!(report.columns[8].kind, ColumnKind::Integer);
    assert_eq!(report.columns[8].array, "column_8");
    let store = &out.store;
    let c = |i: usize| column(store, &format!("t/column_{i}"));
    for (a, t, b) in [(0, 100.0, 2), (1, 45.0, 5), (4, 30.0, 7), (3, 2.0, 0)] {
        let (want, n) = filtered_sum(&rows, a, t, b);
        let (got, m) = engine_filtered_sum(&c(a), t, &c(b));
        assert_eq!(m as usize, n);
        assert!(close(got, want), "{got} vs {want}");
    }
    // Every value exactly as f64::from_str read it.
    let col2 = c(2).to_ndarray::<f64>().unwrap();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(col2[[i]].to_bits(), r[2].to_bits());
    }
    let class = c(8).sum(Axes::all()).unwrap().to_scalar::<i64>().unwrap();
    assert_eq!(class, rows.iter().map(|r| r[8] as i64).sum::<i64>());
    let group = attributes(store, "t");
    assert_eq!(group["csv"]["source_files"][0], "HTRU_2.csv");
    assert_eq!(group["columns"].as_array().unwrap().len(), 9);
    run_python(&[
        "htru2",
        store.root().to_str().unwrap(),
        "t",
        path.to_str().unwrap(),
        "0",
        "columns",
    ]);
}

#[test]
fn htru2_with_header_and_as_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let text = htru2_text(true);
    let path = write(dir.path(), "htru2.csv", &text);
    let rows = htru2_reference(&text, true);
    let out = import(std::slice::from_ref(&path), &CsvOptions::default());
    let report = out.report.unwrap();
    assert!(report.header);
    assert_eq!(report.rows, HTRU2_ROWS as u64);
    assert_eq!(report.columns[4].header, "Mean of the DM-SNR curve");
    let a = column(&out.store, "t/Mean of the integrated profile");
    let b = column(&out.store, "t/Excess kurtosis of the integrated profile");
    let (want, _) = filtered_sum(&rows, 0, 100.0, 2);
    assert!(close(engine_filtered_sum(&a, 100.0, &b).0, want));
    let attrs = attributes(&out.store, "t/Class");
    assert_eq!(attrs["long_name"], "Class");

    let options = CsvOptions {
        matrix: true,
        ..Default::default()
    };
    let out = import(std::slice::from_ref(&path), &options);
    let report = out.report.unwrap();
    assert_eq!(report.shape, vec![HTRU2_ROWS as u64, 9]);
    let m = column(&out.store, "t");
    assert_eq!(m.data_type(), outcore::DataType::Float64);
    let col = |j: usize| m.slice(ndarray::s![.., j]).unwrap();
    for (a, t, b) in [(0, 100.0, 2), (5, 30.0, 8)] {
        let (want, n) = filtered_sum(&rows, a, t, b);
        let (got, k) = engine_filtered_sum(&col(a), t, &col(b));
        assert_eq!(k as usize, n);
        assert!(close(got, want), "{got} vs {want}");
    }
    let attrs = attributes(&out.store, "t");
    assert_eq!(attrs["columns"][8], "Class");
    run_python(&[
        "htru2",
        out.store.root().to_str().unwrap(),
        "t",
        path.to_str().unwrap(),
        "1",
        "matrix",
    ]);

    // A matrix of integers stays int64; a text column is refused.
    let ints = write(dir.path(), "ints.csv", "a,b\n1,2\n3,4\n5,6\n");
    let out = import(&[ints], &options);
    assert_eq!(out.report.unwrap().columns[0].data_type, "int64");
    assert_eq!(
        column(&out.store, "t")
            .to_ndarray::<i64>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![1, 2, 3, 4, 5, 6]
    );
    let text = write(dir.path(), "text.csv", "a,b\n1,x\n3,y\n");
    let err = import(&[text], &options).report.unwrap_err().to_string();
    assert!(
        err.contains("\"b\"") && err.contains("matrix import"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Taxi trips

const PAYMENTS: [&str; 5] = ["CRD", "CSH", "DIS", "NOC", "UNK"];

struct Trip {
    pickup: i64,
    dropoff: i64,
    passengers: i64,
    payment: usize,
    total: f64,
}

/// `YYYY-MM-DD HH:MM:SS` of seconds since 1970 (Howard Hinnant's civil_from_days).
fn format_time(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// 25 monthly files from 2019-01 on; returns the paths and the trips in order.
fn taxi_files(dir: &Path, rows_per_month: usize) -> (Vec<PathBuf>, Vec<Trip>) {
    let mut rng = Rng(25);
    let mut paths = Vec::new();
    let mut trips = Vec::new();
    let month0 = 1_546_300_800i64; // 2019-01-01T00:00:00Z
    for month in 0..25 {
        let mut text = String::from(
            "tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,payment_type,total_amount\n",
        );
        // The months vary in length: a few rows more or less.
        let n = rows_per_month + rng.below(50) as usize;
        for _ in 0..n {
            let pickup = month0 + month * 30 * 86_400 + rng.below(30 * 86_400) as i64;
            let dropoff = pickup + 60 + rng.below(45 * 60) as i64;
            let passengers = 1 + rng.below(6) as i64;
            let payment = [0, 0, 0, 1, 1, 2, 3, 4][rng.below(8) as usize];
            let total = (rng.below(12_000) as f64) / 100.0 + 2.5;
            writeln!(
                text,
                "{},{},{passengers},{},{total:.2}",
                format_time(pickup),
                format_time(dropoff),
                PAYMENTS[payment]
            )
            .unwrap();
            trips.push(Trip {
                pickup,
                dropoff,
                passengers,
                payment,
                total: format!("{total:.2}").parse().unwrap(),
            });
        }
        let path = dir.join(format!(
            "yellow_tripdata_{}-{:02}.csv",
            2019 + month / 12,
            month % 12 + 1
        ));
        fs::write(&path, text).unwrap();
        paths.push(path);
    }
    (paths, trips)
}

#[test]
fn taxi_months_concatenated() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, trips) = taxi_files(dir.path(), 400);
    let convert = ConvertOptions {
        chunks: Some(vec![1500]),
        ..Default::default()
    };
    let progress = Mutex::new(Vec::<Progress>::new());
    let report_progress = |p: &Progress| {
        progress.lock().unwrap().push(*p);
        ControlFlow::Continue(())
    };
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::create(store_dir.path().join("taxi.zarr")).unwrap();
    let report = import_csv(
        &paths,
        Some(Combine::Concat),
        &store,
        "trips",
        &convert,
        &CsvOptions::default(),
        Some(&report_progress),
    )
    .unwrap();
    assert_eq!(report.rows, trips.len() as u64);
    assert_eq!(report.rows_per_input.len(), 25);
    let kinds: Vec<ColumnKind> = report.columns.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            ColumnKind::DateTime,
            ColumnKind::DateTime,
            ColumnKind::Integer,
            ColumnKind::Category,
            ColumnKind::Float
        ]
    );
    assert_eq!(report.columns[3].data_type, "int8");
    assert_eq!(
        report.columns[0].units.as_deref(),
        Some("seconds since 1970-01-01T00:00:00")
    );
    let progress = progress.into_inner().unwrap();
    let last = progress.last().unwrap();
    assert_eq!(last.blocks_done, last.blocks_total);
    assert_eq!(last.blocks_total, (trips.len() as u64).div_ceil(1500));
    assert_eq!(last.bytes_done, report.input_bytes);

    // Category codes index the mapping in the attributes.
    let attrs = attributes(&store, "trips/payment_type");
    let categories: Vec<&str> = attrs["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(categories, PAYMENTS);
    assert_eq!(attrs["flag_meanings"], "CRD CSH DIS NOC UNK");
    let codes = column(&store, "trips/payment_type")
        .to_ndarray::<i8>()
        .unwrap();
    for (code, trip) in codes.iter().zip(&trips) {
        assert_eq!(categories[*code as usize], PAYMENTS[trip.payment]);
    }
    let passengers = column(&store, "trips/passenger_count")
        .sum(Axes::all())
        .unwrap()
        .to_scalar::<i64>()
        .unwrap();
    assert_eq!(passengers, trips.iter().map(|t| t.passengers).sum::<i64>());

    // Mean total per payment type.
    let payment = column(&store, "trips/payment_type");
    let total = column(&store, "trips/total_amount");
    for (code, name) in PAYMENTS.iter().enumerate() {
        let cond = payment.equal(code as i64).unwrap();
        let sum = LazyArray::where_(&cond, &total, 0.0)
            .unwrap()
            .sum(Axes::all())
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let n = cond
            .astype(outcore::DataType::Int64)
            .sum(Axes::all())
            .unwrap()
            .to_scalar::<i64>()
            .unwrap();
        let picked: Vec<f64> = trips
            .iter()
            .filter(|t| t.payment == code)
            .map(|t| t.total)
            .collect();
        assert_eq!(n as usize, picked.len(), "{name}");
        let want = picked.iter().sum::<f64>() / picked.len() as f64;
        assert!(
            close(sum / n as f64, want),
            "{name}: {} vs {want}",
            sum / n as f64
        );
    }

    // Fraction of trips over 20 minutes, from the date-time columns.
    let pickup = column(&store, "trips/tpep_pickup_datetime");
    let dropoff = column(&store, "trips/tpep_dropoff_datetime");
    let long = (&dropoff - &pickup)
        .greater(20 * 60)
        .unwrap()
        .astype(outcore::DataType::Int64)
        .sum(Axes::all())
        .unwrap()
        .to_scalar::<i64>()
        .unwrap();
    let want = trips.iter().filter(|t| t.dropoff - t.pickup > 1200).count();
    assert_eq!(long as usize, want);
    let first = pickup.to_ndarray::<i64>().unwrap();
    for (v, t) in first.iter().zip(&trips) {
        assert_eq!(*v, t.pickup);
    }

    // xarray decodes the CF date-times back to the strings in the files.
    let list = dir.path().join("inputs.txt");
    fs::write(
        &list,
        paths
            .iter()
            .map(|p| p.to_str().unwrap())
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    run_python(&[
        "taxi",
        store.root().to_str().unwrap(),
        "trips",
        list.to_str().unwrap(),
    ]);
}

#[test]
fn datetime_forms_and_units() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "times.csv",
        "day,when,precise,zoned\n\
         2024-02-29,2024-02-29T23:59:59,1969-12-31 23:59:59.5,2024-01-01T01:00:00+01:00\n\
         1900-01-01,1900-01-01 00:00,2000-01-01T00:00:00.25,2024-01-01T00:00:00Z\n\
         2262-04-11,,2000-01-01T00:00:00.125,2023-12-31T19:00:00-0500\n",
    );
    let out = import(std::slice::from_ref(&path), &CsvOptions::default());
    let report = out.report.unwrap();
    assert!(report
        .columns
        .iter()
        .all(|c| c.kind == ColumnKind::DateTime));
    let units: Vec<&str> = report
        .columns
        .iter()
        .map(|c| c.units.as_deref().unwrap())
        .collect();
    assert_eq!(
        units,
        [
            "seconds since 1970-01-01T00:00:00",
            "seconds since 1970-01-01T00:00:00",
            "milliseconds since 1970-01-01T00:00:00",
            "seconds since 1970-01-01T00:00:00"
        ]
    );
    let values = |name: &str| {
        column(&out.store, &format!("t/{name}"))
            .to_ndarray::<i64>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0
    };
    assert_eq!(
        values("day"),
        [1_709_164_800, -2_208_988_800, 9_223_286_400]
    );
    assert_eq!(values("when"), [1_709_251_199, -2_208_988_800, i64::MIN]);
    assert_eq!(values("precise"), [-500, 946_684_800_250, 946_684_800_125]);
    assert_eq!(values("zoned"), [1_704_067_200; 3]);
    assert_eq!(
        attributes(&out.store, "t/when")["calendar"],
        "proleptic_gregorian"
    );
    assert_eq!(report.columns[1].missing, 1);
    run_python(&[
        "times",
        out.store.root().to_str().unwrap(),
        "t",
        path.to_str().unwrap(),
    ]);
}

// ---------------------------------------------------------------------------------------
// Sniffing, headers, combining

#[test]
fn delimiters_are_sniffed() {
    let dir = tempfile::tempdir().unwrap();
    for (delimiter, name) in [
        (';', "semi.csv"),
        ('\t', "tab.tsv"),
        ('|', "pipe.txt"),
        (',', "comma.csv"),
    ] {
        let mut text = format!("x{delimiter}y{delimiter}label\n");
        for i in 0..50 {
            // Commas inside values do not fool the sniffer.
            let label = if delimiter == ',' {
                "\"a,b\"".to_string()
            } else {
                format!("v,{}", i % 3)
            };
            writeln!(text, "{}{delimiter}{}.5{delimiter}{label}", i, i * 2).unwrap();
        }
        let path = write(dir.path(), name, &text);
        let out = import(&[path], &CsvOptions::default());
        let report = out.report.unwrap();
        assert_eq!(report.delimiter, delimiter, "{name}");
        assert!(report.header, "{name}");
        assert_eq!(report.columns.len(), 3, "{name}");
        assert_eq!(report.columns[2].kind, ColumnKind::Category, "{name}");
        let y = column(&out.store, "t/y")
            .sum(Axes::all())
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert_eq!(y, (0..50).map(|i| i as f64 * 2.0 + 0.5).sum::<f64>());
    }
    // An explicit delimiter wins.
    let path = write(dir.path(), "forced.csv", "a;b\n1;2\n");
    let options = CsvOptions {
        delimiter: Some(b','),
        header: Header::Present,
        ..Default::default()
    };
    let report = import(&[path], &options).report.unwrap();
    assert_eq!(report.columns.len(), 1);
    assert_eq!(report.columns[0].header, "a;b");
}

#[test]
fn headers_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("numbers.csv", "1,2\n3,4\n5,6\n", false),
        ("named.csv", "a,b\n3,4\n5,6\n", true),
        ("dates.csv", "when,v\n2020-01-01,1\n2020-01-02,2\n", true),
        ("nodates.csv", "2020-01-01,1\n2020-01-02,2\n", false),
        ("text.csv", "name,city\nann,oslo\nbob,rome\n", true),
        ("textnohead.csv", "ann,oslo\nbob,oslo\n", false),
        ("one.csv", "5\n", false),
    ];
    for (name, text, header) in cases {
        let path = write(dir.path(), name, text);
        let report = import(&[path], &CsvOptions::default()).report.unwrap();
        assert_eq!(report.header, header, "{name}");
    }
    // Forcing a header on numbers; forcing none on names (the names become values).
    let path = write(dir.path(), "forced.csv", "1,2\n3,4\n5,6\n");
    let options = CsvOptions {
        header: Header::Present,
        ..Default::default()
    };
    let out = import(&[path], &options);
    assert_eq!(out.report.unwrap().rows, 2);
    assert!(out.store.open_array("t/1").is_ok());
    let path = write(dir.path(), "absent.csv", "a,b\nx,y\n");
    let options = CsvOptions {
        header: Header::Absent,
        ..Default::default()
    };
    let report = import(&[path], &options).report.unwrap();
    assert_eq!(report.rows, 2);
    assert_eq!(report.columns[0].header, "column_0");
}

#[test]
fn nasty_but_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    // BOM, CRLF, quoted delimiters, quotes and newlines, unicode and awkward header names,
    // a trailing empty line, padded fields.
    let text =
        "\u{feff}\"Température, °C\",name/with/slashes,.hidden,\"Température, °C\",\"notes\"\r\n\
                1.5,1,2,3,\"a, \"\"quoted\"\" note\"\r\n\
                -2.25, 2 ,3,4,\"two\r\nlines\"\r\n\
                nan,3,4,5,plain\r\n\
                \r\n";
    let path = write(dir.path(), "nasty.csv", text);
    let out = import(&[path], &CsvOptions::default());
    let report = out.report.unwrap();
    assert!(report.header);
    assert_eq!(report.rows, 3);
    let arrays: Vec<&str> = report.columns.iter().map(|c| c.array.as_str()).collect();
    assert_eq!(
        arrays,
        [
            "Température, °C",
            "name_with_slashes",
            "_.hidden",
            "Température, °C_2",
            "notes"
        ]
    );
    let t = column(&out.store, "t/Température, °C")
        .to_ndarray::<f64>()
        .unwrap();
    assert_eq!(t[[0]], 1.5);
    assert_eq!(t[[1]], -2.25);
    assert!(t[[2]].is_nan());
    let n = column(&out.store, "t/name_with_slashes")
        .to_ndarray::<i64>()
        .unwrap();
    assert_eq!(n.into_raw_vec_and_offset().0, vec![1, 2, 3]);
    let notes = attributes(&out.store, "t/notes");
    assert_eq!(
        notes["categories"],
        serde_json::json!(["a, \"quoted\" note", "plain", "two\r\nlines"])
    );
    assert!(notes.get("flag_meanings").is_none());
    assert_eq!(
        attributes(&out.store, "t/Température, °C_2")["long_name"],
        "Température, °C"
    );
}

#[test]
fn stack_and_concat_check_their_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.csv", "x,y\n1,2\n3,4\n");
    let b = write(dir.path(), "b.csv", "x,y\n5,6\n7,8\n");
    let c = write(dir.path(), "c.csv", "x,y\n9,10\n");
    let d = write(dir.path(), "d.csv", "x,z\n9,10\n");
    let convert = ConvertOptions::default();
    let options = CsvOptions::default();

    let out = import_with(
        &[a.clone(), b.clone()],
        Some(Combine::Stack),
        &convert,
        &options,
    );
    let report = out.report.unwrap();
    assert_eq!(report.shape, vec![2, 2]);
    let y = column(&out.store, "t/y").to_ndarray::<i64>().unwrap();
    assert_eq!(y.shape(), &[2, 2]);
    assert_eq!(y.into_raw_vec_and_offset().0, vec![2, 4, 6, 8]);

    let err = import_with(
        &[a.clone(), c.clone()],
        Some(Combine::Stack),
        &convert,
        &options,
    )
    .report
    .unwrap_err()
    .to_string();
    assert!(err.contains("c.csv") && err.contains("stacking"), "{err}");

    let out = import_with(
        &[a.clone(), b.clone(), c.clone()],
        Some(Combine::Concat),
        &convert,
        &options,
    );
    assert_eq!(out.report.unwrap().rows, 5);
    let x = column(&out.store, "t/x").to_ndarray::<i64>().unwrap();
    assert_eq!(x.into_raw_vec_and_offset().0, vec![1, 3, 5, 7, 9]);

    let err = import_with(
        &[a.clone(), d.clone()],
        Some(Combine::Concat),
        &convert,
        &options,
    )
    .report
    .unwrap_err()
    .to_string();
    assert!(err.contains("d.csv") && err.contains("header"), "{err}");

    let err = import_with(&[a.clone(), b.clone()], None, &convert, &options)
        .report
        .unwrap_err()
        .to_string();
    assert!(err.contains("concatenate them"), "{err}");

    // Dtypes that disagree between inputs come out as the common type (one type per
    // column over all inputs): floats in one file make the column float64.
    let e = write(dir.path(), "e.csv", "x,y\n1.5,2\n");
    let out = import_with(&[a.clone(), e], Some(Combine::Concat), &convert, &options);
    assert_eq!(out.report.unwrap().columns[0].data_type, "float64");

    // Empty and header-only files are errors naming the file.
    let empty = write(dir.path(), "empty.csv", "");
    let err = import(&[empty], &options).report.unwrap_err().to_string();
    assert!(err.contains("empty.csv") && err.contains("empty"), "{err}");
    let head = write(dir.path(), "head.csv", "x,y\n");
    let forced = CsvOptions {
        header: Header::Present,
        ..Default::default()
    };
    let err = import(std::slice::from_ref(&head), &forced)
        .report
        .unwrap_err()
        .to_string();
    assert!(err.contains("head.csv") && err.contains("no rows"), "{err}");
    let err = import_with(&[a, head], Some(Combine::Concat), &convert, &options)
        .report
        .unwrap_err()
        .to_string();
    assert!(err.contains("head.csv") && err.contains("no rows"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Bad rows

fn numbers_with(bad_lines: &[(usize, &str)], rows: usize) -> String {
    let mut text = String::from("id,value,kind\n");
    for i in 0..rows {
        let line = i + 2;
        match bad_lines.iter().find(|(l, _)| *l == line) {
            Some((_, row)) => writeln!(text, "{row}").unwrap(),
            None => writeln!(text, "{i},{}.25,{}", i * 3, ["p", "q"][i % 2]).unwrap(),
        }
    }
    text
}

#[test]
fn bad_rows_name_their_line_or_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 5000;
    let text = numbers_with(&[(1234, "1232,5.0"), (4000, "3998,7.5,p,extra")], rows);
    let path = write(dir.path(), "short.csv", &text);
    let err = import(std::slice::from_ref(&path), &CsvOptions::default())
        .report
        .unwrap_err()
        .to_string();
    assert!(err.contains("short.csv"), "{err}");
    assert!(
        err.contains("line 1234: expected 3 fields, found 2"),
        "{err}"
    );

    let skip = CsvOptions {
        skip_bad_rows: true,
        ..Default::default()
    };
    let convert = ConvertOptions {
        chunks: Some(vec![700]),
        ..Default::default()
    };
    let out = import_with(&[path], None, &convert, &skip);
    let report = out.report.unwrap();
    assert_eq!(report.rows, rows as u64 - 2);
    assert_eq!(report.skipped_rows, 2);
    let lines: Vec<u64> = report.first_skipped_rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [1234, 4000]);
    // The kept ids are the good rows, in order.
    let ids = column(&out.store, "t/id").to_ndarray::<i64>().unwrap();
    let want: Vec<i64> = (0..rows as i64)
        .filter(|&i| i != 1232 && i != 3998)
        .collect();
    assert_eq!(ids.into_raw_vec_and_offset().0, want);

    // Blank lines are not rows, and do not shift line numbers.
    let path = write(dir.path(), "blank.csv", "a,b\n1,2\n\n\r\n3,4\n5\n");
    let err = import(std::slice::from_ref(&path), &CsvOptions::default())
        .report
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 6: expected 2 fields, found 1"), "{err}");
    let report = import(&[path], &skip).report.unwrap();
    assert_eq!((report.rows, report.first_skipped_rows[0].line), (2, 6));

    // A value that does not parse as its (numeric) column's type.
    let text = numbers_with(&[(777, "775,abc,p"), (4321, "4319,1.0,q")], rows);
    let path = write(dir.path(), "value.csv", &text);
    let err = import(std::slice::from_ref(&path), &CsvOptions::default())
        .report
        .unwrap_err()
        .to_string();
    assert!(err.contains("value.csv"), "{err}");
    assert!(err.contains("line 777: column \"value\""), "{err}");
    assert!(err.contains("\"abc\" is not a number"), "{err}");
    let out = import_with(&[path], None, &convert, &skip);
    let report = out.report.unwrap();
    assert_eq!(report.skipped_rows, 1);
    assert_eq!(report.first_skipped_rows[0].line, 777);
    let values = column(&out.store, "t/value")
        .sum(Axes::all())
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    let want: f64 = (0..rows)
        .filter(|&i| i != 775)
        .map(|i| {
            if i == 4319 {
                1.0
            } else {
                (i * 3) as f64 + 0.25
            }
        })
        .sum();
    assert!(close(values, want));

    // Many bad rows across --concat files: skipped and counted, rows line up.
    let a = write(
        dir.path(),
        "m1.csv",
        &numbers_with(&[(2, "x"), (3, "y"), (100, "1,2")], 300),
    );
    let b = write(
        dir.path(),
        "m2.csv",
        &numbers_with(&[(2, "x,"), (301, "1")], 300),
    );
    let out = import_with(&[a, b], Some(Combine::Concat), &convert, &skip);
    let report = out.report.unwrap();
    assert_eq!(report.rows_per_input, vec![297, 298]);
    assert_eq!(report.skipped_rows, 5);
    let ids = column(&out.store, "t/id").to_ndarray::<i64>().unwrap();
    assert_eq!(ids.len(), 595);
    assert_eq!(ids[[0]], 2);
    assert_eq!(ids[[297]], 1);
}

#[test]
fn wide_text_columns_are_skipped_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,name\n");
    for i in 0..3000 {
        writeln!(text, "{i},name{i}").unwrap();
    }
    let path = write(dir.path(), "names.csv", &text);
    let out = import(&[path], &CsvOptions::default());
    let report = out.report.unwrap();
    assert_eq!(report.columns.len(), 1);
    assert_eq!(report.skipped_columns[0].header, "name");
    assert!(out.store.open_array("t/name").is_err());
    assert_eq!(attributes(&out.store, "t")["skipped_columns"][0], "name");
}

#[test]
fn an_unclosed_quote_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a,b\n1,2\n3,\"oops\n");
    for i in 0..100 {
        writeln!(text, "{i},{i}").unwrap();
    }
    let path = write(dir.path(), "quote.csv", &text);
    let err = import(&[path], &CsvOptions::default())
        .report
        .unwrap_err()
        .to_string();
    assert!(err.contains("quote.csv") && err.contains("line 3"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random CSV-ish bytes give `Ok` or `Err`, never a panic; an `Ok` report is
    /// consistent with itself.
    #[test]
    fn random_inputs_never_panic(
        text in proptest::collection::vec(
            prop_oneof![
                Just(b','), Just(b';'), Just(b'\t'), Just(b'"'), Just(b'\n'), Just(b'\r'),
                Just(b'1'), Just(b'.'), Just(b'-'), Just(b'a'), Just(b'e'), Just(b' '),
                Just(0xef), Just(0xbb), Just(0xbf), Just(b'2'), Just(b':'), Just(b'T'),
            ],
            0..300,
        ),
        skip in any::<bool>(),
        matrix in any::<bool>(),
        chunk in 1u64..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("random.csv");
        fs::write(&path, &text).unwrap();
        let options = CsvOptions { skip_bad_rows: skip, matrix, ..Default::default() };
        let convert = ConvertOptions {
            chunks: Some(if matrix { vec![chunk, 1] } else { vec![chunk] }),
            ..Default::default()
        };
        let out = import_with(&[path.clone(), path], Some(Combine::Concat), &convert, &options);
        if let Ok(report) = out.report {
            prop_assert_eq!(report.rows, report.rows_per_input.iter().sum::<u64>());
            prop_assert!(!report.columns.is_empty());
        }
    }
}

/// Throughput of both passes on ~200 MB of taxi-like rows (run by hand:
/// `cargo test --release --test convert_csv -- --ignored --nocapture`).
#[test]
#[ignore]
fn throughput_200mb() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let path = dir.path().join("big.csv");
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(fs::File::create(&path).unwrap());
        writeln!(out, "tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance,payment_type,fare_amount,total_amount").unwrap();
        let mut written = 0u64;
        let mut line = String::new();
        while written < 200_000_000 {
            line.clear();
            let pickup = 1_546_300_800 + rng.below(365 * 86_400) as i64;
            let dropoff = pickup + 60 + rng.below(3600) as i64;
            writeln!(
                line,
                "{},{},{},{:.2},{},{:.2},{:.2}",
                format_time(pickup),
                format_time(dropoff),
                1 + rng.below(6),
                rng.uniform() * 20.0,
                PAYMENTS[rng.below(5) as usize],
                rng.uniform() * 80.0,
                rng.uniform() * 100.0
            )
            .unwrap();
            out.write_all(line.as_bytes()).unwrap();
            written += line.len() as u64;
        }
    }
    let size = fs::metadata(&path).unwrap().len() as f64 / 1e6;
    let store = Store::create(dir.path().join("big.zarr")).unwrap();
    let start = std::time::Instant::now();
    // Pass 1 reports `blocks_total == 0`, last when it has read everything.
    let pass1_end = Mutex::new(None);
    let progress = |p: &Progress| {
        if p.blocks_total == 0 {
            *pass1_end.lock().unwrap() = Some(start.elapsed());
        }
        ControlFlow::Continue(())
    };
    let report = import_csv(
        &[path],
        None,
        &store,
        "t",
        &ConvertOptions::default(),
        &CsvOptions::default(),
        Some(&progress),
    )
    .unwrap();
    let total = start.elapsed().as_secs_f64();
    let pass1 = pass1_end.lock().unwrap().unwrap().as_secs_f64();
    eprintln!(
        "{size:.0} MB, {} rows, {} threads: pass 1 {pass1:.2} s = {:.0} MB/s; total {total:.2} s; pass 2 {:.0} MB/s; end to end {:.0} MB/s",
        report.rows,
        rayon::current_num_threads(),
        size / pass1,
        size / (total - pass1),
        size / total
    );
}
