//! Power loss at every step of a write: a new array, an overwrite (with the exchange and
//! with the two-rename fallback) and an update run through a file system that records every
//! change outcore makes; for each crash point `k`, the disk is rebuilt as power loss before
//! change `k` could leave it, the store is opened again (with its own recovery and cleaning),
//! and the array must be exactly its old or its new value, whole — and the new one once the
//! write has returned.
//!
//! The model of the disk (what `format-spec/commit-protocol.md` assumes of it): a file's
//! contents survive only as of its last `fdatasync`, never-synced files come back empty; a
//! directory's entries (creations, renames, links, removals) survive only as of its last
//! `fsync`. Each crash point is rebuilt twice, as the two extremes of what a journal may have
//! written by itself: every directory as of its last sync, and every directory as it was at
//! the crash (renames durable, the file data they point at not). Nothing outside the model
//! (locks, maps, reads) changes the disk.

#[path = "common/seam.rs"]
mod seam;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use seam::{leftovers, Hook, Hooked, OpKind, Scenario, SCENARIOS};

mod common;

/// One recorded change: its kind, its paths, and for a file sync the contents it made
/// durable.
#[derive(Debug, Clone)]
struct Op {
    kind: OpKind,
    path: PathBuf,
    to: Option<PathBuf>,
    synced: Option<Vec<u8>>,
}

/// Records every change that succeeded.
#[derive(Default)]
struct Recorder {
    log: Mutex<Vec<Op>>,
}

impl Hook for Recorder {
    fn before(&self, _op: OpKind, _path: &Path) -> io::Result<()> {
        Ok(())
    }

    fn after(&self, kind: OpKind, path: &Path, to: Option<&Path>, _file: Option<&File>) {
        let synced = (kind == OpKind::SyncFile).then(|| std::fs::read(path).unwrap());
        self.log.lock().unwrap().push(Op {
            kind,
            path: path.to_owned(),
            to: to.map(Path::to_owned),
            synced,
        });
    }
}

type Id = usize;

/// The disk as the model sees it: directories and files by id, each directory's entries as
/// they are (`live`) and as they would survive (`durable`), each file's durable contents.
#[derive(Clone)]
struct Disk {
    root: PathBuf,
    live: HashMap<Id, BTreeMap<OsString, Id>>,
    durable: HashMap<Id, BTreeMap<OsString, Id>>,
    data: HashMap<Id, Vec<u8>>,
    next: Id,
}

impl Disk {
    /// The directory `root` as it is on disk now, all of it durable (hard links share an id).
    fn scan(root: &Path) -> Disk {
        let mut disk = Disk {
            root: root.to_owned(),
            live: HashMap::new(),
            durable: HashMap::new(),
            data: HashMap::new(),
            next: 1,
        };
        let mut inodes = HashMap::new();
        let mut pending = vec![(root.to_owned(), 0)];
        disk.live.insert(0, BTreeMap::new());
        while let Some((dir, id)) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                let child = *inodes.entry((meta.dev(), meta.ino())).or_insert_with(|| {
                    disk.next += 1;
                    disk.next - 1
                });
                if meta.is_dir() {
                    disk.live.insert(child, BTreeMap::new());
                    pending.push((entry.path(), child));
                } else {
                    disk.data
                        .insert(child, std::fs::read(entry.path()).unwrap());
                }
                disk.live
                    .get_mut(&id)
                    .unwrap()
                    .insert(entry.file_name(), child);
            }
        }
        disk.durable = disk.live.clone();
        disk
    }

    /// The directory holding `path` and `path`'s name in it.
    fn parent(&self, path: &Path) -> (Id, OsString) {
        let rel = path
            .strip_prefix(&self.root)
            .unwrap_or_else(|_| panic!("{} is outside {}", path.display(), self.root.display()));
        let parts: Vec<OsString> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(p) => Some(p.to_owned()),
                _ => None,
            })
            .collect();
        let (name, dirs) = parts.split_last().expect("a path below the root");
        let mut id = 0;
        for dir in dirs {
            id = self.live[&id][dir];
        }
        (id, name.clone())
    }

    fn lookup(&self, path: &Path) -> Id {
        if path == self.root {
            return 0;
        }
        let (dir, name) = self.parent(path);
        self.live[&dir][&name]
    }

    fn new_id(&mut self) -> Id {
        self.next += 1;
        self.next - 1
    }

    fn apply(&mut self, op: &Op) {
        match op.kind {
            OpKind::CreateFile => {
                let id = self.new_id();
                let (dir, name) = self.parent(&op.path);
                self.live.get_mut(&dir).unwrap().insert(name, id);
            }
            OpKind::Write => {}
            OpKind::SyncFile => {
                let id = self.lookup(&op.path);
                self.data.insert(id, op.synced.clone().unwrap());
            }
            OpKind::CreateDir => {
                let id = self.new_id();
                self.live.insert(id, BTreeMap::new());
                self.durable.insert(id, BTreeMap::new());
                let (dir, name) = self.parent(&op.path);
                self.live.get_mut(&dir).unwrap().insert(name, id);
            }
            OpKind::SyncDir => {
                let id = self.lookup(&op.path);
                self.durable.insert(id, self.live[&id].clone());
            }
            OpKind::Rename => {
                let (from_dir, from) = self.parent(&op.path);
                let id = self.live.get_mut(&from_dir).unwrap().remove(&from).unwrap();
                let (to_dir, to) = self.parent(op.to.as_ref().unwrap());
                self.live.get_mut(&to_dir).unwrap().insert(to, id);
            }
            OpKind::Exchange => {
                let (a_dir, a) = self.parent(&op.path);
                let (b_dir, b) = self.parent(op.to.as_ref().unwrap());
                let a_id = self.live[&a_dir][&a];
                let b_id = self.live[&b_dir][&b];
                self.live.get_mut(&a_dir).unwrap().insert(a, b_id);
                self.live.get_mut(&b_dir).unwrap().insert(b, a_id);
            }
            OpKind::HardLink => {
                let id = self.lookup(&op.path);
                let (dir, name) = self.parent(op.to.as_ref().unwrap());
                self.live.get_mut(&dir).unwrap().insert(name, id);
            }
            OpKind::RemoveFile | OpKind::RemoveDirAll => {
                let (dir, name) = self.parent(&op.path);
                self.live.get_mut(&dir).unwrap().remove(&name);
            }
        }
    }

    /// Writes what survives into `out`: the directories as of their last sync (`synced`), or
    /// as they are; every file as of its last sync, empty if never synced.
    fn rebuild(&self, out: &Path, synced: bool) {
        let entries = if synced { &self.durable } else { &self.live };
        let mut pending = vec![(out.to_owned(), 0)];
        while let Some((dir, id)) = pending.pop() {
            std::fs::create_dir_all(&dir).unwrap();
            for (name, child) in &entries[&id] {
                let path = dir.join(name);
                if entries.contains_key(child) {
                    pending.push((path, *child));
                } else {
                    let bytes = self.data.get(child).map_or(&[][..], Vec::as_slice);
                    std::fs::write(&path, bytes).unwrap();
                }
            }
        }
    }
}

