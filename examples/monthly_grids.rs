//! The dask tutorial's stacked grids: four years of monthly (12, 444, 922) float64 fields,
//! one file a year, stacked with `da.stack` into (4, 12, 444, 922) and averaged over the
//! years with `nanmean`, giving each month's climatology.
//!
//! The example first writes the four years as `.npy` files (with outcore's `export_npy`): a
//! sea-surface-temperature-like field (warm tropics, a seasonal cycle of opposite sign in
//! each hemisphere, a small warming from year to year, noise), NaN over a fixed "land" mask,
//! and NaN in about 2% of the sea cells of each year (gaps, as under clouds). It then opens
//! the files with `convert::binary::open_npy` (memory maps, nothing read up front), stacks
//! them with `LazyArray::stack` and streams `nanmean(axis=0)`: land stays NaN, and a gap in
//! one year does not blank the cell, which the plain `mean` would.
//!
//! `cargo run --release --example monthly_grids -- [DIR] [YEARS]`
//!
//! (default `target/tutorials/monthly_grids`, 4 years). Prints the time to write the files,
//! then the climatology's shape, its land (all-NaN) cells, the sea mean of each month, and the
//! cells that only the NaN-aware mean fills, each step with its wall time and peak resident
//! memory.

use std::f64::consts::{FRAC_PI_2, PI, TAU};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use outcore::convert::binary::open_npy;
use outcore::convert::export::export_npy;
use outcore::{random, Axes, DataType, LazyArray};

mod common;
use common::{Args, Step};

/// (months, latitudes, longitudes) of one year.
const GRID: [u64; 3] = [12, 444, 922];
const FIRST_YEAR: u64 = 2019;

/// Latitude (radians, north first) as a column and longitude as a row of a `grid`.
fn coordinates(grid: [u64; 3]) -> outcore::Result<(LazyArray, LazyArray)> {
    let (ny, nx) = (grid[1] as f64, grid[2] as f64);
    let lat =
        ((LazyArray::arange(0.0, ny, 1.0)? + 0.5) * (-PI / ny) + FRAC_PI_2).reshape(&[-1, 1])?;
    let lon = (LazyArray::arange(0.0, nx, 1.0)? + 0.5) * (TAU / nx);
    Ok((lat, lon))
}

/// The fixed land mask, (latitudes, longitudes): smooth "continents" and an Antarctica.
fn land(grid: [u64; 3]) -> outcore::Result<LazyArray> {
    let (lat, lon) = coordinates(grid)?;
    let continents = ((&lon * 3.0).sin()? * (&lat * 2.0).cos()? + (&lat * 5.0 + &lon).sin()? * 0.5)
        .greater(0.6)?;
    continents.logical_or(lat.less(-1.15)?)
}

/// Year `year` (0-based) of monthly fields on `grid`, NaN over land and in its gaps.
fn year_fields(year: u64, grid: [u64; 3]) -> outcore::Result<LazyArray> {
    let (lat, _) = coordinates(grid)?;
    let month = LazyArray::arange(0.0, grid[0] as f64, 1.0)?.reshape(&[-1, 1, 1])?;
    let season = (&month * (TAU / 12.0)).sin()? * lat.sin()? * 4.0;
    let noise = random::normal(100 + year, &grid, 0.0, 0.5)?;
    let temperature = lat.cos()?.square()? * 28.0 - 2.0 + &season + 0.02 * year as f64 + &noise;
    let gap = random::uniform(200 + year, &grid, 0.0, 1.0)?.less(0.02)?;
    LazyArray::where_(&land(grid)?.logical_or(&gap)?, f64::NAN, temperature)
}

/// Writes `years` years of `grid` fields as `sst_<year>.npy` files in `dir`.
fn write_years(dir: &Path, years: u64, grid: [u64; 3]) -> outcore::Result<Vec<PathBuf>> {
    (0..years)
        .map(|year| {
            let path = dir.join(format!("sst_{}.npy", FIRST_YEAR + year));
            export_npy(&year_fields(year, grid)?, &path, true, None)?;
            Ok(path)
        })
        .collect()
}

