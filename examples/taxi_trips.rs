//! The tutorial's taxi trips: many monthly CSV files of NYC-taxi-like trips read as one
//! table, then the fraction of trips longer than 20 minutes and the mean total amount per
//! payment type (`df.groupby("payment_type").total_amount.mean()`).
//!
//! The example writes the monthly files (pickup and dropoff date-times, passengers,
//! distance, the payment type as text, fare, tip and total; durations roughly exponential
//! from one minute, about 20% over 20 minutes), imports them with
//! `convert::csv::import_csv` concatenated into one group of columns (date-times become int64
//! seconds since 1970, the payment type integer codes into its sorted categories), then
//! computes with the engine:
//! - trip duration = dropoff - pickup, and the mean of `duration > 1200`;
//! - per payment type, with one mask of (rows, categories) from comparing the codes with
//!   every category code: the masked sums of the total over the counts, two passes for all
//!   categories at once.
//!
//! `cargo run --release --example taxi_trips -- [DIR] [ROWS_PER_FILE] [FILES]`
//!
//! (default `target/tutorials/taxi_trips`, 100000 rows in each of 12 monthly files from
//! January 2019). Prints the import, the fraction of long trips and, per payment type, its
//! trips and mean total, each step with its wall time and peak resident memory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Months, NaiveDate};
use outcore::convert::csv::{import_csv, CsvOptions, CsvReport};
use outcore::convert::{Combine, ConvertOptions};
use outcore::ndarray::ArrayD;
use outcore::{random, Axes, DataType, LazyArray, Store};

mod common;
use common::{Args, Step};

const HEADER: &str = "tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,\
                      trip_distance,payment_type,fare_amount,tip_amount,total_amount";
/// Payment types and the share of trips up to each (the last takes the rest).
const PAYMENTS: [(&str, f64); 5] = [
    ("Credit card", 0.68),
    ("Cash", 0.97),
    ("No charge", 0.985),
    ("Dispute", 0.995),
    ("Unknown", 1.0),
];
/// Seconds in 20 minutes.
const LONG_TRIP: i64 = 20 * 60;
const DATE_TIME: &str = "%Y-%m-%d %H:%M:%S";

/// One trip from six uniforms in [0, 1), as a CSV row, picked up during the month that
/// starts at `start` (seconds since 1970) and lasts `length` seconds.
fn trip(u: &[f64], start: i64, length: i64, out: &mut String) -> common::Result<()> {
    let pickup = start + (u[0] * length as f64) as i64;
    let duration = 60 + (-700.0 * (1.0 - u[1]).ln()).round() as i64;
    let passengers = [1, 1, 1, 1, 1, 1, 2, 2, 3, 5][(u[2] * 10.0) as usize];
    let payment = PAYMENTS
        .iter()
        .position(|(_, upto)| u[3] < *upto)
        .unwrap_or(PAYMENTS.len() - 1);
    let minutes = duration as f64 / 60.0;
    let distance = minutes / 60.0 * (8.0 + 17.0 * u[4]);
    let fare = 3.0 + 2.5 * distance + 0.5 * minutes;
    let tip = if payment == 0 { 0.3 * u[5] * fare } else { 0.0 };
    let total = fare + tip + 3.3;
    let time = |t: i64| {
        DateTime::from_timestamp(t, 0)
            .map(|d| d.format(DATE_TIME).to_string())
            .ok_or_else(|| format!("time {t} out of range"))
    };
    writeln!(
        out,
        "{},{},{passengers},{distance:.2},{},{fare:.2},{tip:.2},{total:.2}",
        time(pickup)?,
        time(pickup + duration)?,
        PAYMENTS[payment].0
    )?;
    Ok(())
}

/// Writes `files` monthly files of `rows` trips each, from January 2019, into `dir`.
fn write_months(dir: &Path, rows: u64, files: u64) -> common::Result<Vec<PathBuf>> {
    let first = NaiveDate::from_ymd_opt(2019, 1, 1).ok_or("bad first month")?;
    let mut paths = Vec::new();
    for file in 0..files {
        let month = |k: u64| {
            u32::try_from(k)
                .ok()
                .and_then(|k| first.checked_add_months(Months::new(k)))
                .ok_or_else(|| format!("month {k} out of range"))
        };
        let (start, end) = (month(file)?, month(file + 1)?);
        let start_secs = start.and_time(Default::default()).and_utc().timestamp();
        let length = end.and_time(Default::default()).and_utc().timestamp() - start_secs;
        let path = dir.join(format!("yellow_tripdata_{}.csv", start.format("%Y-%m")));
        let u = random::uniform(file, &[rows, 6], 0.0, 1.0)?;
        common::write_csv(&path, Some(HEADER), &u, |row, out| {
            trip(row, start_secs, length, out)
        })?;
        paths.push(path);
    }
    Ok(paths)
}

/// Imports the monthly `files` into `store` as the group `trips`, rows concatenated.
fn import(files: &[PathBuf], store: &Store) -> outcore::Result<CsvReport> {
    import_csv(
        files,
        Some(Combine::Concat),
        store,
        "trips",
        &ConvertOptions::default(),
        &CsvOptions::default(),
        None,
    )
}

fn column(store: &Store, name: &str) -> outcore::Result<LazyArray> {
    Ok(LazyArray::from_stored(
        &store.open_array(&format!("trips/{name}"))?,
    ))
}

