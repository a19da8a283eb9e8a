//! Array and group metadata (`zarr.json`), read and written through zarrs' metadata types,
//! and the test that decides whether an array is on outcore's fast path (the *profile*).

use std::path::Path;

use serde_json::{json, Map, Value};
use zarrs::metadata::v3::{ArrayMetadataV3, GroupMetadataV3};

use super::{bounded, ChunkGrid, FormatError};
use crate::element::{DataType, FillValue};

/// Where a shard file keeps its chunk index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexLocation {
    /// The index is the first bytes of the file.
    Start,
    /// The index is the last bytes of the file (what outcore writes).
    End,
}

/// The layout half of the fast-path profile: `sharding_indexed` as the only codec, no storage
/// transformers, index codecs `bytes`(little) + `crc32c`, and inner codecs that start with
/// `bytes`(little). The other half is the codec layer's: an array is on the fast path when a
/// registered codec takes [`ShardProfile::codecs`] (`codec::ChunkEncoding::from_metadata`).
/// This layer knows no codec, so adding one changes nothing here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardProfile {
    /// The inner codecs after `bytes`, as `zarr.json` has them (`{"name", "configuration"}`).
    pub codecs: Vec<Value>,
    /// Where the shard index is.
    pub index_location: IndexLocation,
}

/// Maps chunk-grid coordinates (of the outer grid: shards, or chunks when unsharded) to the
/// path of their file inside the array directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkKeyEncoding {
    /// `default` encoding (keys start with `c`) rather than `v2`.
    pub prefix_c: bool,
    /// `/` or `.`.
    pub separator: char,
}

impl ChunkKeyEncoding {
    /// The encoding outcore writes: `default` with `/`, so shard `(1, 2)` is `c/1/2`.
    pub const DEFAULT: ChunkKeyEncoding = ChunkKeyEncoding {
        prefix_c: true,
        separator: '/',
    };

    /// The relative path of the file for `coords`.
    pub fn key(&self, coords: &[u64]) -> String {
        let mut parts: Vec<String> = Vec::with_capacity(coords.len() + 1);
        if self.prefix_c {
            parts.push("c".into());
        }
        parts.extend(coords.iter().map(u64::to_string));
        if parts.is_empty() {
            parts.push("0".into());
        }
        parts.join(&self.separator.to_string())
    }
}

/// An array's metadata as outcore uses it.
#[derive(Debug, Clone)]
pub struct ArrayMeta {
    /// The element type.
    pub data_type: DataType,
    /// The value of elements never written.
    pub fill_value: FillValue,
    /// Shape, inner-chunk shape, shard shape.
    pub grid: ChunkGrid,
    /// Where shard (or chunk) files live.
    pub key_encoding: ChunkKeyEncoding,
    /// `Some` when the array has the fast path's shard layout (it is on the fast path when
    /// its chunk codecs are outcore's too: see [`ShardProfile`]).
    pub profile: Option<ShardProfile>,
    /// Where the shard index is, when the array is sharded with the standard index codecs
    /// (`bytes` little + `crc32c`) — then outcore can read the index even if it cannot decode
    /// the inner chunks itself.
    pub index_location: Option<IndexLocation>,
    /// The codec names, outermost first, inner codecs of a shard after the shard codec.
    pub codec_names: Vec<String>,
    /// The metadata document itself.
    pub document: ArrayMetadataV3,
}

impl ArrayMeta {
    /// Bytes of one whole decoded chunk.
    pub fn chunk_bytes(&self) -> usize {
        self.grid.chunk_elements() * self.data_type.size()
    }

    /// User attributes.
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.document.attributes
    }

    /// The axis names: `dimension_names`, else a Zarr v2 array's `_ARRAY_DIMENSIONS`
    /// attribute (as xarray writes it); `None` when neither is there, or the attribute is not
    /// one name per axis. An axis without a name is `None`.
    pub fn dimension_names(&self) -> Option<Vec<Option<String>>> {
        if let Some(names) = &self.document.dimension_names {
            return Some(names.clone());
        }
        let list = self
            .document
            .attributes
            .get(V2_DIMENSIONS_ATTRIBUTE)?
            .as_array()?;
        let names: Vec<Option<String>> =
            list.iter().map(|v| v.as_str().map(str::to_owned)).collect();
        (names.len() == self.grid.ndim()).then_some(names)
    }
}

