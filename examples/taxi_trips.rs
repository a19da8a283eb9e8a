//! The tutorial's taxi trips: many monthly CSV files of NYC-taxi-like trips read as one
//! table, then what the tutorial asks of it with dask.dataframe: the fraction of trips longer
//! than 20 minutes, the mean total and the mean tip per payment type
//! (`df.groupby("payment_type").tip_amount.mean()`), trips per hour of the day, the mean tip
//! per passenger count, and the long-distance trips (`df[df.trip_distance > 10]`) per payment
//! type.
//!
//! The example writes the monthly files (pickup and dropoff date-times, passengers,
//! distance, the payment type as text, fare, tip and total; durations roughly exponential
//! from one minute, about 20% over 20 minutes), imports them with
//! `convert::csv::import_csv` concatenated into one group of columns (date-times become int64
//! seconds since 1970, the payment type integer codes into its sorted categories), opens the
//! group as a `convert::Table`, then computes with the engine:
//! - trip duration = dropoff - pickup, and the mean of `duration > 1200`;
//! - grouped reductions (`Table::group_by`, `LazyArray::group_by`), one pass each over the
//!   value and key columns whatever the reductions: total and tip per payment type together
//!   is one pass per column; the hour of the day is the expression `pickup // 3600 % 24`;
//! - `Table::filter` for the long-distance trips, then a grouping of what it keeps.
//!
//! `cargo run --release --example taxi_trips -- [DIR] [ROWS_PER_FILE] [FILES]`
//!
//! (default `target/tutorials/taxi_trips`, 100000 rows in each of 12 monthly files from
//! January 2019). Prints the import and each answer, each step with its wall time and peak
//! resident memory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Months, NaiveDate};
use outcore::convert::csv::{import_csv, CsvOptions, CsvReport};
use outcore::convert::{Combine, ConvertOptions, Table};
use outcore::{random, Agg, Axes, Store};

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

/// Trips longer than this many miles are the tutorial's long-distance trips.
const LONG_DISTANCE: f64 = 10.0;

/// The share of trips whose dropoff is more than 20 minutes after their pickup.
fn long_trip_share(trips: &Table) -> outcore::Result<f64> {
    let pickup = trips.column("tpep_pickup_datetime")?;
    let dropoff = trips.column("tpep_dropoff_datetime")?;
    (dropoff - pickup)
        .greater(LONG_TRIP)?
        .mean(Axes::all())?
        .to_scalar()
}

/// Per payment type (by name): trips, mean total amount and mean tip.
fn per_payment(trips: &Table) -> outcore::Result<Vec<(String, u64, f64, f64)>> {
    let aggs = [Agg::NanMean];
    let totals = trips
        .group_by(&["payment_type"], "total_amount")?
        .agg(&aggs)?;
    let tips = trips
        .group_by(&["payment_type"], "tip_amount")?
        .agg(&aggs)?;
    let total_means = totals.to_ndarray::<f64>(Agg::NanMean)?;
    let tip_means = tips.to_ndarray::<f64>(Agg::NanMean)?;
    Ok((0..totals.len())
        .map(|g| {
            (
                totals.label(0, g),
                totals.sizes()[g],
                total_means[[g]],
                tip_means[[g]],
            )
        })
        .collect())
}

/// Trips per hour of the day of their pickup (UTC): 24 counts.
fn trips_per_hour(trips: &Table) -> outcore::Result<Vec<u64>> {
    let pickup = trips.column("tpep_pickup_datetime")?;
    let hour = pickup.floor_divide(3600)? % 24;
    let table = pickup.group_by(&hour)?.size()?;
    let mut counts = vec![0; 24];
    for (g, &hour) in table.keys(0).iter().enumerate() {
        counts[hour as usize] = table.sizes()[g];
    }
    Ok(counts)
}

/// Per passenger count: trips and mean tip.
fn tip_per_passengers(trips: &Table) -> outcore::Result<Vec<(i64, u64, f64)>> {
    let table = trips.group_by(&["passenger_count"], "tip_amount")?.mean()?;
    let means = table.to_ndarray::<f64>(Agg::NanMean)?;
    Ok((0..table.len())
        .map(|g| (table.keys(0)[g], table.sizes()[g], means[[g]]))
        .collect())
}

