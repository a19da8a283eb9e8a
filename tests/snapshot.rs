//! Snapshot reads (format-spec/commit-protocol.md): readers see one generation of an array
//! however often writers overwrite or update it; leftovers of killed writers are removed only
//! when no live reader or writer holds them; an interrupted overwrite is recovered on the next
//! open; FIFOs and symbolic links inside a store are refused (links followed only when asked).
//!
//! The references are the generations themselves: every array is written so that each chunk
//! holds one constant, and the writer logs each generation's per-chunk constants before
//! publishing it, so any mix of generations — across chunks, shards or the sidecar — shows.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use outcore::test_support::{unravel, ASIDE_PREFIX, TEMP_PREFIX};
use outcore::{Array, ArraySpec, Axes, ChunkEncoding, DataType, ErrorKind, LazyArray, Store};

const SHAPE: [u64; 2] = [64, 64];
const CHUNK: [u64; 2] = [8, 8];
const SHARD: [u64; 2] = [8, 16];
/// Chunks in the grid (8 x 8), in 32 shards of two chunks.
const CHUNKS: usize = 64;
const CHUNK_LEN: usize = 64;

/// A generation: the constant each chunk holds, in C order of the chunk grid.
type State = Vec<i64>;

fn spec() -> ArraySpec {
    ArraySpec::new(DataType::Int64, &SHAPE)
        .chunks(&CHUNK)
        .shards(&SHARD)
        .encoding(ChunkEncoding::zstd(1))
}

fn chunk_coords(i: usize) -> Vec<u64> {
    unravel(i as u64, &[SHAPE[0] / CHUNK[0], SHAPE[1] / CHUNK[1]])
}

/// Writes `state` as a new array `name`, replacing any existing one.
fn overwrite(store: &Store, name: &str, state: &State) {
    let w = store.create_array(name, &spec().overwrite(true)).unwrap();
    for (i, v) in state.iter().enumerate() {
        w.write_chunk(&chunk_coords(i), &[*v; CHUNK_LEN]).unwrap();
    }
    w.finish().unwrap();
}

/// Updates `name` from `from` to `to`, rewriting only the chunks that differ.
fn update(store: &Store, name: &str, from: &State, to: &State) {
    let w = store.update_array(name).unwrap();
    for (i, (a, b)) in from.iter().zip(to).enumerate() {
        if a != b {
            w.write_chunk(&chunk_coords(i), &[*b; CHUNK_LEN]).unwrap();
        }
    }
    w.finish().unwrap();
}

/// The generation `array` holds, read chunk by chunk through regions: an error if a chunk is
/// not one constant.
fn read_state(array: &Array) -> Result<State, String> {
    let all = array.read_all::<i64>().map_err(|e| e.to_string())?;
    (0..CHUNKS)
        .map(|i| {
            let c = chunk_coords(i);
            let (r, k) = ((c[0] * CHUNK[0]) as usize, (c[1] * CHUNK[1]) as usize);
            let first = all[[r, k]];
            for y in r..r + CHUNK[0] as usize {
                for x in k..k + CHUNK[1] as usize {
                    if all[[y, x]] != first {
                        return Err(format!("chunk {c:?} is torn: {} and {first}", all[[y, x]]));
                    }
                }
            }
            Ok(first)
        })
        .collect()
}