/// Whether the JSON in `bytes` is a group node (`node_type: "group"`).
pub(crate) fn is_group_document(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| {
            v.get("node_type")
                .and_then(Value::as_str)
                .map(|s| s == "group")
        })
        .unwrap_or(false)
}

/// Parses and checks an array's `zarr.json` (`path` is only used in errors).
pub(crate) fn parse_array(bytes: &[u8], path: &Path) -> Result<ArrayMeta, FormatError> {
    let malformed = |reason: String| FormatError::MalformedMetadata {
        path: path.to_owned(),
        reason: bounded(reason),
    };
    let document: ArrayMetadataV3 =
        serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    from_document(document, path)
}

/// Checks an already-parsed v3 document (zarrs' conversion of a v2 array goes this way too).
pub(crate) fn from_document(
    document: ArrayMetadataV3,
    path: &Path,
) -> Result<ArrayMeta, FormatError> {
    let malformed = |reason: String| FormatError::MalformedMetadata {
        path: path.to_owned(),
        reason: bounded(reason),
    };
    let type_name = document.data_type.name().to_string();
    let data_type =
        DataType::from_name(&type_name).ok_or_else(|| FormatError::UnsupportedDataType {
            path: path.to_owned(),
            data_type: bounded(type_name.clone()),
        })?;
    let fill_value =
        FillValue::from_metadata(&document.fill_value, data_type).ok_or_else(|| {
            malformed(format!(
                "fill_value {} does not fit data type {data_type}",
                document.fill_value
            ))
        })?;

    let as_json = serde_json::to_value(&document).map_err(|e| malformed(e.to_string()))?;
    let outer_chunk = regular_chunk_shape(&as_json["chunk_grid"]).ok_or_else(|| {
        malformed(format!(
            "chunk grid {} is not supported (only `regular`)",
            as_json["chunk_grid"]
        ))
    })?;
    let key_encoding = key_encoding(&as_json["chunk_key_encoding"]).ok_or_else(|| {
        malformed(format!(
            "unknown chunk key encoding {}",
            as_json["chunk_key_encoding"]
        ))
    })?;

    let codecs = as_json["codecs"].as_array().cloned().unwrap_or_default();
    let sharding = match codecs.as_slice() {
        [only] if name(only) == "sharding_indexed" => Some(&only["configuration"]),
        _ => None,
    };
    let mut codec_names: Vec<String> = codecs.iter().map(|c| name(c).to_string()).collect();
    let index_location = sharding.and_then(standard_index_location);
    let (inner_chunk, profile) = match sharding {
        Some(config) => {
            let inner = u64_list(&config["chunk_shape"])
                .ok_or_else(|| malformed("sharding_indexed without chunk_shape".into()))?;
            let inner_codecs = config["codecs"].as_array().cloned().unwrap_or_default();
            codec_names.extend(inner_codecs.iter().map(|c| name(c).to_string()));
            let profile = if document.storage_transformers.is_empty() {
                shard_profile(config, data_type)
            } else {
                None
            };
            (inner, profile)
        }
        None => (outer_chunk.clone(), None),
    };
    let grid = ChunkGrid::new(
        &document.shape,
        &inner_chunk,
        &outer_chunk,
        data_type.size(),
    )
    .map_err(|reason| FormatError::InvalidShape {
        path: path.to_owned(),
        reason: bounded(reason),
    })?;
    Ok(ArrayMeta {
        data_type,
        fill_value,
        grid,
        key_encoding,
        profile,
        index_location,
        codec_names,
        document,
    })
}

fn name(codec: &Value) -> &str {
    codec
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| codec.as_str())
        .unwrap_or("?")
}

fn u64_list(v: &Value) -> Option<Vec<u64>> {
    v.as_array()?.iter().map(Value::as_u64).collect()
}

fn regular_chunk_shape(grid: &Value) -> Option<Vec<u64>> {
    (name(grid) == "regular")
        .then(|| u64_list(&grid["configuration"]["chunk_shape"]))
        .flatten()
}

