//! A group of 1-d columns of one length — what a CSV conversion writes — used as a table:
//! columns by name, a boolean filter applied to every column at once, and grouping on
//! columns (pandas' `df[mask]` and `df.groupby(...)`), all lazy over the stored columns.

use crate::error::{argument, shape_mismatch, type_mismatch, Result};
use crate::exec::{extract_each, GroupBy};
use crate::expr::LazyArray;
use crate::store::Store;
use crate::{DataType, ErrorKind};

/// The columns of a group of a store, each a lazy array of the same length (a CSV
/// conversion's group): a dataframe whose columns stay on disk.
///
/// ```
/// use outcore::convert::Table;
/// use outcore::{ndarray::array, Agg, ArraySpec, DataType, LazyArray, Store};
///
/// # fn main() -> outcore::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::create(dir.path().join("trips.zarr"))?;
/// let distance = LazyArray::from_array(array![1.0, 12.5, 30.0, 0.5], &[2])?;
/// let payment = LazyArray::from_array(array![0i8, 1, 1, -1], &[2])?;
/// distance.to_store(&store, "trips/distance", &ArraySpec::new(DataType::Float64, &[4]))?;
/// payment.to_store(&store, "trips/payment", &ArraySpec::new(DataType::Int8, &[4]))?;
///
/// let trips = Table::open(&store, "trips")?;
/// let long = trips.filter(&trips.column("distance")?.greater(10.0)?)?; // df[df.distance > 10]
/// assert_eq!(long.rows(), 2);
/// let per_payment = long.group_by(&["payment"], "distance")?.agg(&[Agg::NanMean])?;
/// assert_eq!(per_payment.keys(0), &[1]);
/// assert_eq!(per_payment.to_ndarray::<f64>(Agg::NanMean)?[[0]], 21.25);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    names: Vec<String>,
    columns: Vec<LazyArray>,
    categories: Vec<Option<Vec<String>>>,
    rows: u64,
}

impl Table {
    /// The 1-d arrays directly inside the group `group` of `store`, in the CSV's column order
    /// (their `csv_column` attribute) and then by name; a column with the attribute
    /// `categories` (a CSV category column) keeps its names, and its code -1 is a missing
    /// value.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] when the group holds no array; [`ErrorKind::ShapeMismatch`]
    /// when an array is not 1-d or not of the others' length (a CSV conversion's matrix is one
    /// 2-d array, not a table); any error listing the store or opening an array.
    ///
    /// [`ErrorKind::NotFound`]: crate::ErrorKind::NotFound
    /// [`ErrorKind::ShapeMismatch`]: crate::ErrorKind::ShapeMismatch
    pub fn open(store: &Store, group: &str) -> Result<Table> {
        let prefix = if group.is_empty() {
            String::new()
        } else {
            format!("{}/", group.trim_end_matches('/'))
        };
        let mut found = Vec::new();
        for path in store.arrays()? {
            let Some(name) = path.strip_prefix(&prefix) else {
                continue;
            };
            if name.is_empty() || name.contains('/') {
                continue;
            }
            let array = store.open_array(&path)?;
            let attributes = array.meta().attributes();
            let position = attributes.get("csv_column").and_then(|v| v.as_u64());
            let categories = attributes
                .get("categories")
                .and_then(|c| c.as_array())
                .map(|names| {
                    names
                        .iter()
                        .map(|n| n.as_str().unwrap_or_default().to_string())
                        .collect()
                });
            found.push((position, name.to_string(), array, categories));
        }
        found.sort_by(|a, b| (a.0.is_none(), a.0, &a.1).cmp(&(b.0.is_none(), b.0, &b.1)));
        let Some(first) = found.first() else {
            return Err(argument(
                ErrorKind::NotFound,
                format!("table: the group {group:?} holds no arrays"),
            ));
        };
        let rows = first.2.shape().first().copied().unwrap_or(0);
        let mut table = Table {
            names: Vec::new(),
            columns: Vec::new(),
            categories: Vec::new(),
            rows,
        };
        for (_, name, array, categories) in found {
            if array.shape() != [rows] {
                return Err(shape_mismatch(format!(
                    "table: the array {prefix}{name} has shape {:?}; a table's columns are 1-d \
                     arrays of one length ({rows})",
                    array.shape()
                )));
            }
            table.names.push(name);
            table.columns.push(LazyArray::from_stored(&array));
            table.categories.push(categories);
        }
        Ok(table)
    }

    /// The number of rows.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The columns' names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn position(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            argument(
                ErrorKind::NotFound,
                format!(
                    "table: no column {name:?}; the columns are {}",
                    self.names.join(", ")
                ),
            )
        })
    }

    /// The column `name`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound), listing the columns there are.
    pub fn column(&self, name: &str) -> Result<&LazyArray> {
        Ok(&self.columns[self.position(name)?])
    }

    /// The category names of column `name` (indexed by its codes), if it is a category
    /// column.
    pub fn categories(&self, name: &str) -> Option<&[String]> {
        let i = self.names.iter().position(|n| n == name)?;
        self.categories[i].as_deref()
    }

    /// The rows where `mask` is true, in every column (pandas' `df[mask]`): each column is
    /// [`LazyArray::extract`] of the mask. The result's length depends on the mask, so this
    /// reads the mask now, counting its true values once for all the columns that share
    /// their chunks (one pass, one count per block kept); the columns stay lazy, each block of
    /// a filtered column reading only the stored blocks that hold its rows.
    ///
    /// # Errors
    /// [`ErrorKind::TypeMismatch`](crate::ErrorKind::TypeMismatch) for a mask that is not
    /// bool; [`ErrorKind::ShapeMismatch`](crate::ErrorKind::ShapeMismatch) for one that is
    /// not `[rows]`; any error evaluating the mask.
    pub fn filter(&self, mask: &LazyArray) -> Result<Table> {
        mask.built()?;
        if mask.data_type() != DataType::Bool {
            return Err(type_mismatch(format!(
                "table filter: the mask holds {}, not bool",
                mask.data_type()
            )));
        }
        if mask.shape() != [self.rows] {
            return Err(shape_mismatch(format!(
                "table filter: the mask has shape {:?}, the table {} rows",
                mask.shape(),
                self.rows
            )));
        }
        let columns = extract_each(&self.columns, mask)?;
        let rows = columns.first().map_or(0, |c| c.shape()[0]);
        Ok(Table {
            names: self.names.clone(),
            columns,
            categories: self.categories.clone(),
            rows,
        })
    }

    /// Column `values` grouped by the columns `keys` (pandas'
    /// `df.groupby(keys)[values]`): the keys are named after their columns, category keys
    /// are labelled with their names and their missing code -1 is left out.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for a column the table lacks;
    /// the errors of [`LazyArray::group_by_keys`] (a float key column).
    pub fn group_by(&self, keys: &[&str], values: &str) -> Result<GroupBy<'static>> {
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| self.position(k))
            .collect::<Result<_>>()?;
        let key_columns: Vec<&LazyArray> = positions.iter().map(|&i| &self.columns[i]).collect();
        let mut grouping = self
            .column(values)?
            .group_by_keys(&key_columns)?
            .key_names(keys);
        for (k, &i) in positions.iter().enumerate() {
            if let Some(names) = &self.categories[i] {
                grouping = grouping.labels(k, names.clone()).missing_key(k, -1);
            }
        }
        Ok(grouping)
    }
}