fn temp_entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Readers in three threads read whole arrays (and sum them through the engine) while a
/// writer overwrites and updates them: every answer equals a generation published between
/// the reader's open and its answer, and one open array answers the same every time.
#[test]
fn readers_see_one_generation_while_a_writer_overwrites_and_updates() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let first: State = vec![0; CHUNKS];
    overwrite(&store, "a", &first);
    let log = Arc::new(Mutex::new(vec![first]));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let writes = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    let writer = {
        let (store, log, stop, writes) = (store.clone(), log.clone(), stop.clone(), writes.clone());
        std::thread::spawn(move || {
            let mut generation = 0i64;
            while !stop.load(Ordering::Relaxed) {
                generation += 1;
                let old = log.lock().unwrap().last().unwrap().clone();
                // Two updates (a quarter of the chunks each, so most shards are linked, some
                // rewritten whole, some half) for every overwrite.
                let new: State = if generation % 3 == 0 {
                    vec![generation; CHUNKS]
                } else {
                    old.iter()
                        .enumerate()
                        .map(|(i, v)| {
                            if (i as i64 + generation) % 4 == 0 {
                                generation
                            } else {
                                *v
                            }
                        })
                        .collect()
                };
                // Logged before it is published: a reader's window always contains it.
                log.lock().unwrap().push(new.clone());
                if generation % 3 == 0 {
                    overwrite(&store, "a", &new);
                } else {
                    update(&store, "a", &old, &new);
                }
                writes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (store, log, stop, reads) =
                (store.clone(), log.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                let mut problems = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    // The published generation is the log's last, or the one before it while
                    // the writer builds the last.
                    let lo = log.lock().unwrap().len().saturating_sub(2);
                    let array = store.open_array("a").unwrap();
                    let state = match read_state(&array) {
                        Ok(s) => s,
                        Err(e) => {
                            problems.push(e);
                            continue;
                        }
                    };
                    // The same array again, its mappings dropped and its cache key renewed,
                    // and through the engine: still the same generation.
                    array.release_shards();
                    let again = read_state(&array);
                    let sum: i64 = LazyArray::from_stored(&array)
                        .sum(Axes::all())
                        .unwrap()
                        .to_scalar()
                        .unwrap();
                    let log = log.lock().unwrap();
                    let window = &log[lo..];
                    match window.iter().position(|s| *s == state) {
                        Some(p) => {
                            seen.insert(lo + p);
                        }
                        None => problems.push(format!(
                            "reader {r}: {state:?} is none of generations {lo}..{}",
                            log.len()
                        )),
                    }
                    if again.as_ref() != Ok(&state) {
                        problems.push(format!("reader {r}: the open array changed: {again:?}"));
                    }
                    let expected: i64 = state.iter().sum::<i64>() * CHUNK_LEN as i64;
                    if sum != expected {
                        problems.push(format!(
                            "reader {r}: sum {sum}, its generation's {expected}"
                        ));
                    }
                    reads.fetch_add(3, Ordering::Relaxed);
                }
                (seen, problems)
            })
        })
        .collect();

    // 1,500 reads (each array read three ways) and enough writes that reads overlap many
    // swaps; bounded in time for slow machines.
    while (reads.load(Ordering::Relaxed) < 1800 || writes.load(Ordering::Relaxed) < 60)
        && started.elapsed() < Duration::from_secs(50)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let mut generations_seen = std::collections::BTreeSet::new();
    for reader in readers {
        let (seen, problems) = reader.join().unwrap();
        assert!(
            problems.is_empty(),
            "{} problems: {:?}",
            problems.len(),
            &problems[..problems.len().min(5)]
        );
        generations_seen.extend(seen);
    }
    let (reads, writes) = (
        reads.load(Ordering::Relaxed),
        writes.load(Ordering::Relaxed),
    );
    assert!(
        reads >= 1500,
        "only {reads} reads in {:?}",
        started.elapsed()
    );
    assert!(
        writes >= 20,
        "only {writes} writes in {:?}",
        started.elapsed()
    );
    assert!(
        generations_seen.len() >= 10,
        "readers saw only {} generations: they did not overlap the writer",
        generations_seen.len()
    );
    // Readers are gone: whatever old generation one still held when it was replaced goes now.
    store.clean_leftovers().unwrap();
    assert_eq!(temp_entries(dir.path()), Vec::<PathBuf>::new());
}

