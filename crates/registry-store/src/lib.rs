//! Schema Registry persistence on PostgreSQL.
//!
//! [`store::Store`] keeps requests, their migrations, the append-only audit log and the
//! catalog in the `registry` schema ([`schema`] creates and upgrades it), and applies
//! approved migrations to target databases exactly once ([`apply`]). [`embedded`] runs the
//! server's default database on a local cluster from `pg-cluster`.

pub mod apply;
pub mod audit;
pub mod catalog;
pub mod connect;
pub mod embedded;
pub mod environment;
pub mod error;
pub mod reference;
pub mod rehearsal;
pub mod requests;
pub mod schema;
pub mod secrets;
pub mod store;
pub mod tokens;