/// The share of trips whose dropoff is more than 20 minutes after their pickup.
fn long_trip_share(store: &Store) -> outcore::Result<f64> {
    let pickup = column(store, "tpep_pickup_datetime")?;
    let dropoff = column(store, "tpep_dropoff_datetime")?;
    (&dropoff - &pickup)
        .greater(LONG_TRIP)?
        .mean(Axes::all())?
        .to_scalar()
}

/// The payment type's categories (its codes index them).
fn payment_categories(store: &Store) -> common::Result<Vec<String>> {
    let array = store.open_array("trips/payment_type")?;
    let categories = array.meta().attributes().get("categories");
    let names = categories
        .and_then(|c| c.as_array())
        .ok_or("payment_type has no categories: was it imported as text?")?;
    Ok(names
        .iter()
        .map(|n| n.as_str().unwrap_or_default().to_string())
        .collect())
}

/// For each of `categories` payment codes: trips and the sum of their total amount.
fn totals_per_payment(
    store: &Store,
    categories: usize,
) -> outcore::Result<(ArrayD<i64>, ArrayD<f64>)> {
    let codes = column(store, "payment_type")?.reshape(&[-1, 1])?;
    let total = column(store, "total_amount")?.reshape(&[-1, 1])?;
    let every_code = LazyArray::arange(0i64, categories as i64, 1)?.reshape(&[1, -1])?;
    // (rows, categories): row i, column k is whether trip i was paid with category k.
    let paid_with = codes.equal(&every_code)?;
    let counts = paid_with.astype(DataType::Int64).sum(0)?.to_ndarray()?;
    let sums = LazyArray::where_(&paid_with, &total, 0.0)?
        .sum(0)?
        .to_ndarray()?;
    Ok((counts, sums))
}

fn main() -> ExitCode {
    common::run("[DIR] [ROWS_PER_FILE] [FILES]", |args: &Args| {
        let dir = args.dir(0, "target/tutorials/taxi_trips")?;
        let rows = args.count(1, "ROWS_PER_FILE", 100_000)?;
        let files = args.count(2, "FILES", 12)?;
        common::check_elements(&[files, rows, 8])?;
        let step = Step::start(format!("write {files} monthly CSV files"));
        let paths = write_months(&dir, rows, files)?;
        let mut bytes = 0;
        for p in &paths {
            bytes += std::fs::metadata(p)?.len();
        }
        step.done(
            format!("{} rows, {:.1} MB", rows * files, bytes as f64 / 1e6),
            Some(bytes),
        );

        let store = common::fresh_store(&dir, "taxi.zarr")?;
        let step = Step::start("import, concatenated");
        let report = import(&paths, &store)?;
        let columns: Vec<String> = report
            .columns
            .iter()
            .map(|c| format!("{} {}", c.header, c.data_type))
            .collect();
        step.done(
            format!("{} rows; columns: {}", report.rows, columns.join(", ")),
            Some(bytes),
        );

        let step = Step::start("trips over 20 minutes");
        let share = long_trip_share(&store)?;
        step.done(format!("{:.4} of all trips", share), Some(16 * report.rows));

        let step = Step::start("mean total amount per payment type");
        let categories = payment_categories(&store)?;
        let (counts, sums) = totals_per_payment(&store, categories.len())?;
        step.done(
            format!("{} payment types", categories.len()),
            Some(9 * report.rows),
        );
        for ((name, n), sum) in categories.iter().zip(&counts).zip(&sums) {
            let mean = sum / *n as f64;
            println!("    {name:>12}: {n:>9} trips, mean total {mean:.4}");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveDateTime;

    use super::*;

    /// The engine's share of long trips and means per payment type against the CSV files
    /// read back serially with the `csv` crate.
    #[test]
    fn results_equal_serial_parse() {
        let dir = tempfile::tempdir().unwrap();
        let paths = write_months(dir.path(), 700, 3).unwrap();
        let store = Store::create(dir.path().join("taxi.zarr")).unwrap();
        let report = import(&paths, &store).unwrap();
        let share = long_trip_share(&store).unwrap();
        let categories = payment_categories(&store).unwrap();
        let (counts, sums) = totals_per_payment(&store, categories.len()).unwrap();

        let mut trips = 0;
        let mut long = 0;
        let mut per_payment = BTreeMap::<String, (i64, f64)>::new();
        for path in &paths {
            let mut reader = ::csv::Reader::from_path(path).unwrap();
            for record in reader.records() {
                let r = record.unwrap();
                let time = |i: usize| {
                    NaiveDateTime::parse_from_str(&r[i], DATE_TIME)
                        .unwrap()
                        .and_utc()
                        .timestamp()
                };
                trips += 1;
                long += i64::from(time(1) - time(0) > LONG_TRIP);
                let entry = per_payment.entry(r[4].to_string()).or_default();
                entry.0 += 1;
                entry.1 += r[7].parse::<f64>().unwrap();
            }
        }
        assert_eq!(report.rows, trips);
        assert!(common::close(share, long as f64 / trips as f64, 1e-15));
        assert_eq!(categories.len(), per_payment.len());
        for ((name, n), sum) in categories.iter().zip(&counts).zip(&sums) {
            let (want_n, want_sum) = per_payment[name];
            assert_eq!(*n, want_n, "{name}");
            assert!(
                common::close(*sum, want_sum, 1e-12),
                "{name}: {sum} vs {want_sum}"
            );
        }
    }
}