/// An open array keeps reading its generation after an overwrite; that generation stays on
/// disk (under a temporary name) while it is held, survives a cleaner, and goes once dropped.
#[test]
fn an_old_generation_stays_while_a_reader_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    overwrite(&store, "a", &vec![1; CHUNKS]);
    let reader = store.open_array("a").unwrap();
    overwrite(&store, "a", &vec![2; CHUNKS]);
    let left = temp_entries(dir.path());
    assert_eq!(left.len(), 1, "the held generation is kept: {left:?}");
    assert!(
        store.clean_leftovers().unwrap().is_empty(),
        "a held generation is not removed"
    );
    // Nothing of it was mapped before the overwrite; it is all read now.
    assert_eq!(read_state(&reader).unwrap(), vec![1; CHUNKS]);
    assert_eq!(reader.stats().unwrap().unwrap().present(), CHUNKS as u64);
    assert_eq!(
        read_state(&store.open_array("a").unwrap()).unwrap(),
        vec![2; CHUNKS]
    );
    drop(reader);
    assert_eq!(store.clean_leftovers().unwrap(), left);
    assert!(temp_entries(dir.path()).is_empty());
}

/// An update links the shards it does not rewrite (same inode), replaces the others, and
/// leaves a reader of the previous generation reading all of it.
#[test]
fn an_update_links_unchanged_shards_and_is_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let old: State = (0..CHUNKS as i64).collect();
    overwrite(&store, "a", &old);
    let ino = |key: &str| {
        std::fs::metadata(dir.path().join("a").join(key))
            .unwrap()
            .ino()
    };
    let (untouched, rewritten) = (ino("c/7/3"), ino("c/0/0"));
    let reader = store.open_array("a").unwrap();
    let mut new = old.clone();
    new[0] = -1; // chunk [0, 0], in shard [0, 0]
    update(&store, "a", &old, &new);
    assert_eq!(
        temp_entries(dir.path()).len(),
        1,
        "the generation the reader holds stays"
    );
    assert_eq!(ino("c/7/3"), untouched, "an unchanged shard is a hard link");
    assert_ne!(ino("c/0/0"), rewritten, "a rewritten shard is a new file");
    assert_eq!(read_state(&reader).unwrap(), old);
    let now = store.open_array("a").unwrap();
    assert_eq!(read_state(&now).unwrap(), new);
    assert!(now.verify().unwrap().problems.is_empty());
    assert_eq!(now.stats().unwrap().unwrap().present(), CHUNKS as u64);
    drop((reader, now));
    // With no reader left, an update removes the generation it replaced at once.
    let mut newer = new.clone();
    newer[63] = -2;
    update(&store, "a", &new, &newer);
    assert!(temp_entries(dir.path()).is_empty());
    let new = newer;
    // An abandoned update leaves the array as it was, and nothing behind.
    let w = store.update_array("a").unwrap();
    w.write_chunk(&[1, 1], &[5i64; CHUNK_LEN]).unwrap();
    drop(w);
    assert_eq!(read_state(&store.open_array("a").unwrap()).unwrap(), new);
    assert!(temp_entries(dir.path()).is_empty());
}

