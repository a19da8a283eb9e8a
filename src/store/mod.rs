//! The store: a directory that is a Zarr hierarchy. Opening, listing, reading and writing
//! arrays — the public face of layers 1–5.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

mod array;
mod chunk;
pub(crate) mod inspect;
mod writer;

pub use array::{parse_array_metadata, Array, BackendChoice, StorageSummary, VerifyReport};
pub use chunk::Chunk;
pub use writer::{ArraySpec, ArrayWriter};

use crate::cache::{global_cache, ChunkCache};
use crate::error::{already_exists, argument, invalid, ErrorKind, Result};
use crate::format::metadata::{consolidated_root_text, group_document_text, is_group_document};
use crate::format::{ChunkStats, FormatError, METADATA_FILE};
use crate::storage::{
    clean_leftovers, create_dir_all, io_err, os, parent_of, read_regular_file, recover, sync_dir,
    with_dir_lock, write_atomic_in, FileSystem,
};
use crate::with_element_type;

/// What a node of the hierarchy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A group (`node_type: "group"`, or a v2 `.zgroup`).
    Group,
    /// An array.
    Array,
}

/// One node of a store's hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The path inside the store, `/`-separated; `""` is the root.
    pub path: String,
    /// Group or array.
    pub kind: NodeKind,
    /// 2 or 3.
    pub zarr_format: u8,
}

/// A Zarr store on the local file system.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    cache: Arc<dyn ChunkCache>,
    follow_symlinks: bool,
    /// Every change the store makes goes through it: the operating system, or a test's.
    fs: Arc<dyn FileSystem>,
    /// Whether changes rewrite the root's consolidated metadata: not in a conversion's
    /// staging store, whose directory its builder holds locked and whose root is never
    /// published.
    consolidated: bool,
}

