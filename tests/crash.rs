//! A writer killed at random points while committing leaves a store that opens, with the
//! whole array either its old or its new content (an update as well as an overwrite), and
//! leftovers that the next cleaning removes.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use outcore::test_support::{iter_box, unravel};
use outcore::{ArraySpec, ChunkEncoding, DataType, Store};

const DIR_ENV: &str = "OUTCORE_CRASH_DIR";
const GEN_ENV: &str = "OUTCORE_CRASH_GEN";
const PROGRESS_ENV: &str = "OUTCORE_CRASH_PROGRESS";
const SHAPE: [u64; 2] = [128, 128];
const CHUNK: [u64; 2] = [16, 16];
const SHARD: [u64; 2] = [32, 64];
/// Chunk writes (out of 2 x 64) after which the parent kills generation `g`'s child.
const KILL_AFTER: [u64; 14] = [0, 8, 30, 56, 58, 60, 62, 63, 64, 66, 90, 110, 127, 128];

fn spec() -> ArraySpec {
    ArraySpec::new(DataType::Int64, &SHAPE)
        .chunks(&CHUNK)
        .shards(&SHARD)
        .encoding(ChunkEncoding::zstd(1))
}

/// Writes every chunk of `a` (update in place) and of `b` (a new array replacing the old)
/// with the value `generation`, pausing between chunks so a kill can land anywhere, and
/// appending one byte to the progress file after each chunk (the parent kills at a chosen
/// point of the run by watching it, whatever the machine's speed).
#[test]
#[ignore = "run by killed_writers_leave_every_shard_old_or_new as a child process"]
fn crash_child() {
    let (Ok(dir), Ok(generation), Ok(progress)) = (
        std::env::var(DIR_ENV),
        std::env::var(GEN_ENV),
        std::env::var(PROGRESS_ENV),
    ) else {
        return;
    };
    let mut progress = std::fs::OpenOptions::new()
        .append(true)
        .open(progress)
        .unwrap();
    let mut tick = || std::io::Write::write_all(&mut progress, b".").unwrap();
    let generation: i64 = generation.parse().unwrap();
    let store = Store::open(&dir).unwrap();
    let n = (CHUNK[0] * CHUNK[1]) as usize;
    let writer = store.update_array("a").unwrap();
    let grid = writer.grid().clone();
    let mut order: Vec<u64> = (0..grid.num_chunks()).collect();
    order.sort_by_key(|i| (i * 37 + generation as u64 * 11) % grid.num_chunks());
    for i in order {
        writer
            .write_chunk(&unravel(i, &grid.chunk_grid_shape()), &vec![generation; n])
            .unwrap();
        tick();
        std::thread::sleep(Duration::from_millis(4));
    }
    writer.finish().unwrap();
    let writer = store.create_array("b", &spec().overwrite(true)).unwrap();
    for i in 0..grid.num_chunks() {
        writer
            .write_chunk(&unravel(i, &grid.chunk_grid_shape()), &vec![generation; n])
            .unwrap();
        tick();
        std::thread::sleep(Duration::from_millis(1));
    }
    writer.finish().unwrap();
}

fn spawn_child(dir: &std::path::Path, progress: &std::path::Path, generation: i64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir)
        .env(GEN_ENV, generation.to_string())
        .env(PROGRESS_ENV, progress)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The generation each shard of `name` holds, checking every chunk of a shard agrees.
fn shard_generations(store: &Store, name: &str) -> Vec<i64> {
    let array = store.open_array(name).unwrap();
    let grid = array.grid().clone();
    let mut gens = Vec::new();
    for shard in iter_box(
        &grid
            .shard_grid_shape()
            .iter()
            .map(|&n| 0..n)
            .collect::<Vec<_>>(),
    ) {
        let mut shard_gen = None;
        for slot in 0..grid.chunks_per_shard_total() {
            let Some(chunk) = grid.chunk_in_shard(&shard, slot) else {
                continue;
            };
            let values = array
                .read_chunk(&chunk)
                .unwrap()
                .as_slice::<i64>()
                .unwrap()
                .into_owned();
            assert!(
                values.iter().all(|v| *v == values[0]),
                "{name}: chunk {chunk:?} is torn"
            );
            assert!(
                shard_gen.is_none_or(|g| g == values[0]),
                "{name}: shard {shard:?} mixes generations {shard_gen:?} and {}",
                values[0]
            );
            shard_gen = Some(values[0]);
        }
        gens.push(shard_gen.unwrap());
    }
    gens
}

#[test]
fn killed_writers_leave_every_shard_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    for name in ["a", "b"] {
        let w = store.create_array(name, &spec()).unwrap();
        w.write_array(ndarray::ArrayD::<i64>::zeros(vec![128, 128]).view())
            .unwrap();
        w.finish().unwrap();
    }
    let mut updated = 0;
    let mut previous = shard_generations(&store, "a");
    let progress = tempfile::NamedTempFile::new().unwrap();
    let chunks = (SHAPE[0] / CHUNK[0]) * (SHAPE[1] / CHUNK[1]);
    for generation in 1..=KILL_AFTER.len() as i64 {
        progress.as_file().set_len(0).unwrap();
        let mut child = spawn_child(dir.path(), progress.path(), generation);
        // Kill points spread over the child's whole run: after `target` of its 2 x `chunks`
        // chunk writes (0: during start-up; `chunks`: around `a`'s finish), then a few
        // milliseconds more so the kill lands inside a write as well as between them. The
        // update of `a` is published by its finish, after its 64 writes: about half the kill
        // points fall before it, half after.
        let target = KILL_AFTER[generation as usize - 1].min(2 * chunks);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::fs::metadata(progress.path()).unwrap().len() < target
            && Instant::now() < deadline
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_millis(generation as u64 % 4));
        let _ = child.kill();
        child.wait().unwrap();

        let store = Store::open(dir.path()).unwrap();
        let gens = shard_generations(&store, "a");
        // An update publishes a whole new generation: every shard old, or every shard new.
        assert!(
            gens == previous || gens.iter().all(|g| *g == generation),
            "round {generation}: a went from {previous:?} to {gens:?}"
        );
        if gens != previous {
            updated += 1;
        }
        previous = gens;
        // "b" is replaced whole or not at all.
        let b = shard_generations(&store, "b");
        assert!(
            b.iter().all(|g| *g == b[0]),
            "round {generation}: b is a mix {b:?}"
        );
        // Whatever happened, the store inspects and verifies without problems.
        let report = outcore::inspect(dir.path()).unwrap();
        assert!(report.nodes.iter().all(|n| n.error.is_none()));
        assert!(store
            .open_array("a")
            .unwrap()
            .verify()
            .unwrap()
            .problems
            .is_empty());
        // The killed writer's staging directories go with the next cleaning.
        store.clean_leftovers().unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with('.'))
            .collect();
        assert!(left.is_empty(), "round {generation}: left behind {left:?}");
    }
    assert!(
        updated >= 3 && updated < KILL_AFTER.len(),
        "kills should land before and after updates finish ({updated} of {} finished)",
        KILL_AFTER.len()
    );
}
