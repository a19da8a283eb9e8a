//! Crafted and random inputs to the built `outcore` binary: hostile or broken `zarr.json`
//! metadata (huge, zero, negative and mismatched shapes, 32 dimensions, a 20 MB fill value,
//! wrong types), `shape`/`chunk_shape` fields from a seeded generator, statistics sidecars
//! with lying headers and records, `.npy` headers with absurd lengths and shapes, and
//! command-line values (`--chunks`, `--shard`, `--threads`, `OUTCORE_CACHE_BYTES`). Every
//! run must end on its own within [`TIME_LIMIT`], without a panic or an abort, and an error
//! must be exit status 2 with one bounded stderr line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Longest a single run may take.
const TIME_LIMIT: Duration = Duration::from_secs(20);
/// Longest stderr line (or stdout line) a run may print.
const MAX_LINE_BYTES: usize = 2000;
/// Runs at once.
const WORKERS: usize = 4;

/// What a run must end with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Exit status 2: one line `outcore: error: ...`.
    Error,
    /// Any of 0 (fine), 1 (problems found) or 2 (an error, one line): the input may be
    /// valid, but the run must still end cleanly.
    Clean,
}

struct Case {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    expect: Expect,
}

/// SplitMix64: a seeded generator, so a failing case can be reproduced.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A sharded array's `zarr.json` (fast-path codecs) with these JSON fields.
fn array_doc(shape: Value, shard: Value, inner: Value, fill: Value) -> Value {
    json!({
        "zarr_format": 3, "node_type": "array", "shape": shape, "data_type": "float64",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": shard}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill,
        "codecs": [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": inner,
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                             {"name": "crc32c"}],
            "index_location": "end"}}],
        "attributes": {}
    })
}

fn write_array_dir(dir: &Path, doc: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("zarr.json"), doc).unwrap();
}