/// The trips longer than [`LONG_DISTANCE`] miles, per payment type (by name): trips.
fn long_distance_per_payment(trips: &Table) -> outcore::Result<Vec<(String, u64)>> {
    let long = trips.filter(&trips.column("trip_distance")?.greater(LONG_DISTANCE)?)?;
    let table = long.group_by(&["payment_type"], "trip_distance")?.size()?;
    Ok((0..table.len())
        .map(|g| (table.label(0, g), table.sizes()[g]))
        .collect())
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

        let trips = Table::open(&store, "trips")?;
        let step = Step::start("trips over 20 minutes");
        let share = long_trip_share(&trips)?;
        step.done(format!("{:.4} of all trips", share), Some(16 * report.rows));

        let step = Step::start("mean total and tip per payment type");
        let payments = per_payment(&trips)?;
        step.done(
            format!("{} payment types", payments.len()),
            Some(2 * 9 * report.rows),
        );
        for (name, n, total, tip) in &payments {
            println!("    {name:>12}: {n:>9} trips, mean total {total:.4}, mean tip {tip:.4}");
        }

        let step = Step::start("trips per hour of the day");
        let hours = trips_per_hour(&trips)?;
        step.done(
            format!("busiest hour {:?}", busiest(&hours)),
            Some(8 * report.rows),
        );
        let shown: Vec<String> = hours.iter().map(u64::to_string).collect();
        println!("    {}", shown.join(" "));

        let step = Step::start("mean tip per passenger count");
        let passengers = tip_per_passengers(&trips)?;
        step.done(
            format!("{} passenger counts", passengers.len()),
            Some(16 * report.rows),
        );
        for (n, trips, tip) in &passengers {
            println!("    {n:>2} passengers: {trips:>9} trips, mean tip {tip:.4}");
        }

        let step = Step::start(format!("trips over {LONG_DISTANCE} miles per payment type"));
        let long = long_distance_per_payment(&trips)?;
        let total: u64 = long.iter().map(|(_, n)| n).sum();
        step.done(format!("{total} trips"), Some(9 * report.rows));
        for (name, n) in &long {
            println!("    {name:>12}: {n:>9} trips");
        }
        Ok(())
    })
}

/// The hour with the most trips.
fn busiest(hours: &[u64]) -> Option<usize> {
    (0..hours.len()).max_by_key(|&h| hours[h])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::NaiveDateTime;

    use super::*;

    /// The engine's answers against the CSV files read back serially with the `csv` crate.
    #[test]
    fn results_equal_serial_parse() {
        let dir = tempfile::tempdir().unwrap();
        let paths = write_months(dir.path(), 700, 3).unwrap();
        let store = Store::create(dir.path().join("taxi.zarr")).unwrap();
        let report = import(&paths, &store).unwrap();
        let trips = Table::open(&store, "trips").unwrap();
        let share = long_trip_share(&trips).unwrap();
        let payments = per_payment(&trips).unwrap();
        let hours = trips_per_hour(&trips).unwrap();
        let passengers = tip_per_passengers(&trips).unwrap();
        let long_distance = long_distance_per_payment(&trips).unwrap();

        let mut rows = 0;
        let mut long = 0;
        let mut per_payment = BTreeMap::<String, (u64, f64, f64)>::new();
        let mut per_hour = [0u64; 24];
        let mut per_passengers = BTreeMap::<i64, (u64, f64)>::new();
        let mut far = BTreeMap::<String, u64>::new();
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
                let number = |i: usize| r[i].parse::<f64>().unwrap();
                rows += 1;
                long += u64::from(time(1) - time(0) > LONG_TRIP);
                let entry = per_payment.entry(r[4].to_string()).or_default();
                entry.0 += 1;
                entry.1 += number(7);
                entry.2 += number(6);
                per_hour[time(0).rem_euclid(86_400) as usize / 3600] += 1;
                let entry = per_passengers.entry(r[2].parse().unwrap()).or_default();
                entry.0 += 1;
                entry.1 += number(6);
                if number(3) > LONG_DISTANCE {
                    *far.entry(r[4].to_string()).or_default() += 1;
                }
            }
        }
        assert_eq!(report.rows, rows);
        assert!(common::close(share, long as f64 / rows as f64, 1e-15));
        assert_eq!(payments.len(), per_payment.len());
        for ((name, n, total, tip), (want_name, (want_n, want_total, want_tip))) in
            payments.iter().zip(&per_payment)
        {
            assert_eq!((name, n), (want_name, want_n));
            let (want_total, want_tip) = (want_total / *n as f64, want_tip / *n as f64);
            assert!(
                common::close(*total, want_total, 1e-12),
                "{name}: {total} vs {want_total}"
            );
            assert!(
                common::close(*tip, want_tip, 1e-12),
                "{name}: {tip} vs {want_tip}"
            );
        }
        assert_eq!(hours, per_hour);
        assert_eq!(passengers.len(), per_passengers.len());
        for ((k, n, tip), (want_k, (want_n, want_sum))) in passengers.iter().zip(&per_passengers) {
            assert_eq!((k, n), (want_k, want_n));
            let want_tip = want_sum / *n as f64;
            assert!(
                common::close(*tip, want_tip, 1e-12),
                "{k}: {tip} vs {want_tip}"
            );
        }
        assert!(!far.is_empty(), "some trips are long");
        assert_eq!(long_distance, far.into_iter().collect::<Vec<_>>());
    }
}
