//! The registry's operations composed from the pure crates, shared by every front end (the
//! command line's `check` and `lint`, the API's validation and lint, the store's request
//! creation) so they can never disagree. It does no I/O: what exists around a table is handed in.

pub mod change;
pub mod check;
pub mod drift;
pub mod import;
pub mod lint;