/// Metadata that is broken, hostile or valid-but-huge, one array directory each.
fn metadata_cases(root: &Path, cases: &mut Vec<Case>) {
    let big = 1u64 << 60;
    let max = u64::MAX;
    let mut docs: Vec<(&str, Value, bool)> = vec![
        // (name, document, whether `stats` must fail)
        (
            "shard-2^60",
            array_doc(json!([big]), json!([big]), json!([1]), json!(0.0)),
            true,
        ),
        (
            "shard-2^40-no-file",
            array_doc(
                json!([1u64 << 40]),
                json!([1u64 << 40]),
                json!([1]),
                json!(0.0),
            ),
            true,
        ),
        (
            "dims-32",
            array_doc(
                json!(vec![2u64; 32]),
                json!(vec![2u64; 32]),
                json!(vec![1u64; 32]),
                json!(0.0),
            ),
            true,
        ),
        (
            "dims-32-of-4",
            array_doc(
                json!(vec![4u64; 32]),
                json!(vec![4u64; 32]),
                json!(vec![1u64; 32]),
                json!(0.0),
            ),
            true,
        ),
        (
            "sparse-2^63",
            array_doc(json!([1u64 << 63]), json!([1]), json!([1]), json!(0.0)),
            true,
        ),
        (
            "sparse-max-2d",
            array_doc(json!([max, max]), json!([1, 1]), json!([1, 1]), json!(0.0)),
            true,
        ),
        (
            "zero-chunk",
            array_doc(json!([10]), json!([4]), json!([0]), json!(0.0)),
            true,
        ),
        (
            "zero-shard",
            array_doc(json!([10]), json!([0]), json!([2]), json!(0.0)),
            true,
        ),
        (
            "negative-shape",
            array_doc(json!([-1]), json!([4]), json!([2]), json!(0.0)),
            true,
        ),
        (
            "negative-chunk",
            array_doc(json!([10]), json!([4]), json!([-2]), json!(0.0)),
            true,
        ),
        (
            "float-shape",
            array_doc(json!([1.5]), json!([4]), json!([2]), json!(0.0)),
            true,
        ),
        (
            "string-shape",
            array_doc(json!("big"), json!([4]), json!([2]), json!(0.0)),
            true,
        ),
        (
            "shape-past-u64",
            array_doc(
                json!([18446744073709551616.0]),
                json!([4]),
                json!([2]),
                json!(0.0),
            ),
            true,
        ),
        (
            "rank-mismatch",
            array_doc(json!([10, 10]), json!([4]), json!([2]), json!(0.0)),
            true,
        ),
        (
            "inner-rank-mismatch",
            array_doc(json!([10]), json!([4]), json!([2, 2]), json!(0.0)),
            true,
        ),
        (
            "not-a-multiple",
            array_doc(json!([10]), json!([5]), json!([2]), json!(0.0)),
            true,
        ),
        (
            "chunk-bytes-past-isize",
            array_doc(json!([max]), json!([max]), json!([max]), json!(0.0)),
            true,
        ),
        (
            "elements-past-u64",
            array_doc(json!([max, 3]), json!([1, 1]), json!([1, 1]), json!(0.0)),
            true,
        ),
        (
            "huge-chunk",
            array_doc(
                json!([1u64 << 40]),
                json!([1u64 << 40]),
                json!([1u64 << 40]),
                json!(0.0),
            ),
            true,
        ),
        (
            "edge-near-max",
            array_doc(
                json!([max]),
                json!([1u64 << 62]),
                json!([1u64 << 62]),
                json!(0.0),
            ),
            true,
        ),
        (
            "fill-20MB",
            array_doc(
                json!([4]),
                json!([4]),
                json!([2]),
                json!("x".repeat(20_000_000)),
            ),
            true,
        ),
        (
            "fill-wrong-type",
            array_doc(json!([4]), json!([4]), json!([2]), json!({"a": [1, 2]})),
            true,
        ),
        (
            "fill-bad-hex",
            array_doc(json!([4]), json!([4]), json!([2]), json!("0xZZ")),
            true,
        ),
        (
            "empty-ok",
            array_doc(json!([0]), json!([4]), json!([2]), json!(0.0)),
            false,
        ),
        (
            "zero-d",
            array_doc(json!([]), json!([]), json!([]), json!(1.5)),
            false,
        ),
    ];
    let mut edit = |name: &'static str, f: &dyn Fn(&mut Value)| {
        let mut doc = array_doc(json!([10, 10]), json!([4, 4]), json!([2, 2]), json!(0.0));
        f(&mut doc);
        docs.push((name, doc, true));
    };
    edit("data-type-long", &|d| {
        d["data_type"] = json!("q".repeat(1_000_000))
    });
    edit("data-type-number", &|d| d["data_type"] = json!(5));
    edit("no-shape", &|d| {
        drop(d.as_object_mut().unwrap().remove("shape"))
    });
    edit("no-codecs", &|d| {
        drop(d.as_object_mut().unwrap().remove("codecs"))
    });
    edit("codecs-not-list", &|d| d["codecs"] = json!("sharding"));
    edit("grid-irregular", &|d| {
        d["chunk_grid"]["name"] = json!("rectilinear")
    });
    edit("key-encoding-bad", &|d| {
        d["chunk_key_encoding"]["configuration"]["separator"] = json!("\u{1b}[2J")
    });
    edit("zarr-format-2", &|d| d["zarr_format"] = json!(2));
    edit("node-type-weird", &|d| {
        d["node_type"] = json!("\u{1b}]0;pwned\u{7}")
    });
    edit("attributes-list", &|d| d["attributes"] = json!([1, 2, 3]));
    edit("index-location-middle", &|d| {
        d["codecs"][0]["configuration"]["index_location"] = json!("middle")
    });
    edit("inner-codec-unknown", &|d| {
        d["codecs"][0]["configuration"]["codecs"] = json!([{"name": "\u{1b}[31mevil"}])
    });
    for (name, doc, fails) in docs {
        let dir = root.join("meta").join(name);
        write_array_dir(&dir, &doc.to_string());
        let path = s(&dir);
        let expect = if fails { Expect::Error } else { Expect::Clean };
        cases.push(case(name, &["stats", &path], expect));
        // A valid 8 TiB array of fill values exports for real (8 TiB of zeros): not here.
        if name != "huge-chunk" {
            // Failed exports must leave nothing in `out/`; valid ones write elsewhere.
            let folder = if fails { "out" } else { "exported" };
            let out = s(&root.join(format!("{folder}/{name}.npy")));
            cases.push(case(name, &["export", &path, &out], expect));
        }
        cases.push(case(name, &["inspect", &path], Expect::Clean));
        cases.push(case(name, &["verify", &path], Expect::Clean));
    }
    // Not JSON at all, or truncated JSON.
    for (name, text) in [
        ("not-json", "\u{1b}[31m{{{".to_string()),
        (
            "truncated",
            array_doc(json!([4]), json!([4]), json!([2]), json!(0)).to_string()[..60].to_string(),
        ),
        ("empty-file", String::new()),
        ("deep-nesting", "[".repeat(100_000)),
    ] {
        let dir = root.join("meta").join(name);
        write_array_dir(&dir, &text);
        cases.push(case(name, &["stats", &s(&dir)], Expect::Error));
        cases.push(case(name, &["inspect", &s(&dir)], Expect::Clean));
    }
    // A shard file where metadata puts 2^60 slots, and a node name with escape sequences.
    let dir = root.join("meta/shard-2^60");
    std::fs::create_dir_all(dir.join("c")).unwrap();
    std::fs::write(dir.join("c/0"), [0u8; 100]).unwrap();
    let group = root.join("meta/group\u{1b}[2J");
    write_array_dir(
        &group,
        r#"{"zarr_format":3,"node_type":"group","attributes":{}}"#,
    );
    write_array_dir(
        &group.join("a\u{1b}]0;title\u{7}b"),
        &array_doc(json!([4]), json!([4]), json!([2]), json!(0.0)).to_string(),
    );
    for args in [vec!["inspect"], vec!["verify"], vec!["stats"]] {
        let mut args: Vec<String> = args.into_iter().map(String::from).collect();
        args.push(s(&group));
        cases.push(Case {
            name: "escapes".into(),
            args,
            env: vec![],
            expect: Expect::Clean,
        });
    }
}

