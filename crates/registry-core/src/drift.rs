//! Drift: how a live table (read through `pg-introspect` and mapped into the model) differs
//! from the version the registry has for it, compared in PostgreSQL's terms, each
//! difference said as the change that would bring the live table to the registry's version.

use schema_model::naming::NamingOptions;
use schema_model::table::TableSchema;

/// Every difference between the registry's version `expected` and the `live` table, in
/// words (empty when they are the same table). `naming` is what the version's migrations
/// were generated with.
pub fn differences(expected: &TableSchema, live: &TableSchema, naming: &NamingOptions) -> Vec<String> {
    // The live table has no renames to declare: compare it as the same table.
    let mut live = live.clone();
    if live.table_name != expected.table_name {
        return vec![format!("the table is named {} there, not {}", live.table_name, expected.table_name)];
    }
    live.renamed_from = None;
    match schema_diff::diff(&live, &expected.without_renames(), naming) {
        Ok(changes) => changes.iter().map(schema_model::change::Change::describe).collect(),
        Err(error) => vec![error.to_string()],
    }
}
