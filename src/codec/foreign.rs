//! The general path: arrays outside outcore's fast-path profile (other codecs such as blosc,
//! gzip or transpose, unsharded arrays, Zarr v2) are read through the zarrs crate.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zarrs::array::{
    Array as ZarrsArray, ArrayBytes, ArrayMetadata, ArrayMetadataOptions, ArraySubset,
};
use zarrs::config::MetadataConvertVersion;
use zarrs::filesystem::FilesystemStore;
use zarrs::metadata::v3::ArrayMetadataV3;

use crate::error::{Error, Result};

/// An array opened through zarrs.
pub(crate) struct ForeignArray {
    array: ZarrsArray<FilesystemStore>,
    /// The directory named in errors.
    dir: PathBuf,
    /// The path zarrs reads through (a path that names the reader's generation).
    files: PathBuf,
}

impl std::fmt::Debug for ForeignArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ForeignArray({})", self.dir.display())
    }
}

/// Wraps an error zarrs returned with the array directory and what outcore was doing.
fn foreign_err<E: std::error::Error + Send + Sync + 'static>(
    dir: &Path,
    context: impl Into<String>,
) -> impl FnOnce(E) -> Error + '_ {
    let context = context.into();
    move |source| Error::Foreign {
        path: dir.to_owned(),
        context,
        source: Box::new(source),
    }
}

impl ForeignArray {
    /// Opens the array in directory `files` (Zarr v2 or v3), which errors call `dir`, and
    /// returns its metadata as a v3 document (zarrs converts v2 metadata).
    pub(crate) fn open(files: &Path, dir: &Path) -> Result<(ArrayMetadataV3, Self)> {
        let store = FilesystemStore::new(files).map_err(foreign_err(dir, "opening the store"))?;
        let array = ZarrsArray::open(Arc::new(store), "/")
            .map_err(foreign_err(dir, "opening the array"))?;
        let options = ArrayMetadataOptions::default()
            .with_metadata_convert_version(MetadataConvertVersion::V3)
            .with_include_zarrs_metadata(false);
        let document = match array.metadata_opt(&options) {
            ArrayMetadata::V3(v3) => v3,
            ArrayMetadata::V2(_) => {
                return Err(crate::error::unsupported(format!(
                    "{}: zarrs could not convert the v2 metadata to v3",
                    dir.display()
                )))
            }
        };
        Ok((
            document,
            Self {
                array,
                dir: dir.to_owned(),
                files: files.to_owned(),
            },
        ))
    }

    /// The elements of `region` (inside the array), in C order, as host-order bytes.
    pub(crate) fn read_region(&self, region: &[Range<u64>]) -> Result<Vec<u8>> {
        let subset = ArraySubset::new_with_ranges(region);
        let bytes: ArrayBytes<'static> = self
            .array
            .retrieve_array_subset(&subset)
            .map_err(foreign_err(&self.dir, format!("reading {region:?}")))?;
        let fixed = bytes
            .into_fixed()
            .map_err(foreign_err(&self.dir, format!("reading {region:?}")))?;
        Ok(fixed.into_owned())
    }

    /// The path of the file holding outer chunk (or shard) `coords`.
    pub(crate) fn chunk_file(&self, coords: &[u64]) -> PathBuf {
        self.files.join(self.array.chunk_key(coords).as_str())
    }
}
