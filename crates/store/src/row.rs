//! Reading columns without panicking. A value of the wrong type (a word where
//! a number belongs) or an empty one where a value is required can only come
//! from a file edited by hand; it becomes [`StoreError::Malformed`], naming
//! what was being read and the column, so the screen shows an error instead
//! of the command dying with the UI still waiting for it.

use sqlx::sqlite::{Sqlite, SqliteRow};
use sqlx::{Column, Decode, Row, Type, TypeInfo, ValueRef};

use crate::error::{Result, StoreError};

/// The types of columns that must hold a value. A column that may be NULL
/// is read with [`Fields::opt`]; sqlx would otherwise read NULL as 0 or "".
pub(crate) trait Required {}
impl Required for i64 {}
impl Required for f64 {}
impl Required for bool {}
impl Required for String {}
impl Required for &str {}

pub(crate) trait RowExt {
    /// This row's columns, read as `what` (e.g. "a deployment"), the name
    /// its errors give.
    fn fields(&self, what: &'static str) -> Fields<'_>;
}

impl RowExt for SqliteRow {
    fn fields(&self, what: &'static str) -> Fields<'_> {
        Fields { row: self, what }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Fields<'r> {
    row: &'r SqliteRow,
    what: &'static str,
}

impl<'r> Fields<'r> {
    /// Column `index`, which must hold a value of `T`'s type.
    pub(crate) fn col<T>(&self, index: usize) -> Result<T>
    where
        T: Decode<'r, Sqlite> + Type<Sqlite> + Required,
    {
        self.opt(index)?.ok_or_else(|| {
            self.malformed(
                index,
                format!("is empty where {} is required", T::type_info().name()),
            )
        })
    }

    /// Column `index`, which may be NULL.
    pub(crate) fn opt<T>(&self, index: usize) -> Result<Option<T>>
    where
        T: Decode<'r, Sqlite> + Type<Sqlite> + Required,
    {
        self.row
            .try_get::<Option<T>, _>(index)
            .map_err(|err| match err {
                sqlx::Error::ColumnDecode { source, .. } => {
                    let held = self
                        .row
                        .try_get_raw(index)
                        .ok()
                        .filter(|v| !v.is_null())
                        .map(|v| v.type_info().into_owned())
                        .filter(|ty| !T::compatible(ty));
                    let detail = match held {
                        Some(ty) => format!(
                            "holds {} where {} is expected",
                            ty.name(),
                            T::type_info().name()
                        ),
                        None => format!("cannot be read: {source}"),
                    };
                    self.malformed(index, detail)
                }
                // A column that is not there is a mistake in the query, not in the file.
                other => StoreError::Database(other),
            })
    }

    fn malformed(&self, index: usize, problem: String) -> StoreError {
        let column = self
            .row
            .columns()
            .get(index)
            .map_or_else(|| format!("column {index}"), |c| c.name().to_owned());
        StoreError::Malformed {
            what: self.what,
            detail: format!("its {column} {problem}"),
        }
    }
}
