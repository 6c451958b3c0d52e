//! The Schema Registry's public contract: the JSON of seed 001 as Rust types.
//!
//! A request ([`request::SchemaRequest`]) carries a table definition
//! ([`table::TableSchema`]) whose column types are parsed PostgreSQL names
//! ([`types::ColumnType`]). Requests move through [`status::RequestStatus`]. The policy
//! engine answers with [`violation::Violation`]s and the generator with a
//! [`violation::MigrationPreview`]. The naming convention ([`naming`]), the safe SQL
//! expression subset ([`expr`]) and the table's named objects ([`objects`]) live here so
//! that `policy` and `ddl-gen` share them without depending on each other.
//!
//! This crate does no I/O.

pub mod change;
pub mod environment;
pub mod error;
pub mod expr;
pub mod naming;
pub mod objects;
pub mod request;
pub mod statement;
pub mod status;
pub mod table;
pub mod types;
pub mod violation;

#[cfg(test)]
mod tests;
