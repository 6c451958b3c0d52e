//! SQL in: migration files and schema dumps read into the registry's model.
//!
//! [`scan`] splits text into statements with exact spans (psql meta-commands and `COPY`
//! data kept apart, quotes, dollar quotes and comments stepped over whole); [`parse`] reads
//! each statement with sqlparser's PostgreSQL dialect on its own, so that one statement it
//! rejects never hides the others, and names a rejected one by its leading keywords;
//! [`replay`] plays the statements, in order, into a [`schema_model::change::Schema`] and
//! lists what the model cannot hold; [`parallel`] shares work out over the cores; [`tokens`] reads the common statements' tokens for
//! sqlparser faster than its own tokenizer, exactly as it would. Pure: text in, model out;
//! the caller reads the files.

pub(crate) mod facts;
pub mod layout;
pub mod parallel;
pub mod parse;
pub mod replay;
pub mod scan;
pub mod tokens;