impl Store {
    /// Opens an existing store: a directory holding a Zarr v3 `zarr.json` (group or array) or
    /// a Zarr v2 `.zgroup` / `.zarray`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] when `path` does not exist or holds no Zarr metadata (a plain
    /// directory or a file); [`ErrorKind::Io`] when `zarr.json` exists but cannot be read;
    /// `OUTCORE_CACHE_BYTES` set to something that is not a size, before the process-wide
    /// cache exists ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)).
    /// The metadata is not parsed here: a damaged document fails when its node is opened.
    ///
    /// [`ErrorKind::NotFound`]: crate::ErrorKind::NotFound
    /// [`ErrorKind::Io`]: crate::ErrorKind::Io
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let root = path.as_ref().to_owned();
        if !root.exists() {
            // A store that is one array, whose overwrite was interrupted between its renames.
            recover(&*os(), &root)?;
        }
        if node_at(&root, false)?.is_none() {
            if !root.exists() {
                return Err(io_err(&root, "open")(std::io::ErrorKind::NotFound.into()).into());
            }
            return Err(FormatError::MissingMetadata { path: root }.into());
        }
        Ok(Store {
            root,
            cache: global_cache()?,
            follow_symlinks: false,
            fs: os(),
            consolidated: true,
        })
    }

    /// Opens the store at `path`, creating the directory and a root group if needed (with
    /// empty consolidated metadata: see [`Store::consolidate`]). An existing node there
    /// (group or array) is kept as it is.
    ///
    /// # Errors
    /// The directory or the group's `zarr.json` cannot be created (`path` names a file, no
    /// permission, a full disk), or an existing `zarr.json` cannot be read.
    pub fn create(path: impl AsRef<Path>) -> Result<Store> {
        let root = path.as_ref().to_owned();
        if node_at(&root, false)?.is_none() {
            write_group(&os(), &root, Map::new())?;
            consolidate(&os(), &root, false)?;
        }
        Store::open(root)
    }

    /// This store making every change through `fs` (for tests that simulate power loss or
    /// inject failures; `test_support::with_file_system`).
    pub(crate) fn with_file_system(mut self, fs: Arc<dyn FileSystem>) -> Self {
        self.fs = fs;
        self
    }

    /// A new store in the staging directory `dir` of a conversion, which keeps no
    /// consolidated metadata (its root is never published).
    #[cfg(feature = "convert")]
    pub(crate) fn create_staging(dir: &Path) -> Result<Store> {
        write_atomic_in(
            &os(),
            &dir.join(METADATA_FILE),
            group_document_text(Map::new()).as_bytes(),
        )?;
        let mut store = Store::open(dir)?;
        store.consolidated = false;
        Ok(store)
    }

    /// Uses `cache` for the arrays opened from now on (the default is the process-wide one).
    pub fn with_cache(mut self, cache: Arc<dyn ChunkCache>) -> Self {
        self.cache = cache;
        self
    }

    /// Whether symbolic links inside the store are followed when reading: by default
    /// (`false`) a node directory, `zarr.json`, `outcore.stats`, shard or chunk directory that
    /// is a link is an error ([`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported))
    /// rather than a path out of the store. The store's own path may be a link either way.
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.follow_symlinks = follow;
        self
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the node at `name`. Nothing is checked on disk.
    ///
    /// # Errors
    /// A part of `name` that starts with `.` (so also `.` and `..`) or contains `\`
    /// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)): a name never
    /// leaves the store or names its hidden files.
    pub fn node_dir(&self, name: &str) -> Result<PathBuf> {
        Ok(self.root.join(node_rel(name)?))
    }

    /// Every node of the hierarchy, parents before children, siblings sorted by name.
    /// Directories without Zarr metadata, and hidden ones, are skipped.
    ///
    /// # Errors
    /// A group's directory cannot be listed, or a `zarr.json` exists but cannot be read
    /// ([`ErrorKind::Io`](crate::ErrorKind::Io)); a subdirectory whose name contains `\`,
    /// which [`Store::node_dir`] refuses
    /// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)).
    pub fn nodes(&self) -> Result<Vec<Node>> {
        walk_nodes(&self.root, self.follow_symlinks)
    }

    /// The user attributes of the group at `name` (`""` is the root): `attributes` in its
    /// `zarr.json`, or a Zarr v2 group's `.zattrs` (empty when it has none).
    ///
    /// # Errors
    /// An invalid `name` (see [`Store::node_dir`]); no group there
    /// ([`ErrorKind::NotFound`](crate::ErrorKind::NotFound), also when `name` is an array);
    /// metadata that cannot be read (`Io`) or parsed
    /// ([`ErrorKind::Corrupt`](crate::ErrorKind::Corrupt)).
    pub fn group_attributes(&self, name: &str) -> Result<Map<String, Value>> {
        let dir = self.node_dir(name)?;
        let file = match node_at(&dir, self.follow_symlinks)? {
            Some((NodeKind::Group, 3)) => dir.join(METADATA_FILE),
            Some((NodeKind::Group, _)) => dir.join(".zattrs"),
            Some((NodeKind::Array, _)) => {
                return Err(argument(
                    ErrorKind::NotFound,
                    format!("{} is an array, not a group", dir.display()),
                ))
            }
            None => return Err(FormatError::MissingMetadata { path: dir }.into()),
        };
        let Some(bytes) = read_regular_file(&file, self.follow_symlinks)? else {
            return Ok(Map::new());
        };
        let doc: Value =
            serde_json::from_slice(&bytes).map_err(|e| FormatError::MalformedMetadata {
                path: file.clone(),
                reason: crate::format::bounded(e.to_string()),
            })?;
        let attributes = if file.ends_with(METADATA_FILE) {
            doc.get("attributes").cloned().unwrap_or_default()
        } else {
            doc
        };
        match attributes {
            Value::Object(map) => Ok(map),
            Value::Null => Ok(Map::new()),
            other => Err(FormatError::MalformedMetadata {
                path: file,
                reason: crate::format::bounded(format!("attributes {other} are not an object")),
            }
            .into()),
        }
    }

    /// Rewrites the consolidated metadata in the root group's `zarr.json` from the nodes now
    /// in the store. Every change outcore makes to a store's hierarchy calls it; call it
    /// after changing the store by other means. A store whose root is an array, or a Zarr v2
    /// group, has none.
    ///
    /// # Errors
    /// The root directory cannot be locked, a directory listed or a `zarr.json` read
    /// ([`ErrorKind::Io`](crate::ErrorKind::Io)), or the root's `zarr.json` written.
    pub fn consolidate(&self) -> Result<()> {
        if !self.consolidated {
            return Ok(());
        }
        consolidate(&self.fs, &self.root, self.follow_symlinks)
    }

    /// The paths of every array in the store.
    ///
    /// # Errors
    /// As [`Store::nodes`].
    pub fn arrays(&self) -> Result<Vec<String>> {
        Ok(self
            .nodes()?
            .into_iter()
            .filter(|n| n.kind == NodeKind::Array)
            .map(|n| n.path)
            .collect())
    }

    /// Opens the array at `name` (`""` when the store itself is an array).
    ///
    /// # Errors
    /// An invalid `name` (see [`Store::node_dir`]); no metadata there
    /// ([`ErrorKind::NotFound`](crate::ErrorKind::NotFound)); metadata that cannot be read
    /// (`Io`) or is not a valid array's (`Corrupt`, also when the node is a v3 group); a data
    /// type outcore does not store (`Unsupported`).
    pub fn open_array(&self, name: &str) -> Result<Array> {
        Array::open(
            &*self.fs,
            &self.root,
            &node_rel(name)?,
            self.cache.clone(),
            self.follow_symlinks,
        )
    }

    /// Creates a group at `name` (and any missing parent groups) with these attributes, and
    /// brings the store's consolidated metadata up to date. An existing group's metadata is
    /// replaced; so is an array's, which turns it into a group over its old chunk files.
    ///
    /// # Errors
    /// An invalid `name` (see [`Store::node_dir`]); an array above `name`
    /// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)); a directory or
    /// `zarr.json` that cannot be read or written; the consolidated metadata cannot be
    /// rewritten (see [`Store::consolidate`]).
    pub fn create_group(&self, name: &str, attributes: Map<String, Value>) -> Result<()> {
        self.ensure_parent_groups(name)?;
        write_group(&self.fs, &self.node_dir(name)?, attributes)?;
        self.consolidate()
    }

    /// Creates the missing groups above `name` (an array on the way is an error).
    pub(crate) fn ensure_parent_groups(&self, name: &str) -> Result<()> {
        let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
        let mut created = false;
        for depth in 1..parts.len() {
            let parent = parts[..depth].join("/");
            let dir = self.node_dir(&parent)?;
            match node_at(&dir, self.follow_symlinks)? {
                Some((NodeKind::Group, _)) => {}
                Some((NodeKind::Array, _)) => {
                    return Err(invalid(format!(
                        "{} is an array, it cannot hold {name}",
                        dir.display()
                    )))
                }
                None => {
                    write_group(&self.fs, &dir, Map::new())?;
                    created = true;
                }
            }
        }
        if created {
            self.consolidate()?;
        }
        Ok(())
    }

    /// Starts writing a new array at `name`. Nothing appears at `name` until
    /// [`ArrayWriter::finish`]; an existing node there is an error unless
    /// [`ArraySpec::overwrite`] is set.
    ///
    /// # Errors
    /// An empty or invalid `name` or an array above it
    /// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)); anything at
    /// `name`, Zarr node or not, without overwrite
    /// ([`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists)); a spec whose chunk or
    /// shard shape does not fit the array (`InvalidArgument`) or whose fill value has another
    /// type (`TypeMismatch`); parent groups or the staging directory that cannot be created.
    /// The missing parent groups are created before the checks on `name` itself, and stay.
    pub fn create_array(&self, name: &str, spec: &ArraySpec) -> Result<ArrayWriter> {
        if name.split('/').all(|p| p.is_empty()) {
            return Err(invalid("an array needs a name inside the store"));
        }
        self.ensure_parent_groups(name)?;
        let dir = self.node_dir(name)?;
        if !spec.overwrite_existing() && dir.exists() {
            return Err(already_exists(format!(
                "{} already exists (set overwrite to replace it)",
                dir.display()
            )));
        }
        ArrayWriter::create(
            dir,
            spec,
            self.cache.clone(),
            self.follow_symlinks,
            self.fs.clone(),
            self.consolidated.then(|| self.root.clone()),
        )
    }

    /// Starts rewriting chunks of the existing array at `name`. Chunks not written keep
    /// their values. The update builds a new generation beside the array — rewritten shards,
    /// and hard links to the unchanged ones — and [`ArrayWriter::finish`] exchanges it with
    /// the array in one step: readers see the array before the update or after it, never
    /// part of it, and an update never finished leaves the array as it was.
    ///
    /// # Errors
    /// As [`Store::open_array`]; an array not on the outcore profile (sharded, `bytes` with
    /// optional `zstd`: [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported)); the
    /// metadata cannot be re-read or the staging directory created.
    pub fn update_array(&self, name: &str) -> Result<ArrayWriter> {
        ArrayWriter::update(
            self.open_array(name)?,
            self.follow_symlinks,
            self.fs.clone(),
        )
    }

    /// Removes the temporary files and directories (`.outcore-tmp-*`) that killed writers
    /// left anywhere in the store, except those a live reader or writer holds, after putting
    /// back any array an interrupted overwrite left aside. Returns what was removed.
    ///
    /// # Errors
    /// A directory cannot be listed, or a leftover cannot be removed
    /// ([`ErrorKind::Io`](crate::ErrorKind::Io)).
    pub fn clean_leftovers(&self) -> Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        let mut pending = vec![self.root.clone()];
        // A store that is one array is replaced inside its parent directory.
        removed.extend(clean_leftovers(&*self.fs, parent_of(&self.root))?);
        while let Some(dir) = pending.pop() {
            removed.extend(clean_leftovers(&*self.fs, &dir)?);
            let entries = fs::read_dir(&dir).map_err(io_err(&dir, "list"))?;
            for entry in entries {
                let entry = entry.map_err(io_err(&dir, "list"))?;
                let hidden = entry.file_name().to_string_lossy().starts_with('.');
                if !hidden && entry.file_type().is_ok_and(|t| t.is_dir()) {
                    pending.push(entry.path());
                }
            }
        }
        Ok(removed)
    }
}

