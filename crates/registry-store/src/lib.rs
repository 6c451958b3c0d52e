//! Schema Registry persistence, and the local PostgreSQL cluster helper
//! ([`cluster`]) that tests across the workspace use to get a real server and
//! that the registry server will use as its embedded default database.

pub mod check;
pub mod cluster;