/// Leftovers of killed writers (directories and files) are removed; a live writer's staging
/// directory and one locked by another process are not.
#[test]
fn cleaning_removes_dead_leftovers_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    overwrite(&store, "a", &vec![3; CHUNKS]);
    // A live writer, part-way (it cleans the directory as it starts: it comes first here).
    let writer = store.create_array("b", &spec()).unwrap();
    writer.write_chunk(&[0, 0], &[7i64; CHUNK_LEN]).unwrap();
    // A killed writer's staging directory, with a complete array in it, and a temporary file.
    let dead_dir = dir.path().join(format!("{TEMP_PREFIX}dead01"));
    std::fs::create_dir_all(dead_dir.join("c/0")).unwrap();
    std::fs::write(dead_dir.join("c/0/0"), b"shard").unwrap();
    std::fs::copy(dir.path().join("a/zarr.json"), dead_dir.join("zarr.json")).unwrap();
    let dead_file = dir.path().join(format!("{TEMP_PREFIX}dead02"));
    std::fs::write(&dead_file, b"half a zarr.json").unwrap();
    // One held by another process (`flock(1)` takes the same kind of lock outcore does;
    // `--close` keeps the lock in that process alone, not in its `sleep`).
    let held = dir.path().join(format!("{TEMP_PREFIX}held03"));
    std::fs::create_dir(&held).unwrap();
    let mut holder = Command::new("flock")
        .args([
            "--shared".as_ref(),
            "--close".as_ref(),
            held.as_os_str(),
            "sleep".as_ref(),
            "60".as_ref(),
        ])
        .spawn()
        .unwrap();
    // Wait until `flock(1)` holds its lock.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("flock")
        .args(["--nonblock".as_ref(), held.as_os_str(), "true".as_ref()])
        .status()
        .unwrap()
        .success()
    {
        assert!(Instant::now() < deadline, "flock(1) never took its lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = temp_entries(dir.path());
    assert_eq!(before.len(), 4, "{before:?}");

    let mut removed = store.clean_leftovers().unwrap();
    removed.sort();
    assert_eq!(removed, vec![dead_dir.clone(), dead_file.clone()]);
    let after = temp_entries(dir.path());
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.contains(&held));

    // The writer finishes undisturbed; the array it wrote reads back.
    writer.write_chunk(&[7, 7], &[8i64; CHUNK_LEN]).unwrap();
    let b = writer.finish().unwrap();
    let state = read_state(&b).unwrap();
    assert_eq!((state[0], state[63], state[1]), (7, 8, 0));
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The next writer in this directory removes the rest.
    overwrite(&store, "c", &vec![1; CHUNKS]);
    assert_eq!(temp_entries(dir.path()), Vec::<PathBuf>::new());
}

/// An overwrite interrupted between moving the old array aside and renaming the new one in
/// (the fallback for file systems that cannot exchange directories) is undone by the next
/// open, of the array or of a store that is one array.
#[test]
fn an_interrupted_fallback_swap_is_recovered_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    overwrite(&store, "a", &vec![4; CHUNKS]);
    let aside = dir.path().join(format!("{ASIDE_PREFIX}a"));
    std::fs::rename(dir.path().join("a"), &aside).unwrap();
    assert_eq!(
        read_state(&store.open_array("a").unwrap()).unwrap(),
        vec![4; CHUNKS]
    );
    assert!(!aside.exists());

    // A store that is one array, opened by its own path.
    let lone = dir.path().join("lone.zarr");
    let one = Store::create(dir.path()).unwrap();
    overwrite(&one, "lone.zarr", &vec![5; CHUNKS]);
    let aside = dir.path().join(format!("{ASIDE_PREFIX}lone.zarr"));
    std::fs::rename(&lone, &aside).unwrap();
    let reopened = Store::open(&lone).unwrap().open_array("").unwrap();
    assert_eq!(read_state(&reopened).unwrap(), vec![5; CHUNKS]);
    assert!(!aside.exists());
}

/// Runs `f` in a thread and fails the test if it does not return within 20 s (a read that
/// blocks on a FIFO would otherwise hang the test run).
fn within_time<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("blocked for 20 s (on a FIFO?)")
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// A FIFO in place of a shard, the sidecar, an array's or the root's `zarr.json` is an error
/// naming it, at once.
#[test]
fn fifos_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let store = Store::create(&root).unwrap();
    overwrite(&store, "a", &vec![6; CHUNKS]);
    overwrite(&store, "b", &vec![6; CHUNKS]);
    mkfifo(&root.join("a/c/3/1"));
    mkfifo(&root.join("b/outcore.stats"));
    let (r, s) = (root.clone(), store.clone());
    let (shard_err, stats_err, verify) = within_time(move || {
        let a = s.open_array("a").unwrap();
        let b = s.open_array("b").unwrap();
        (
            a.read_all::<i64>().unwrap_err(),
            b.stats().unwrap_err(),
            a.verify().unwrap().problems.len(),
        )
    });
    for (err, file) in [(&shard_err, "a/c/3/1"), (&stats_err, "b/outcore.stats")] {
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("FIFO") && text.contains(&*r.join(file).to_string_lossy()),
            "{text}"
        );
    }
    assert_eq!(verify, 1, "verify reports the FIFO shard");

    mkfifo(&root.join("b/zarr.json"));
    let s = store.clone();
    let err = within_time(move || s.open_array("b").unwrap_err());
    assert!(err.to_string().contains("FIFO"), "{err}");
    mkfifo(&root.join("zarr.json"));
    let r = root.clone();
    let err = within_time(move || Store::open(&r).unwrap_err());
    assert!(err.to_string().contains("FIFO"), "{err}");
}

