//! Peak memory: a full NaN-aware reduction over stores 50 times larger than the cache budget
//! keeps the process's peak resident memory under the budget plus a stated constant (mapped
//! pages of consumed chunks are released; decoded chunks live in the bounded cache; at most
//! a batch of blocks is in flight).
//!
//! A zstd store smaller than the budget is held to the same constant: a streaming pass
//! releases the compressed bytes' pages once decoded whatever the array's size (only the
//! zero-copy pages of raw arrays within the budget stay mapped for the next pass).
//!
//! Every other pass over such a store is held to the same bound: an exact median (its
//! narrowing passes hold at most half the budget of selection state), `verify`, an export
//! to `.npy` and a conversion with other chunks. So are `inspect`, `summarize` and `verify` of
//! a sparse array of five million shard positions holding one chunk, whose statistics sidecar
//! has a record per chunk: nothing they hold grows with the number of chunks.
//!
//! Each measured operation runs in a child process (this test binary re-executed) so the
//! peak is not inflated by building the stores.

use std::process::Command;

use outcore::{ArraySpec, Axes, ChunkEncoding, DataType, LazyArray, Store};

const STORE_ENV: &str = "OUTCORE_MEMORY_TEST_STORE";
const ARRAYS_ENV: &str = "OUTCORE_MEMORY_TEST_ARRAYS";
const OPERATION_ENV: &str = "OUTCORE_MEMORY_TEST_OPERATION";
/// The cache budget the child runs with.
const BUDGET: u64 = 4 << 20;
/// Each store holds this many times the budget (logical bytes).
const FACTOR: u64 = 50;
/// What the engine may use beyond the cache budget: blocks in flight (4 per thread of 1 MiB
/// each), their partials, decoder contexts, allocator slack and the test harness' threads.
const CONSTANT: u64 = 48 << 20;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} not in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[ignore = "run by reduction_peak_memory_stays_under_budget as a child process"]
fn memory_child() {
    let Ok(path) = std::env::var(STORE_ENV) else {
        return;
    };
    let store = Store::open(&path).unwrap();
    let base = status_kib("VmRSS:") * 1024;
    let names = std::env::var(ARRAYS_ENV).unwrap();
    let operation = std::env::var(OPERATION_ENV).unwrap_or_else(|_| "reduce".into());
    for name in names.split(',') {
        let array = store.open_array(name).unwrap();
        let x = LazyArray::from_stored(&array);
        match operation.as_str() {
            "reduce" => {
                let m = x
                    .nanmean(Axes::all())
                    .unwrap()
                    .compute()
                    .scan_data()
                    .to_scalar::<f64>()
                    .unwrap();
                assert!((m - 0.5).abs() < 0.01, "{name}: mean {m}");
            }
            "median" => {
                let m = x.nanmedian(Axes::all()).unwrap().astype::<f64>();
                let m = m.iter().next().copied().unwrap();
                assert!((m - 0.5).abs() < 0.01, "{name}: median {m}");
            }
            "verify" => {
                let report = array.verify().unwrap();
                assert!(report.problems.is_empty(), "{name}: {:?}", report.problems);
            }
            "export" => {
                let out = std::path::Path::new(&path).with_extension(format!("{name}.npy"));
                outcore::convert::export::export_npy(&x, &out, true, None).unwrap();
                let len = std::fs::metadata(&out).unwrap().len();
                assert!(
                    len >= array.shape().iter().product::<u64>() * 8,
                    "{name}: {len}"
                );
                std::fs::remove_file(&out).unwrap();
            }
            "rechunk" => {
                let shape = array.shape().to_vec();
                let spec = ArraySpec::new(DataType::Float64, &shape)
                    .chunks(&[64, shape[1] / 4])
                    .shards(&[512, shape[1]])
                    .encoding(array.encoding().unwrap().clone())
                    .overwrite(true);
                let copy = x
                    .to_store(&store, &format!("{name}_rechunked"), &spec)
                    .unwrap();
                assert_eq!(copy.grid().chunk_shape(), [64, shape[1] / 4]);
            }
            "inspect" => {
                let report = outcore::inspect(std::path::Path::new(&path)).unwrap();
                let node = report.nodes.iter().find(|n| n.path == name).unwrap();
                let a = node.array.as_ref().unwrap();
                assert_eq!(a.chunks_stored, Some(1), "{name}: {a:?}");
            }
            "summarize" => {
                // The sidecar cannot answer (most chunks have no record), and a scan of a
                // million positions never written is refused: what is held meanwhile counts.
                let err = outcore::summarize(&x, None, false, None).unwrap_err();
                assert_eq!(err.kind(), outcore::ErrorKind::TooLarge, "{err}");
                let err = outcore::summarize(&x, None, true, None).unwrap_err();
                assert_eq!(err.kind(), outcore::ErrorKind::TooLarge, "{err}");
            }
            other => panic!("unknown operation {other}"),
        }
    }
    let peak = status_kib("VmHWM:") * 1024;
    println!("MEMORY base={base} peak={peak}");
}

