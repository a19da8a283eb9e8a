//! Layer 8: importers and exporters. Data comes in from `.npy` files, raw binary, CSV and
//! other Zarr stores, and goes out to `.npy` and plain (unsharded) Zarr v3.
//!
//! Every importer streams: array inputs become [`LazyArray`]s read region by region
//! ([`crate::RegionSource`]), so conversion is the engine's `to_store` (chunks in parallel,
//! shard after shard, memory bounded by a batch of chunks), and many inputs combine with the
//! engine's `stack` / `concatenate`. CSV is row-oriented, so it has its own two-pass reader
//! ([`csv`]).
//!
//! Nothing a conversion writes is visible under its final name before it is finished:
//! [`Output`] stages the new array or group in a temporary directory next to its destination
//! and renames it into place in [`Output::commit`].

use std::fs;
use std::path::{Path, PathBuf};

use crate::codec::ChunkEncoding;
use crate::element::DataType;
use crate::error::{already_exists, invalid, shape_mismatch, type_mismatch, Error, Result};
use crate::exec::ProgressFn;
use crate::expr::{LazyArray, Op};
use crate::format::metadata::{default_dimension_names, V2_DIMENSIONS_ATTRIBUTE};
use crate::format::METADATA_FILE;
use crate::storage::{clean_leftovers, io_err, os, StagingDir};
use crate::store::{consolidate, node_at, Array, ArraySpec, NodeKind, Store};

pub mod binary;
#[cfg(feature = "csv")]
pub mod csv;
pub mod export;
mod table;

pub use table::Table;

/// How converted arrays are laid out.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// Inner-chunk shape; `None` picks a default sized for streaming.
    pub chunks: Option<Vec<u64>>,
    /// Shard shape, a multiple of the chunk shape; `None` picks a default.
    pub shards: Option<Vec<u64>>,
    /// Chunk encoding; `None` is zstd level 1.
    pub encoding: Option<ChunkEncoding>,
}

impl ConvertOptions {
    /// The spec of a converted array of `data_type` and `shape`.
    ///
    /// # Errors
    /// A chunk or shard shape of another rank than `shape`
    /// ([`ErrorKind::ShapeMismatch`](crate::ErrorKind::ShapeMismatch)). Zero extents and
    /// shards that are not multiples of the chunks pass here and fail when the array is
    /// created.
    pub fn spec(&self, data_type: DataType, shape: &[u64]) -> Result<ArraySpec> {
        let mut spec = ArraySpec::new(data_type, shape);
        for (what, dims) in [("chunk", &self.chunks), ("shard", &self.shards)] {
            if let Some(dims) = dims {
                if dims.len() != shape.len() {
                    return Err(shape_mismatch(format!(
                        "the {what} shape {dims:?} has {} dimensions, the array {shape:?} has {}",
                        dims.len(),
                        shape.len()
                    )));
                }
            }
        }
        if let Some(chunks) = &self.chunks {
            spec = spec.chunks(chunks);
        }
        if let Some(shards) = &self.shards {
            spec = spec.shards(shards);
        }
        if let Some(encoding) = &self.encoding {
            spec = spec.encoding(encoding.clone());
        }
        Ok(spec)
    }

    /// The spec of a converted copy of the stored array `source`: laid out by these options,
    /// with the source's fill value (so chunks it never wrote stay unwritten), attributes and
    /// axis names (a Zarr v2 array's `_ARRAY_DIMENSIONS` attribute becomes
    /// `dimension_names`; an axis without a name is called `dim_N`).
    ///
    /// # Errors
    /// As [`ConvertOptions::spec`].
    pub fn spec_like(&self, source: &Array) -> Result<ArraySpec> {
        let mut attributes = source.attributes().clone();
        attributes.remove(V2_DIMENSIONS_ATTRIBUTE);
        let mut spec = self
            .spec(source.data_type(), source.shape())?
            .fill_value(source.fill_value().clone())
            .attributes(attributes);
        if let Some(names) = source.dimension_names() {
            let defaults = default_dimension_names(names.len());
            let names: Vec<&str> = names
                .iter()
                .zip(&defaults)
                .map(|(name, default)| name.as_deref().unwrap_or(default))
                .collect();
            spec = spec.dimension_names(&names);
        }
        Ok(spec)
    }
}

