//! A CSV import without the store (`import_csv`'s sniffing, pass 1, the plan and pass 2's
//! parsing of every row), over files written to a temporary directory (`OUTCORE_FUZZ_SCRATCH`,
//! else `/dev/shm` when there is one). Invariant: pass 2 finds the rows good that pass 1 counted.
//!
//! Input: one options byte (bits 0-2: delimiter, sniffed below 4, else `,` `;` tab `|`; bits
//! 3-4: header auto/present/absent; bit 5: matrix; bit 6: skip bad rows; bit 7: at most 4
//! categories instead of 1024), one byte choosing one input, or two (split at the first NUL)
//! concatenated or stacked, then the text.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use outcore::convert::csv::{CsvOptions, Header};
use outcore::convert::Combine;
use outcore::test_support::csv_check_passes;

fn scratch() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        // libFuzzer exits without dropping statics, so this directory outlives the run:
        // `OUTCORE_FUZZ_SCRATCH` puts it where the caller cleans up (`.ci/fuzz-short`).
        let shm = std::path::Path::new("/dev/shm");
        let parent = match std::env::var_os("OUTCORE_FUZZ_SCRATCH") {
            Some(dir) => dir.into(),
            None if shm.is_dir() => shm.to_owned(),
            None => std::env::temp_dir(),
        };
        tempfile::Builder::new()
            .prefix("outcore-fuzz-csv")
            .tempdir_in(parent)
            .expect("a scratch directory")
    })
}

fuzz_target!(|data: &[u8]| {
    let [opts, mode, text @ ..] = data else {
        return;
    };
    let options = CsvOptions {
        delimiter: match opts & 7 {
            4 => Some(b','),
            5 => Some(b';'),
            6 => Some(b'\t'),
            7 => Some(b'|'),
            _ => None,
        },
        header: match (opts >> 3) & 3 {
            1 => Header::Present,
            2 => Header::Absent,
            _ => Header::Auto,
        },
        matrix: opts & 0x20 != 0,
        skip_bad_rows: opts & 0x40 != 0,
        max_categories: if opts & 0x80 != 0 { 4 } else { 1024 },
    };
    let (parts, how): (Vec<&[u8]>, _) = match (mode % 3, text.iter().position(|&b| b == 0)) {
        (1, Some(at)) => (vec![&text[..at], &text[at + 1..]], Some(Combine::Concat)),
        (2, Some(at)) => (vec![&text[..at], &text[at + 1..]], Some(Combine::Stack)),
        _ => (vec![text], None),
    };
    let inputs: Vec<PathBuf> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let path = scratch().path().join(format!("input{i}.csv"));
            std::fs::write(&path, part).expect("writing the scratch input");
            path
        })
        .collect();
    let _ = csv_check_passes(&inputs, how, &options);
});