fn key_encoding(encoding: &Value) -> Option<ChunkKeyEncoding> {
    let separator = encoding["configuration"]["separator"].as_str();
    let (prefix_c, default_sep) = match name(encoding) {
        "default" => (true, "/"),
        "v2" => (false, "."),
        _ => return None,
    };
    let separator = match separator.unwrap_or(default_sep) {
        "/" => '/',
        "." => '.',
        _ => return None,
    };
    Some(ChunkKeyEncoding {
        prefix_c,
        separator,
    })
}

fn is_little_bytes(codec: &Value, data_type: DataType) -> bool {
    name(codec) == "bytes"
        && match codec["configuration"]["endian"].as_str() {
            Some("little") => true,
            None => data_type.size() == 1,
            Some(_) => data_type.size() == 1,
        }
}

fn standard_index_location(config: &Value) -> Option<IndexLocation> {
    let index = config["index_codecs"].as_array()?;
    match index.as_slice() {
        [bytes, crc] if is_little_bytes(bytes, DataType::UInt64) && name(crc) == "crc32c" => {}
        _ => return None,
    }
    match config["index_location"].as_str().unwrap_or("end") {
        "end" => Some(IndexLocation::End),
        "start" => Some(IndexLocation::Start),
        _ => None,
    }
}

fn shard_profile(config: &Value, data_type: DataType) -> Option<ShardProfile> {
    let (bytes, codecs) = config["codecs"].as_array()?.split_first()?;
    if !is_little_bytes(bytes, data_type) {
        return None;
    }
    let index_location = standard_index_location(config)?;
    Some(ShardProfile {
        codecs: codecs.to_vec(),
        index_location,
    })
}

/// What a new profile array looks like; [`build_array_document`] turns it into `zarr.json`.
#[derive(Debug, Clone)]
pub(crate) struct NewArrayMeta<'a> {
    /// Element type.
    pub data_type: DataType,
    /// Fill value (of `data_type`).
    pub fill_value: &'a FillValue,
    /// Shape, chunk and shard shapes.
    pub grid: &'a ChunkGrid,
    /// The inner-chunk codecs after `bytes` (a codec's `ChunkCodec::metadata`).
    pub codecs: &'a [Value],
    /// User attributes.
    pub attributes: &'a Map<String, Value>,
    /// Optional axis names.
    pub dimension_names: Option<&'a [String]>,
}

/// The `bytes` codec (little endian; single-byte types need no endianness) that every
/// profile array's chunks start with.
pub(crate) fn bytes_codec(data_type: DataType) -> Value {
    if data_type.size() == 1 {
        json!({"name": "bytes"})
    } else {
        json!({"name": "bytes", "configuration": {"endian": "little"}})
    }
}

/// The `zarr.json` document of a profile array.
pub(crate) fn build_array_document(new: &NewArrayMeta<'_>) -> ArrayMetadataV3 {
    let inner: Vec<Value> = std::iter::once(bytes_codec(new.data_type))
        .chain(new.codecs.iter().cloned())
        .collect();
    let mut doc = json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": new.grid.shape(),
        "data_type": new.data_type.name(),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": new.grid.shard_shape()}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": serde_json::to_value(new.fill_value.to_metadata()).expect("serialisable"),
        "codecs": [{
            "name": "sharding_indexed",
            "configuration": {
                "chunk_shape": new.grid.chunk_shape(),
                "codecs": inner,
                "index_codecs": [bytes_codec(DataType::UInt64), {"name": "crc32c"}],
                "index_location": "end",
            }
        }],
        "attributes": new.attributes,
    });
    if let Some(names) = new.dimension_names {
        doc["dimension_names"] = json!(names);
    }
    serde_json::from_value(doc).expect("outcore writes valid Zarr v3 array metadata")
}

/// The `zarr.json` text of an array document.
pub(crate) fn array_document_text(doc: &ArrayMetadataV3) -> String {
    doc.to_string_pretty()
}

/// The `zarr.json` text of a group with these attributes.
pub(crate) fn group_document_text(attributes: Map<String, Value>) -> String {
    GroupMetadataV3::new()
        .with_attributes(attributes)
        .to_string_pretty()
}

/// The key of a root group's consolidated metadata: the `zarr.json` of every node below it.
pub(crate) const CONSOLIDATED_METADATA: &str = "consolidated_metadata";

