//! The Schema Registry binary's library: the command line ([`cli`]) and the reports it
//! prints ([`report`]). The HTTP API will live here too; it is the only crate that knows
//! about the command line and HTTP.

pub mod cli;
pub mod report;