/// How several array inputs become one array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Along a new leading axis: every input has the same shape.
    Stack,
    /// Along axis 0: every input has the same shape after the first axis.
    Concat,
}

/// Combines `inputs` (each named by its file, for errors) into one lazy array. One input is
/// returned as it is; several need `how`. Inputs must share their data type, and their
/// shapes must agree as `how` requires.
///
/// # Errors
/// No inputs, or several without `how` ([`ErrorKind::InvalidArgument`]); an input of another
/// data type than the first ([`ErrorKind::TypeMismatch`]) or of a shape `how` does not allow,
/// 0-d inputs to concatenate included ([`ErrorKind::ShapeMismatch`]). The error names the
/// first file that disagrees.
///
/// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
/// [`ErrorKind::TypeMismatch`]: crate::ErrorKind::TypeMismatch
/// [`ErrorKind::ShapeMismatch`]: crate::ErrorKind::ShapeMismatch
pub fn combine(inputs: Vec<(PathBuf, LazyArray)>, how: Option<Combine>) -> Result<LazyArray> {
    let mut inputs = inputs;
    if inputs.is_empty() {
        return Err(invalid("no inputs to convert"));
    }
    if inputs.len() == 1 {
        return Ok(inputs.pop().expect("one input").1);
    }
    let Some(how) = how else {
        return Err(invalid(format!(
            "{} inputs: choose to stack them (a new leading axis) or concatenate them (along axis 0)",
            inputs.len()
        )));
    };
    let (first_path, first) = &inputs[0];
    for (path, array) in &inputs[1..] {
        if array.data_type() != first.data_type() {
            return Err(type_mismatch(format!(
                "{} is {}, {} is {}: inputs must share their data type",
                path.display(),
                array.data_type(),
                first_path.display(),
                first.data_type()
            )));
        }
        let agrees = match how {
            Combine::Stack => array.shape() == first.shape(),
            Combine::Concat => {
                !array.shape().is_empty()
                    && array.shape().len() == first.shape().len()
                    && array.shape()[1..] == first.shape()[1..]
            }
        };
        if !agrees {
            let rule = match how {
                Combine::Stack => "stacking needs equal shapes",
                Combine::Concat => "concatenating needs equal shapes after axis 0",
            };
            return Err(shape_mismatch(format!(
                "{} has shape {:?}, {} has {:?}: {rule}",
                path.display(),
                array.shape(),
                first_path.display(),
                first.shape()
            )));
        }
    }
    let arrays: Vec<LazyArray> = inputs.into_iter().map(|(_, a)| a).collect();
    match how {
        Combine::Stack => LazyArray::stack(&arrays, 0),
        Combine::Concat => LazyArray::concatenate(&arrays, 0),
    }
}

/// The name importers write under inside [`Output::store`].
pub const STAGED_NODE: &str = "node";

/// Where a conversion goes: `PATH` (a new store whose root is the converted array or group)
/// or `STORE/NAME` (a new node inside an existing store). The node is built in a temporary
/// directory beside its destination and renamed into place by [`Output::commit`]; dropping
/// an `Output` without committing removes it, so an interrupted conversion leaves nothing
/// that opens as a store.
#[derive(Debug)]
pub struct Output {
    staging: StagingDir,
    store: Store,
    destination: PathBuf,
    /// The existing store and the node's name in it, when writing inside one.
    parent: Option<(Store, String)>,
    /// The directories this output created on the way to its destination, removed unless
    /// it is committed.
    created: CreatedDirs,
}

/// The topmost directory a conversion created on the way to its destination (a new store,
/// its parent directories, missing groups inside an existing store): removed on drop unless
/// [`CreatedDirs::keep`] is called, after which the store it was in, if it is still there,
/// has its consolidated metadata rewritten without the groups that went.
#[derive(Debug, Default)]
struct CreatedDirs {
    top: Option<PathBuf>,
    store_root: Option<PathBuf>,
}

impl CreatedDirs {
    fn keep(&mut self) {
        self.top = None;
    }
}

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        let Some(top) = self.top.take() else {
            return;
        };
        let _ = fs::remove_dir_all(&top);
        if let Some(root) = &self.store_root {
            if root.exists() {
                let _ = consolidate(&os(), root, false);
            }
        }
    }
}