/// Makes `dir` (and missing directories above it) a group with `attributes`, durably: its
/// `zarr.json` published by the commit rule, then `dir` and the parent of every directory
/// created synced, innermost first.
///
/// # Errors
/// A directory cannot be created, or the document cannot be written or synced.
fn write_group(fs: &Arc<dyn FileSystem>, dir: &Path, attributes: Map<String, Value>) -> Result<()> {
    let made = create_dir_all(&**fs, dir)?;
    write_atomic_in(
        fs,
        &dir.join(METADATA_FILE),
        group_document_text(attributes).as_bytes(),
    )?;
    sync_dir(&**fs, dir)?;
    for made in made.iter().rev() {
        sync_dir(&**fs, parent_of(made))?;
    }
    Ok(())
}

/// Rewrites the consolidated metadata of the store at `root` (see [`Store::consolidate`]):
/// the `zarr.json` of every Zarr v3 node below the root, inline in the root's. Writers take
/// turns on a lock of the root directory, and each reads the hierarchy once it holds it, so
/// the last to write has seen every node published before it. A node whose `zarr.json` is
/// not JSON is left out (opening it reports the damage).
pub(crate) fn consolidate(
    fs: &Arc<dyn FileSystem>,
    root: &Path,
    follow_symlinks: bool,
) -> Result<()> {
    with_dir_lock(root, || {
        let meta_path = root.join(METADATA_FILE);
        let Some(bytes) = read_regular_file(&meta_path, follow_symlinks)? else {
            return Ok(());
        };
        let Ok(doc) = serde_json::from_slice::<Value>(&bytes) else {
            return Ok(());
        };
        if doc.get("node_type").and_then(Value::as_str) != Some("group") {
            return Ok(());
        }
        let mut nodes = Vec::new();
        for node in walk_nodes(root, follow_symlinks)? {
            if node.path.is_empty() || node.zarr_format != 3 {
                continue;
            }
            let file = root.join(node_rel(&node.path)?).join(METADATA_FILE);
            let Some(bytes) = read_regular_file(&file, follow_symlinks)? else {
                continue;
            };
            if let Ok(node_doc) = serde_json::from_slice::<Value>(&bytes) {
                nodes.push((node.path, node_doc));
            }
        }
        write_atomic_in(
            fs,
            &meta_path,
            consolidated_root_text(doc, nodes).as_bytes(),
        )?;
        Ok(())
    })?
}