/// The years in `paths` stacked along a new axis 0: (years, months, latitudes, longitudes).
fn stacked(paths: &[PathBuf]) -> outcore::Result<LazyArray> {
    let years: Vec<LazyArray> = paths
        .iter()
        .map(|p| open_npy(p, None))
        .collect::<outcore::Result<_>>()?;
    LazyArray::stack(&years, 0)
}

/// The number of NaN elements of `x`.
fn nan_count(x: &LazyArray) -> outcore::Result<i64> {
    x.isnan()?
        .astype(DataType::Int64)
        .sum(Axes::all())?
        .to_scalar()
}

fn main() -> ExitCode {
    common::run("[DIR] [YEARS]", |args: &Args| {
        let dir = args.dir(0, "target/tutorials/monthly_grids")?;
        let years = args.count(1, "YEARS", 4)?;
        common::check_elements(&[years, GRID[0], GRID[1], GRID[2]])?;
        let year_bytes = GRID.iter().product::<u64>() * 8;

        let step = Step::start(format!("write {years} years of {GRID:?} float64 as .npy"));
        let paths = write_years(&dir, years, GRID)?;
        step.done(dir.display(), Some(years * year_bytes));

        let x = stacked(&paths)?;
        let step = Step::start(format!(
            "stack to {:?}, climatology = x.nanmean(axis=0)",
            x.shape()
        ));
        let climatology = x.nanmean(0)?.to_ndarray::<f64>()?;
        let cells = GRID[1] * GRID[2];
        let land_cells = climatology
            .outer_iter()
            .next()
            .map_or(0, |month| month.iter().filter(|v| v.is_nan()).count());
        step.done(
            format!(
                "shape {:?}, {land_cells} of {cells} cells land (NaN)",
                climatology.shape()
            ),
            Some(x.nbytes()),
        );
        let sea_means: Vec<String> = climatology
            .outer_iter()
            .map(|month| {
                let sea: Vec<f64> = month.iter().copied().filter(|v| !v.is_nan()).collect();
                format!("{:.3}", sea.iter().sum::<f64>() / sea.len() as f64)
            })
            .collect();
        println!("    sea mean of each month: [{}]", sea_means.join(", "));

        let step = Step::start("NaN cells of x.mean(axis=0) vs x.nanmean(axis=0)");
        let plain = nan_count(&x.mean(0)?)?;
        let aware = nan_count(&x.nanmean(0)?)?;
        step.done(
            format!(
                "mean {plain}, nanmean {aware}: nanmean fills the {} cells with \
                     a gap in some year",
                plain - aware
            ),
            Some(2 * x.nbytes()),
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use outcore::ndarray::{ArrayD, Axis};

    /// The NaN-aware mean over years of small grids, through `.npy` files, against plain
    /// loops over the files as `ndarray-npy` reads them.
    #[test]
    fn climatology_equals_serial_nanmean() {
        let grid = [12, 20, 30];
        let dir = tempfile::tempdir().unwrap();
        let paths = write_years(dir.path(), 4, grid).unwrap();
        let got = stacked(&paths)
            .unwrap()
            .nanmean(0)
            .unwrap()
            .to_ndarray::<f64>()
            .unwrap();

        let years: Vec<ArrayD<f64>> = paths
            .iter()
            .map(|p| ndarray_npy::read_npy(p).unwrap())
            .collect();
        let mut land_cells = 0;
        let mut gap_cells = 0;
        for (ix, g) in got.indexed_iter() {
            let present: Vec<f64> = years
                .iter()
                .map(|y| y[&ix])
                .filter(|v| !v.is_nan())
                .collect();
            if present.is_empty() {
                assert!(g.is_nan(), "{ix:?}");
                land_cells += 1;
                continue;
            }
            gap_cells += usize::from(present.len() < years.len());
            let want = present.iter().sum::<f64>() / present.len() as f64;
            assert!(common::close(*g, want, 1e-14), "{ix:?}: {g} vs {want}");
        }
        // The example's point holds at this size too: land, and gaps that nanmean fills.
        assert!(land_cells > 0 && gap_cells > 0, "{land_cells} {gap_cells}");
        // The mask is the same in every month.
        let land_per_month: Vec<usize> = got
            .axis_iter(Axis(0))
            .map(|m| m.iter().filter(|v| v.is_nan()).count())
            .collect();
        assert!(land_per_month.iter().all(|&n| n == land_per_month[0]));
    }
}