impl Output {
    /// Prepares to write `path`. An existing node there is an error unless `overwrite`; an
    /// existing file or directory that is not a Zarr node is never replaced. Missing parent
    /// directories of a new store are created, a missing `*.zarr` directory above `path`
    /// becomes a new store (a root group) holding it, and missing groups between a store and
    /// `path` are created. Whatever was created is removed again if the output is dropped
    /// without [`Output::commit`].
    ///
    /// # Errors
    /// [`ErrorKind::AlreadyExists`](crate::ErrorKind::AlreadyExists) when `path` exists and
    /// is not a Zarr node, or is one and `overwrite` is false;
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) when an array lies
    /// above `path` or `path`'s name inside the store above it is invalid (see
    /// [`Store::node_dir`]); I/O errors creating the directories or the staging store. The
    /// directories made before a failure are removed.
    pub fn create(path: &Path, overwrite: bool) -> Result<Output> {
        if path.exists() {
            if !is_zarr_node(path) {
                return Err(already_exists(format!(
                    "{} exists and is not a Zarr store; not replacing it",
                    path.display()
                )));
            }
            if !overwrite {
                return Err(already_exists(format!(
                    "{} already exists (set overwrite to replace it)",
                    path.display()
                )));
            }
        }
        let mut created = CreatedDirs {
            top: path
                .ancestors()
                .skip(1)
                .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
                .last()
                .map(Path::to_owned),
            store_root: None,
        };
        // `new.zarr/name` where `new.zarr` does not exist yet: make the store first, so the
        // node lands inside a store rather than inside a plain directory.
        if let Some(root) = path
            .ancestors()
            .skip(1)
            .find(|a| a.extension().is_some_and(|e| e == "zarr"))
        {
            if !root.exists() {
                Store::create(root)?;
            }
        }
        let parent = match existing_store_above(path)? {
            Some((store, name)) => {
                created.store_root = Some(store.root().to_owned());
                store.ensure_parent_groups(&name)?;
                Some((store, name))
            }
            None => {
                let dir = parent_dir(path);
                fs::create_dir_all(&dir).map_err(io_err(&dir, "create directory"))?;
                None
            }
        };
        // Leftovers of killed writers in the destination's directory go first (those a live
        // reader or writer holds stay); failing to remove one is no reason not to convert.
        let _ = clean_leftovers(&*os(), &parent_dir(path));
        let staging = StagingDir::create_in(&os(), &parent_dir(path))?;
        let store = Store::create_staging(staging.path())?;
        Ok(Output {
            staging,
            store,
            destination: path.to_owned(),
            parent,
            created,
        })
    }

    /// Whether the destination names a node inside an existing (or just created `*.zarr`)
    /// store, rather than a new store of its own.
    pub fn inside_store(&self) -> bool {
        self.parent.is_some()
    }

    /// The staging store: importers write the node [`STAGED_NODE`] into it.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The node name importers write under ([`STAGED_NODE`]).
    pub fn name(&self) -> &'static str {
        STAGED_NODE
    }

    /// The final path.
    pub fn destination(&self) -> &Path {
        &self.destination
    }

    /// Writes `array` as the node `name` of the staging store ([`Output::name`], or a path
    /// below it when converting a group), laid out by `options`, streamed through the engine
    /// with `progress` observing; a failed write names the destination (see
    /// [`Output::relocate`]).
    ///
    /// # Errors
    /// As [`ConvertOptions::spec`]; a layout the store refuses (a zero chunk extent, a shard
    /// extent not a multiple of it: `InvalidArgument`); an existing node `name`
    /// (`AlreadyExists`); any error evaluating `array`, such as an input found malformed
    /// part-way (`MalformedInput`); I/O errors writing; `progress` stopping the pass
    /// (`Cancelled`: the node is not written, and dropping the `Output` removes the rest).
    pub fn write_array(
        &self,
        name: &str,
        array: &LazyArray,
        options: &ConvertOptions,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<()> {
        let spec = options.spec(array.data_type(), array.shape())?;
        self.write_array_as(name, array, &spec, progress)
    }

    /// Writes `array` as the node `name` of the staging store, as [`Output::write_array`]
    /// does, described by `spec` (from [`ConvertOptions::spec`] or
    /// [`ConvertOptions::spec_like`], with the attributes, axis names and fill value an
    /// importer read from its source). When `array` is a stored array, chunks whose every
    /// element is the fill value are not written: a sparse source stays sparse.
    ///
    /// # Errors
    /// A `spec` of another data type or shape than `array`
    /// ([`ErrorKind::ShapeMismatch`](crate::ErrorKind::ShapeMismatch)); otherwise as
    /// [`Output::write_array`].
    pub fn write_array_as(
        &self,
        name: &str,
        array: &LazyArray,
        spec: &ArraySpec,
        progress: Option<ProgressFn<'_>>,
    ) -> Result<()> {
        crate::exec::summary::check_sparse_pass("convert", array)?;
        let mut compute = array.compute();
        if matches!(array.node.op, Op::Stored(_)) {
            compute = compute.skip_fill_chunks();
        }
        if let Some(observer) = progress {
            compute = compute.progress(observer);
        }
        compute
            .to_store(&self.store, name, spec)
            .map_err(|e| self.relocate(e))?;
        Ok(())
    }

    /// `error` with paths inside the staging directory replaced by the same paths under the
    /// destination, so a failed write (a full disk, say) names the file the user asked for
    /// rather than a temporary one.
    pub fn relocate(&self, error: Error) -> Error {
        error.relocated(&self.staging.path().join(STAGED_NODE), &self.destination)
    }

    /// Puts the finished node into place and returns its path: an existing node there is
    /// exchanged with it in one step, and removed once no reader holds it
    /// (`format-spec/commit-protocol.md`). Missing groups between an existing store and the
    /// node are created first, and the store's consolidated metadata is rewritten after.
    ///
    /// # Errors
    /// Nothing was written under [`Output::name`]
    /// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)); an array now
    /// between the store and the node (`InvalidArgument`); a group that cannot be written, or
    /// a failed rename into place (the existing node stays, or is put back by the next open
    /// or write). The staging directory is removed either way.
    pub fn commit(mut self) -> Result<PathBuf> {
        let built = self.staging.path().join(STAGED_NODE);
        if !built.join(METADATA_FILE).exists() {
            return Err(invalid(format!(
                "nothing was written for {}",
                self.destination.display()
            )));
        }
        if let Some((store, name)) = &self.parent {
            store.ensure_parent_groups(name)?;
        }
        // The staging directory, removed as `publish` returns, keeps only its root group.
        self.staging.publish(Some(STAGED_NODE), &self.destination)?;
        self.created.keep();
        match &self.parent {
            Some((store, _)) => store.consolidate()?,
            None => consolidate(&os(), &self.destination, false)?,
        }
        Ok(self.destination)
    }
}