/// Runs `scenario` through a recorder and checks every crash point of it.
fn every_crash_point_is_old_or_new(scenario: Scenario, no_exchange: bool) {
    let label = format!("power-loss-{scenario:?}-{no_exchange}");
    let base = common::scratch_dir(&label);
    let store = scenario.set_up(&base);
    let before = Disk::scan(&base);
    let recorder = Arc::new(Hooked::new(Recorder::default(), no_exchange));
    scenario.run(&store, recorder.clone()).unwrap();
    drop(store);
    let log = recorder.hook.log.lock().unwrap().clone();
    assert!(
        log.iter().any(|op| op.kind == OpKind::SyncDir),
        "the write made no change through the seam"
    );
    let mut disk = before;
    for k in 0..=log.len() {
        if k > 0 {
            disk.apply(&log[k - 1]);
        }
        for synced in [true, false] {
            let after = common::scratch_dir(&format!("{label}-{k}-{synced}"));
            disk.rebuild(&after, synced);
            let where_ = format!(
                "{scenario:?} (exchange: {}), power lost before change {k} of {} ({}), \
                 directories {}",
                !no_exchange,
                log.len(),
                log.get(k)
                    .map_or("none: the write returned".into(), |op| format!(
                        "{:?} {}",
                        op.kind,
                        op.path.display()
                    )),
                if synced { "as synced" } else { "as they were" }
            );
            let state = scenario
                .read(&after)
                .unwrap_or_else(|e| panic!("{where_}: {e}"));
            let seen = scenario
                .old_or_new(&state)
                .unwrap_or_else(|| panic!("{where_}: neither old nor new: {state:?}"));
            if k == log.len() {
                assert_eq!(seen, "new", "{where_}: the finished write was lost");
            }
            let store = outcore::Store::open(after.join("store")).unwrap();
            store.clean_leftovers().unwrap();
            let left = leftovers(&after);
            assert!(left.is_empty(), "{where_}: left after cleaning: {left:?}");
            let again = scenario
                .read(&after)
                .unwrap_or_else(|e| panic!("{where_}, after cleaning: {e}"));
            assert_eq!(again, state, "{where_}: cleaning changed the array");
            std::fs::remove_dir_all(&after).unwrap();
        }
    }
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn power_loss_during_a_new_array_leaves_it_absent_or_whole() {
    every_crash_point_is_old_or_new(SCENARIOS[0], false);
}

#[test]
fn power_loss_during_an_overwrite_leaves_the_old_or_the_new_array() {
    every_crash_point_is_old_or_new(SCENARIOS[1], false);
}

#[test]
fn power_loss_during_an_overwrite_by_two_renames_leaves_the_old_or_the_new_array() {
    every_crash_point_is_old_or_new(SCENARIOS[1], true);
}

#[test]
fn power_loss_during_an_update_leaves_the_old_or_the_new_array() {
    every_crash_point_is_old_or_new(SCENARIOS[2], false);
}

#[test]
fn power_loss_during_an_update_by_two_renames_leaves_the_old_or_the_new_array() {
    every_crash_point_is_old_or_new(SCENARIOS[2], true);
}
