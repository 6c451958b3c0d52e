//! The Schema Registry binary's library: the HTTP API ([`server`]), the server start-up
//! ([`serve`]), the command line ([`cli`]) with its client ([`client`]) and its database commands ([`admin`]), and the reports it
//! prints ([`report`]). It is the only crate that knows about HTTP and the command line.

pub mod admin;
pub mod cli;
pub mod client;
pub mod report;
pub mod serve;
pub mod server;