/// Every node below `root`, parents before children, siblings sorted by name (see
/// [`Store::nodes`]).
fn walk_nodes(root: &Path, follow_symlinks: bool) -> Result<Vec<Node>> {
    let mut out = Vec::new();
    let mut pending = vec![String::new()];
    while let Some(path) = pending.pop() {
        let dir = root.join(node_rel(&path)?);
        let Some((kind, zarr_format)) = node_at(&dir, follow_symlinks)? else {
            continue;
        };
        out.push(Node {
            path: path.clone(),
            kind,
            zarr_format,
        });
        if kind == NodeKind::Group {
            let mut children: Vec<String> = fs::read_dir(&dir)
                .map_err(io_err(&dir, "list"))?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect();
            children.sort();
            for child in children.into_iter().rev() {
                pending.push(if path.is_empty() {
                    child
                } else {
                    format!("{path}/{child}")
                });
            }
        }
    }
    Ok(out)
}

/// The path of the node `name` relative to the store's root.
///
/// # Errors
/// A part of `name` that starts with `.` or contains `\`.
fn node_rel(name: &str) -> Result<PathBuf> {
    let mut rel = PathBuf::new();
    for part in name.split('/').filter(|p| !p.is_empty()) {
        if part == "." || part == ".." || part.starts_with('.') || part.contains('\\') {
            return Err(invalid(format!("invalid node name {name:?}")));
        }
        rel.push(part);
    }
    Ok(rel)
}

/// What kind of node `dir` is, if any (its `zarr.json` followed if a link only when
/// `follow_symlinks`).
pub(crate) fn node_at(dir: &Path, follow_symlinks: bool) -> Result<Option<(NodeKind, u8)>> {
    let meta = dir.join(METADATA_FILE);
    match read_regular_file(&meta, follow_symlinks)? {
        Some(bytes) => {
            let kind = if is_group_document(&bytes) {
                NodeKind::Group
            } else {
                NodeKind::Array
            };
            Ok(Some((kind, 3)))
        }
        None => Ok(if dir.join(".zarray").exists() {
            Some((NodeKind::Array, 2))
        } else if dir.join(".zgroup").exists() {
            Some((NodeKind::Group, 2))
        } else {
            None
        }),
    }
}

/// The statistics of a chunk's in-bounds elements, whatever its type.
pub(crate) fn dispatch_stats(chunk: &Chunk) -> Result<ChunkStats> {
    with_element_type!(chunk.data_type(), T => {
        let data = chunk.as_slice::<T>()?;
        Ok(ChunkStats::compute(&data, chunk.shape(), chunk.valid_shape()))
    })
}