/// The directory `path` is in (`.` for a bare name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Whether `dir` holds Zarr metadata (v3 `zarr.json`, v2 `.zgroup` or `.zarray`).
pub fn is_zarr_node(dir: &Path) -> bool {
    [METADATA_FILE, ".zgroup", ".zarray"]
        .iter()
        .any(|f| dir.join(f).is_file())
}

/// The nearest existing ancestor of `path` when it is a Zarr group, with `path`'s name
/// inside it; an ancestor that is an array is an error.
fn existing_store_above(path: &Path) -> Result<Option<(Store, String)>> {
    for ancestor in path.ancestors().skip(1) {
        let dir = if ancestor.as_os_str().is_empty() {
            Path::new(".")
        } else {
            ancestor
        };
        if !dir.exists() {
            continue;
        }
        if !is_zarr_node(dir) {
            return Ok(None);
        }
        if matches!(node_at(dir, false)?, Some((NodeKind::Array, _))) {
            return Err(invalid(format!(
                "{} is an array, it cannot hold {}",
                dir.display(),
                path.display()
            )));
        }
        let name = path
            .strip_prefix(ancestor)
            .map_err(|_| {
                invalid(format!(
                    "{} is not inside {}",
                    path.display(),
                    dir.display()
                ))
            })?
            .to_string_lossy()
            .replace('\\', "/");
        let store = Store::open(dir)?;
        store.node_dir(&name)?;
        return Ok(Some((store, name)));
    }
    Ok(None)
}
