//! The Schema Registry binary's library: the HTTP API ([`server`]) and its start-up
//! ([`serve`]); the command line ([`cli`]) with its client ([`client`]), its database
//! commands ([`admin`]), its commands for living tables ([`tables`]), its commands that read
//! SQL files ([`sql_files`]) and the reports it prints ([`report`]); and the settings both sides read ([`settings`]), so that the
//! server and the command line never import each other. It is the only crate that knows
//! about HTTP and the command line.

pub mod admin;
pub mod cli;
pub mod client;
pub mod report;
pub mod serve;
pub mod server;
pub mod settings;
pub mod sql_files;
pub mod tables;
