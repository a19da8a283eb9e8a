//! What is inside a store — the data behind `outcore inspect`, serialisable as its stable
//! `--json` form.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{NodeKind, Store};
use crate::error::Result;

/// A store's hierarchy with a report per array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreReport {
    /// The store's path as given.
    pub path: String,
    /// Every node, parents first.
    pub nodes: Vec<NodeReport>,
}

/// One group or array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    /// The path inside the store (`""` for the root).
    pub path: String,
    /// `group` or `array`.
    pub kind: NodeKind,
    /// 2 or 3.
    pub zarr_format: u8,
    /// The node's user attributes (empty when it has none, or they cannot be read).
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// For arrays that opened.
    pub array: Option<ArrayReport>,
    /// Why the node could not be read, if it could not.
    pub error: Option<String>,
}

/// One array's layout and storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayReport {
    /// Shape.
    pub shape: Vec<u64>,
    /// Zarr data type name.
    pub data_type: String,
    /// The inner-chunk shape (the unit read and cached).
    pub chunk_shape: Vec<u64>,
    /// The shard shape, for sharded arrays.
    pub shard_shape: Option<Vec<u64>>,
    /// Codec names, outermost first (inner codecs of a shard follow `sharding_indexed`).
    pub codecs: Vec<String>,
    /// The fill value as `zarr.json` spells it.
    pub fill_value: serde_json::Value,
    /// The axis names (see [`crate::Array::dimension_names`]).
    #[serde(default)]
    pub dimension_names: Option<Vec<Option<String>>>,
    /// Whether outcore reads it on its fast path (otherwise through zarrs).
    pub fast_path: bool,
    /// Chunks in the grid.
    pub chunks_total: u64,
    /// Chunks stored (`null` when only decoding could tell).
    pub chunks_stored: Option<u64>,
    /// Chunks never written (they read as the fill value).
    pub chunks_missing: Option<u64>,
    /// Shard (or chunk) files present.
    pub files: u64,
    /// Bytes of the array's elements (shape × element size, saturating at `u64::MAX`).
    pub logical_bytes: u64,
    /// Bytes of its shard or chunk files on disk.
    pub stored_bytes: u64,
    /// `logical_bytes / stored_bytes` (`null` when nothing is stored).
    pub ratio: Option<f64>,
    /// Stored chunks readable as zero-copy views of the mapping.
    pub zero_copy_chunks: u64,
    /// `zero_copy_chunks / chunks_stored`.
    pub zero_copy_share: Option<f64>,
    /// Whether an intact statistics sidecar is present.
    pub statistics: bool,
}

/// Inspects the store (or lone array) at `path`. An array that cannot be opened or
/// summarised does not fail the call: its [`NodeReport::error`] says why.
///
/// # Errors
/// As [`Store::open`] and [`Store::nodes`]: `path` is not a store, or its hierarchy cannot be
/// listed.
pub fn inspect(path: &Path) -> Result<StoreReport> {
    inspect_store(&Store::open(path)?)
}

/// Inspects the open `store`, with its options (links followed or not), as [`inspect`] does.
///
/// # Errors
/// As [`Store::nodes`]: the hierarchy cannot be listed.
pub fn inspect_store(store: &Store) -> Result<StoreReport> {
    let path = store.root();
    let mut nodes = Vec::new();
    for node in store.nodes()? {
        let mut report = NodeReport {
            path: node.path.clone(),
            kind: node.kind,
            zarr_format: node.zarr_format,
            attributes: serde_json::Map::new(),
            array: None,
            error: None,
        };
        match node.kind {
            NodeKind::Array => match array_report(store, &node.path) {
                Ok((a, attributes)) => {
                    report.array = Some(a);
                    report.attributes = attributes;
                }
                Err(e) => report.error = Some(e.to_string()),
            },
            NodeKind::Group => match store.group_attributes(&node.path) {
                Ok(attributes) => report.attributes = attributes,
                Err(e) => report.error = Some(e.to_string()),
            },
        }
        nodes.push(report);
    }
    Ok(StoreReport {
        path: path.display().to_string(),
        nodes,
    })
}

fn array_report(
    store: &Store,
    name: &str,
) -> Result<(ArrayReport, serde_json::Map<String, serde_json::Value>)> {
    let array = store.open_array(name)?;
    let meta = array.meta();
    let grid = array.grid();
    let summary = array.storage_summary()?;
    let logical_bytes = grid.elements().saturating_mul(meta.data_type.size() as u64);
    let statistics = array.stats().map(|s| s.is_some()).unwrap_or(false);
    let report = ArrayReport {
        shape: grid.shape().to_vec(),
        data_type: meta.data_type.name().to_string(),
        chunk_shape: grid.chunk_shape().to_vec(),
        shard_shape: (grid.shard_shape() != grid.chunk_shape() || meta.index_location.is_some())
            .then(|| grid.shard_shape().to_vec()),
        codecs: meta.codec_names.clone(),
        fill_value: serde_json::to_value(&meta.document.fill_value).unwrap_or_default(),
        dimension_names: array.dimension_names(),
        fast_path: array.is_fast_path(),
        chunks_total: summary.chunks_total,
        chunks_stored: summary.chunks_stored,
        chunks_missing: summary.chunks_stored.map(|s| summary.chunks_total - s),
        files: summary.files,
        logical_bytes,
        stored_bytes: summary.stored_bytes,
        ratio: (summary.stored_bytes > 0)
            .then(|| logical_bytes as f64 / summary.stored_bytes as f64),
        zero_copy_chunks: summary.zero_copy_chunks,
        zero_copy_share: summary
            .chunks_stored
            .filter(|s| *s > 0)
            .map(|s| summary.zero_copy_chunks as f64 / s as f64),
        statistics,
    };
    Ok((report, array.attributes().clone()))
}