/// A store of arrays `names` (`raw`, `zstd`: their encodings), each [`FACTOR`] times
/// [`BUDGET`], uniform in [0, 1) with 1% NaNs.
fn big_store(dir: &std::path::Path, names: &[&str]) -> std::path::PathBuf {
    let path = dir.join("big.zarr");
    let store = Store::create(&path).unwrap();
    let elements = BUDGET * FACTOR / 8;
    let cols: u64 = 1 << 12;
    let shape = [elements / cols, cols];
    for (name, encoding) in [
        ("raw", ChunkEncoding::raw()),
        ("zstd", ChunkEncoding::zstd(1)),
    ] {
        if !names.contains(&name) {
            continue;
        }
        let values = outcore::random::uniform(7, &shape, 0.0, 1.0).unwrap();
        let with_nans = LazyArray::where_(&values.less(0.01).unwrap(), f64::NAN, &values).unwrap();
        let spec = ArraySpec::new(DataType::Float64, &shape)
            .chunks(&[32, cols])
            .encoding(encoding);
        with_nans.to_store(&store, name, &spec).unwrap();
    }
    path
}

#[test]
fn reduction_peak_memory_stays_under_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_store(dir.path(), &["raw", "zstd"]);
    let limit = BUDGET + CONSTANT;
    for operation in ["reduce", "verify", "export", "rechunk"] {
        let grown = peak_growth(&path, operation, "raw,zstd", BUDGET);
        assert!(
            grown <= limit,
            "{operation}: peak RSS grew by {grown} bytes, more than the budget {BUDGET} + {CONSTANT}"
        );
    }
    // The same zstd store under a budget larger than it: its compressed pages are released
    // all the same, so the growth stays under the constant alone.
    let grown = peak_growth(&path, "reduce", "zstd", 1 << 30);
    assert!(
        grown <= CONSTANT,
        "zstd within the budget: peak RSS grew by {grown} bytes, more than {CONSTANT}"
    );
}

#[test]
fn median_peak_memory_stays_under_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = big_store(dir.path(), &["raw"]);
    let grown = peak_growth(&path, "median", "raw", BUDGET);
    assert!(
        grown <= BUDGET + CONSTANT,
        "median: peak RSS grew by {grown} bytes, more than the budget {BUDGET} + {CONSTANT}"
    );
}

/// Shard positions of the sparse array, each of one chunk; only the first is stored. More
/// than the 2^22 positions never written a pass visits, so `summarize` refuses to scan it. More
/// than the 2^22 positions never written a pass visits, so `summarize` refuses to scan it.
const SPARSE_SHARDS: u64 = 5_000_000;

#[test]
fn sparse_array_commands_hold_nothing_per_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.zarr");
    let store = Store::create(&path).unwrap();
    let chunk = 1024;
    let spec = ArraySpec::new(DataType::Float64, &[SPARSE_SHARDS * chunk])
        .chunks(&[chunk])
        .shards(&[chunk]);
    let writer = store.create_array("sparse", &spec).unwrap();
    let values: Vec<f64> = (0..chunk).map(|i| i as f64).collect();
    writer.write_chunk(&[0], &values).unwrap();
    let array = writer.finish().unwrap();
    // The writer leaves a record per chunk position (64 bytes each): a reader that held
    // them, or anything else per chunk, would pass the bound many times over.
    let sidecar = std::fs::metadata(array.path().join(outcore::test_support::STATS_FILE))
        .unwrap()
        .len();
    assert!(sidecar > SPARSE_SHARDS * 64, "sidecar of {sidecar} bytes");
    for operation in ["inspect", "summarize", "verify"] {
        let grown = peak_growth(&path, operation, "sparse", BUDGET);
        assert!(
            grown <= BUDGET + CONSTANT,
            "{operation}: peak RSS grew by {grown} bytes over {SPARSE_SHARDS} shard positions, \
             more than the budget {BUDGET} + {CONSTANT}"
        );
    }
}

/// Runs `operation` in a child over `arrays` of the store at `path` with cache budget
/// `budget`; returns how much its peak resident memory grew over its resident memory
/// before the operation.
fn peak_growth(path: &std::path::Path, operation: &str, arrays: &str, budget: u64) -> u64 {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["memory_child", "--exact", "--ignored", "--nocapture"])
        .env(STORE_ENV, path)
        .env(OPERATION_ENV, operation)
        .env(ARRAYS_ENV, arrays)
        .env("OUTCORE_CACHE_BYTES", budget.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("MEMORY"))
        .expect("the child reports its memory");
    let field = |key: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (base, peak) = (field("base="), field("peak="));
    let grown = peak.saturating_sub(base);
    eprintln!(
        "{operation} {arrays} under a {} MiB budget: peak RSS grew by {} MiB over a {} MiB base (stores {} MiB each)",
        budget >> 20,
        grown >> 20,
        base >> 20,
        (BUDGET * FACTOR) >> 20
    );
    grown
}
