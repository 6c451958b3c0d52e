//! The live catalog, read into the same table model the requests use.
//!
//! * [`read`] holds the queries (the only I/O): a table's columns, constraints, indexes,
//!   comments and enum types, and every name of a schema.
//! * [`live`] is the pure mapping from those rows to a [`live::LiveTable`]: the facts as
//!   PostgreSQL states them (`format_type`, `pg_get_expr`, `pg_get_constraintdef`,
//!   `pg_get_indexdef`) and the table as a [`schema_model::table::TableSchema`], with what
//!   the model cannot hold listed, never dropped.
//! * [`compare`] says how two live tables differ, or how a live table differs from a
//!   requested one.
//!
//! Verified apply reads the table back inside the apply transaction and compares it before
//! COMMIT; the same reader is the ground for drift detection and adoption.

pub mod compare;
pub mod live;
pub mod read;

/// Why the catalog could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading the catalog failed: {0}")]
pub struct IntrospectError(#[from] pub tokio_postgres::Error);