/// Links inside a store — a shard, `zarr.json`, the `c` directory, a node directory — are
/// refused by default, naming the link, and followed with `follow_symlinks(true)`, reading
/// the same values as the files they point to.
#[test]
fn symlinks_are_followed_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    let root = store.root().to_owned();
    let state: State = (0..CHUNKS as i64).map(|i| i * 3).collect();
    for name in ["shard", "meta", "cdir"] {
        overwrite(&store, name, &state);
    }
    // Each link points out of the store, at a copy of what it replaces.
    let move_out = |rel: &str| {
        let target = outside.path().join(rel.replace('/', "_"));
        std::fs::rename(root.join(rel), &target).unwrap();
        std::os::unix::fs::symlink(&target, root.join(rel)).unwrap();
    };
    move_out("shard/c/2/1");
    move_out("meta/zarr.json");
    move_out("cdir/c");
    overwrite(
        &Store::create(outside.path().join("o")).unwrap(),
        "node",
        &state,
    );
    std::os::unix::fs::symlink(outside.path().join("o/node"), root.join("node")).unwrap();

    let strict = Store::open(&root).unwrap();
    let follow = Store::open(&root).unwrap().follow_symlinks(true);
    for (name, link) in [
        ("shard", "shard/c/2/1"),
        ("meta", "meta/zarr.json"),
        ("cdir", "cdir/c"),
        ("node", "node"),
    ] {
        let err = strict
            .open_array(name)
            .and_then(|a| a.read_all::<i64>())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{name}: {err}");
        let text = err.to_string();
        assert!(
            text.contains("symbolic link") && text.contains(&*root.join(link).to_string_lossy()),
            "{name}: {text}"
        );
        assert_eq!(
            read_state(&follow.open_array(name).unwrap()).unwrap(),
            state,
            "{name}"
        );
    }
}

/// A shard written again after it was committed keeps the chunks of its first round that the
/// second does not rewrite, in a new array as in an update.
#[test]
fn a_second_round_of_writes_keeps_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let mut expected = vec![0; CHUNKS];
    let w = store.create_array("a", &spec()).unwrap();
    // Chunks [0, 0] and [0, 1] fill shard [0, 0], which is committed at once.
    w.write_chunk(&[0, 0], &[1i64; CHUNK_LEN]).unwrap();
    w.write_chunk(&[0, 1], &[2i64; CHUNK_LEN]).unwrap();
    w.write_chunk(&[0, 0], &[3i64; CHUNK_LEN]).unwrap();
    (expected[0], expected[1]) = (3, 2);
    assert_eq!(read_state(&w.finish().unwrap()).unwrap(), expected);
    let w = store.update_array("a").unwrap();
    w.write_chunk(&[0, 1], &[4i64; CHUNK_LEN]).unwrap();
    w.write_chunk(&[0, 0], &[5i64; CHUNK_LEN]).unwrap();
    w.write_chunk(&[0, 1], &[6i64; CHUNK_LEN]).unwrap();
    (expected[0], expected[1]) = (5, 6);
    assert_eq!(read_state(&w.finish().unwrap()).unwrap(), expected);
}