/// The `consolidated_metadata` value holding `metadata`, in the form zarr-python 3 writes:
/// `kind: "inline"`, `must_understand: false` (readers that do not know it ignore it).
fn consolidated_entry(metadata: Map<String, Value>) -> Value {
    json!({"kind": "inline", "must_understand": false, "metadata": metadata})
}

/// The text of the root group document `root` with the consolidated metadata of `nodes`
/// (path inside the store, `zarr.json` document; the root itself excluded). A group among
/// them carries an empty consolidated entry of its own, as zarr-python writes it.
pub(crate) fn consolidated_root_text(mut root: Value, nodes: Vec<(String, Value)>) -> String {
    let mut metadata = Map::new();
    for (path, mut doc) in nodes {
        if doc.get("node_type").and_then(Value::as_str) == Some("group") {
            doc[CONSOLIDATED_METADATA] = consolidated_entry(Map::new());
        }
        metadata.insert(path, doc);
    }
    root[CONSOLIDATED_METADATA] = consolidated_entry(metadata);
    serde_json::to_string_pretty(&root).expect("a JSON value serialises")
}

/// The names outcore gives axes that have none: `dim_0`, `dim_1`, … (xarray's own default).
pub(crate) fn default_dimension_names(ndim: usize) -> Vec<String> {
    (0..ndim).map(|i| format!("dim_{i}")).collect()
}

/// The attribute in which Zarr v2 writers (xarray) keep an array's axis names.
pub(crate) const V2_DIMENSIONS_ATTRIBUTE: &str = "_ARRAY_DIMENSIONS";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_document_is_on_the_profile() {
        let grid = ChunkGrid::new(&[100, 30], &[10, 10], &[50, 30], 8).unwrap();
        let fill = FillValue::of(f64::NAN);
        let attrs = Map::new();
        let zstd = json!({"name": "zstd", "configuration": {"level": 3, "checksum": false}});
        for codecs in [vec![], vec![zstd]] {
            let doc = build_array_document(&NewArrayMeta {
                data_type: DataType::Float64,
                fill_value: &fill,
                grid: &grid,
                codecs: &codecs,
                attributes: &attrs,
                dimension_names: None,
            });
            let text = array_document_text(&doc);
            let meta = parse_array(text.as_bytes(), Path::new("t/zarr.json")).unwrap();
            assert_eq!(meta.grid, grid);
            assert_eq!(meta.data_type, DataType::Float64);
            assert_eq!(meta.fill_value, fill);
            assert_eq!(
                meta.profile,
                Some(ShardProfile {
                    codecs,
                    index_location: IndexLocation::End
                })
            );
        }
    }

    #[test]
    fn key_encodings() {
        assert_eq!(ChunkKeyEncoding::DEFAULT.key(&[1, 2]), "c/1/2");
        let v2 = ChunkKeyEncoding {
            prefix_c: false,
            separator: '.',
        };
        assert_eq!(v2.key(&[1, 2]), "1.2");
        assert_eq!(v2.key(&[]), "0");
        assert_eq!(ChunkKeyEncoding::DEFAULT.key(&[]), "c");
    }

    #[test]
    fn malformed_documents_are_typed_errors() {
        let p = Path::new("x/zarr.json");
        assert!(matches!(
            parse_array(b"{not json", p),
            Err(FormatError::MalformedMetadata { .. })
        ));
        let complex = br#"{"zarr_format":3,"node_type":"array","shape":[4],"data_type":"complex64",
            "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[2]}},
            "chunk_key_encoding":{"name":"default"},"fill_value":[0.0,0.0],
            "codecs":[{"name":"bytes","configuration":{"endian":"little"}}]}"#;
        assert!(matches!(
            parse_array(complex, p),
            Err(FormatError::UnsupportedDataType { .. })
        ));
        let overflow = br#"{"zarr_format":3,"node_type":"array","shape":[18446744073709551615, 4],"data_type":"uint8",
            "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[2, 2]}},
            "chunk_key_encoding":{"name":"default"},"fill_value":0,
            "codecs":[{"name":"bytes"}]}"#;
        assert!(matches!(
            parse_array(overflow, p),
            Err(FormatError::InvalidShape { .. })
        ));
    }
}