fn case(name: &str, args: &[&str], expect: Expect) -> Case {
    Case {
        name: name.to_string(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: vec![],
        expect,
    }
}

/// An extent as the random generator writes it: mostly tiny or huge (so grids are either
/// cheap to walk or refused), sometimes zero, negative, fractional or not a number at all.
fn random_extent(rng: &mut Rng) -> Value {
    match rng.below(20) {
        0 => json!(0),
        1 => json!(-(rng.below(1000) as i64) - 1),
        2 => json!(rng.below(100) as f64 + 0.5),
        3 => json!("7"),
        4 => json!(u64::MAX),
        5 => json!(1u64 << rng.below(64)),
        6..=8 => json!(rng.next() | (1 << 40)),
        _ => json!(rng.below(6) + 1),
    }
}

/// `count` arrays whose `shape` and `chunk_shape` fields come from a seeded generator.
fn random_metadata_cases(root: &Path, cases: &mut Vec<Case>, count: usize) {
    let mut rng = Rng(0x0c0e_5eed);
    for i in 0..count {
        let rank = match rng.below(10) {
            0 => 32,
            1 => rng.below(8) as usize,
            _ => rng.below(4) as usize,
        };
        let shape: Vec<Value> = (0..rank).map(|_| random_extent(&mut rng)).collect();
        let inner: Vec<Value> = (0..rank).map(|_| random_extent(&mut rng)).collect();
        // Shards: mostly whole multiples of the inner chunks, sometimes anything.
        let shard: Vec<Value> = inner
            .iter()
            .map(|c| match (c.as_u64(), rng.below(3)) {
                (Some(c), 0 | 1) => json!(c.saturating_mul(rng.below(4) + 1)),
                _ => random_extent(&mut rng),
            })
            .collect();
        let rank_off = rng.below(12) == 0;
        let doc = array_doc(
            json!(shape),
            json!(shard),
            if rank_off { json!([1]) } else { json!(inner) },
            json!(0.0),
        );
        let dir = root.join(format!("random/{i}"));
        write_array_dir(&dir, &doc.to_string());
        let name = format!("random {i}: {}", doc["shape"]);
        cases.push(case(&name, &["inspect", &s(&dir)], Expect::Clean));
        cases.push(case(&name, &["stats", &s(&dir)], Expect::Clean));
    }
}

/// A valid array written by the binary (it has a statistics sidecar), copied once per
/// damaged sidecar: bytes flipped, header fields and record counts set to lies, each with its
/// CRC32C recomputed so only the checks after the checksum can catch it.
fn sidecar_cases(root: &Path, cases: &mut Vec<Case>, count: usize) {
    let npy = root.join("sidecar.npy");
    write_npy(&npy, 1, b"'<f8'", "(40,)", &[0u8; 320]);
    let base = root.join("sidecar-base.zarr");
    let out = Command::new(env!("CARGO_BIN_EXE_outcore"))
        .args([
            "convert",
            &s(&npy),
            &s(&base),
            "--chunks",
            "8",
            "--shard",
            "16",
            "--bare",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let good = std::fs::read(base.join("outcore.stats")).unwrap();
    let mut rng = Rng(0x51de_ca55);
    for i in 0..count {
        let mut bytes = good.clone();
        let u64_field = |b: &mut Vec<u8>, at: usize, v: u64| {
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        };
        let (what, resum) = match i % 8 {
            0 => {
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] ^= 1 << rng.below(8);
                ("flipped byte", i % 16 < 8)
            }
            1 => {
                bytes[20..24].copy_from_slice(&(rng.next() as u32).to_le_bytes());
                ("ndim", true)
            }
            2 => {
                u64_field(&mut bytes, 24, rng.next());
                ("shape", true)
            }
            3 => {
                let record = 24 + 16 + 64 * rng.below(5) as usize;
                u64_field(&mut bytes, record, rng.next());
                ("count", true)
            }
            4 => {
                let record = 24 + 16 + 64 * rng.below(5) as usize;
                u64_field(&mut bytes, record + 8, rng.next() % 16);
                ("NaN count", true)
            }
            5 => {
                let keep = rng.below(bytes.len() as u64) as usize;
                bytes.truncate(keep);
                ("truncated", rng.below(2) == 0 && keep >= 4)
            }
            6 => {
                bytes.extend((0..rng.below(200)).map(|_| rng.next() as u8));
                ("extended", true)
            }
            _ => {
                let record = 24 + 16 + 64 * rng.below(5) as usize;
                u64_field(
                    &mut bytes,
                    record + 16 + 8 * rng.below(5) as usize,
                    rng.next(),
                );
                ("value field", true)
            }
        };
        if resum && bytes.len() >= 4 {
            let n = bytes.len() - 4;
            let crc = crc32c(&bytes[..n]);
            bytes[n..].copy_from_slice(&crc.to_le_bytes());
        }
        let dir = root.join(format!("sidecar/{i}"));
        copy_dir(&base, &dir);
        std::fs::write(dir.join("outcore.stats"), &bytes).unwrap();
        let name = format!("sidecar {i}: {what}");
        cases.push(case(&name, &["stats", &s(&dir)], Expect::Clean));
        cases.push(case(&name, &["verify", &s(&dir)], Expect::Clean));
    }
}

/// CRC32C (Castagnoli), bit by bit: the tests need no crate for it.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// An `.npy` file of format `version` whose header says `descr` and `shape`, with its length
/// field as written (`header_len` overrides it), then `data`.
fn write_npy_with(path: &Path, version: u8, dict: &str, header_len: Option<u64>, data: &[u8]) {
    let prefix = if version == 1 { 10 } else { 12 };
    let mut header = dict.to_string();
    while !(prefix + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let len = header_len.unwrap_or(header.len() as u64);
    let mut bytes = b"\x93NUMPY".to_vec();
    bytes.extend([version, 0]);
    if version == 1 {
        bytes.extend((len as u16).to_le_bytes());
    } else {
        bytes.extend((len as u32).to_le_bytes());
    }
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

fn write_npy(path: &Path, version: u8, descr: &[u8], shape: &str, data: &[u8]) {
    let dict = format!(
        "{{'descr': {}, 'fortran_order': False, 'shape': {shape}, }}",
        String::from_utf8_lossy(descr)
    );
    write_npy_with(path, version, &dict, None, data);
}

/// An `.npy` file to write: name, format version, header dictionary, length field (when it
/// lies), data.
type NpyFile = (String, u8, String, Option<u64>, Vec<u8>);

/// `.npy` files with absurd header lengths, shapes and fields: each `convert` is an error.
fn npy_cases(root: &Path, cases: &mut Vec<Case>) {
    let dir = root.join("npy");
    std::fs::create_dir_all(&dir).unwrap();
    let f4 = "'<f4'";
    let mut files: Vec<NpyFile> = Vec::new();
    for (version, len) in [
        (1, 0xFFFF),
        (2, 0xFFFF_FFFF),
        (3, 0xFFFF_FFFF),
        (2, 0x7FFF_FFFF),
        (1, 0),
    ] {
        files.push((
            format!("len-{version}-{len:x}"),
            version,
            format!("{{'descr': {f4}, 'fortran_order': False, 'shape': (3,), }}"),
            Some(len),
            vec![0; 12],
        ));
    }
    let shapes = [
        "(18446744073709551615,)",
        "(18446744073709551616,)",
        "(4294967296, 4294967296)",
        "(-1,)",
        "(1.5,)",
        "('a',)",
        "(2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)",
        "(1099511627776, 1)",
        "(3,",
        "None",
    ];
    for (i, shape) in shapes.iter().enumerate() {
        files.push((
            format!("shape-{i}"),
            1,
            format!("{{'descr': {f4}, 'fortran_order': False, 'shape': {shape}, }}"),
            None,
            vec![0; 12],
        ));
    }
    let dicts = [
        "{'descr': '<c16', 'fortran_order': False, 'shape': (3,), }",
        "{'descr': 'q'*99, 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '<f4', 'fortran_order': 'maybe', 'shape': (3,), }",
        "{'descr': '<f4', 'shape': (3,), }",
        "{}",
        "not a dict \u{1b}[2J",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
    ];
    for (i, dict) in dicts.iter().enumerate() {
        files.push((format!("dict-{i}"), 1, dict.to_string(), None, vec![0; 12]));
    }
    files.push((
        "bool-2".into(),
        1,
        "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }".into(),
        None,
        vec![2, 2, 2],
    ));
    for (name, version, dict, len, data) in files {
        let path = dir.join(format!("{name}.npy"));
        write_npy_with(&path, version, &dict, len, &data);
        let out = s(&root.join(format!("out/npy-{name}.zarr")));
        cases.push(case(
            &format!("npy {name}"),
            &["convert", &s(&path), &out],
            Expect::Error,
        ));
    }
    // Truncated at every length of the prefix and a bit beyond.
    let good = dir.join("good.npy");
    write_npy(&good, 1, b"'<f4'", "(3,)", &[0; 12]);
    let bytes = std::fs::read(&good).unwrap();
    for cut in [0, 1, 5, 6, 7, 8, 9, 10, 11, 40, bytes.len() - 1] {
        let path = dir.join(format!("cut-{cut}.npy"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let out = s(&root.join(format!("out/cut-{cut}.zarr")));
        cases.push(case(
            &format!("npy cut {cut}"),
            &["convert", &s(&path), &out],
            Expect::Error,
        ));
    }
}

/// Command-line values: each is an error, before anything is written.
fn cli_cases(root: &Path, cases: &mut Vec<Case>) {
    let npy = root.join("small.npy");
    write_npy(&npy, 1, b"'<f4'", "(12, 5)", &[0; 240]);
    let input = s(&npy);
    let mut n = 0;
    let mut convert = |extra: &[&str], env: Vec<(String, String)>, cases: &mut Vec<Case>| {
        n += 1;
        let out = s(&root.join(format!("out/cli-{n}.zarr")));
        let mut args = vec!["convert".to_string(), input.clone(), out];
        args.extend(extra.iter().map(|a| a.to_string()));
        cases.push(Case {
            name: format!("cli {extra:?} {env:?}"),
            args,
            env,
            expect: Expect::Error,
        });
    };
    let chunks = [
        "0,5",
        "5,0",
        "0,0",
        "1099511627776,1",
        "1,1099511627776",
        "18446744073709551615,1",
        "18446744073709551616,1",
        "-1,5",
        "1.5,5",
        "",
        ",",
        "1,1,1",
        "1",
        "a,b",
        "4611686018427387904,4",
    ];
    for c in chunks {
        convert(&["--chunks", c], vec![], cases);
    }
    let shards = [
        ("1,1", "1,1152921504606846976"),
        ("1,1", "1152921504606846976,1"),
        ("1,1", "4294967296,4294967296"),
        ("1,1", "18446744073709551615,18446744073709551615"),
        ("2,2", "3,2"),
        ("1,1", "0,1"),
        ("1,1", "16777216,2"),
    ];
    for (c, sh) in shards {
        convert(&["--chunks", c, "--shard", sh], vec![], cases);
    }
    for t in [
        "0",
        "100000",
        "18446744073709551615",
        "18446744073709551616",
        "-1",
        "many",
    ] {
        convert(&["--threads", t], vec![], cases);
    }
    for v in [
        "garbage",
        "-5",
        "1e30",
        "",
        "99999999999999999999999",
        "12 potatoes",
        "\u{1b}[2J",
    ] {
        convert(&[], vec![("OUTCORE_CACHE_BYTES".into(), v.into())], cases);
        cases.push(Case {
            name: format!("OUTCORE_CACHE_BYTES={v:?} inspect"),
            args: vec!["inspect".into(), s(&root.join("sidecar-base.zarr"))],
            env: vec![("OUTCORE_CACHE_BYTES".into(), v.into())],
            expect: Expect::Error,
        });
    }
}

/// Runs `case`; returns a description of what went wrong, if anything.
fn run(case: &Case) -> Option<String> {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_outcore"))
        .args(&case.args)
        .envs(case.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain both pipes on threads so a chatty run never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut b).ok();
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut b).ok();
        b
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > TIME_LIMIT {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    let shown = |text: &str| text.chars().take(400).collect::<String>();
    let mut problems = String::new();
    let Some(status) = status else {
        return Some(format!("did not finish in {TIME_LIMIT:?}"));
    };
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "memory allocation",
        "stack backtrace",
    ] {
        if stderr.contains(bad) || stdout.contains(bad) {
            let _ = write!(problems, "prints {bad:?}; ");
        }
    }
    if stderr.contains('\u{1b}') || stdout.contains('\u{1b}') {
        let _ = write!(problems, "prints a raw escape character; ");
    }
    if let Some(line) = stdout
        .lines()
        .chain(stderr.lines())
        .find(|l| l.len() > MAX_LINE_BYTES)
    {
        let _ = write!(problems, "a line of {} bytes; ", line.len());
    }
    match status.code() {
        None => {
            let _ = write!(problems, "killed by a signal ({status}); ");
        }
        Some(2) => {
            if stderr.lines().count() != 1 || !stderr.starts_with("outcore: error: ") {
                let _ = write!(problems, "status 2 without one error line; ");
            }
        }
        Some(code @ (0 | 1)) if case.expect == Expect::Clean => {
            if !stderr.is_empty() {
                let _ = write!(problems, "status {code} with stderr; ");
            }
        }
        Some(code) => {
            let _ = write!(problems, "status {code}; ");
        }
    }
    (!problems.is_empty()).then(|| {
        format!(
            "{problems}stderr {:?} stdout {:?}",
            shown(&stderr),
            shown(&stdout)
        )
    })
}

#[test]
fn crafted_and_random_inputs_end_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = dir.path().to_owned();
    std::fs::create_dir_all(root.join("out")).unwrap();
    let mut cases = Vec::new();
    metadata_cases(&root, &mut cases);
    random_metadata_cases(&root, &mut cases, 300);
    sidecar_cases(&root, &mut cases, 80);
    npy_cases(&root, &mut cases);
    cli_cases(&root, &mut cases);
    assert!(cases.len() >= 500, "{} cases", cases.len());

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                if let Some(problem) = run(case) {
                    failures.lock().unwrap().push(format!(
                        "{}: outcore {}: {problem}",
                        case.name,
                        case.args.join(" ").chars().take(300).collect::<String>()
                    ));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} runs failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Nothing a failed conversion started is left behind.
    let left: Vec<_> = std::fs::read_dir(root.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
