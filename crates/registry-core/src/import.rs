//! An imported schema written back as SQL: the CREATE script the registry's generator writes
//! for it, tables ordered so that every table comes after the tables it refers to.

use std::fmt::Write as _;

use schema_model::environment::GenerationInputs;
use schema_model::naming::NamingOptions;
use schema_model::request::SchemaRequest;
use schema_model::table::{EnumType, TableSchema};

/// The script, and the tables the generator refused (`schema.table: why`), each also noted
/// in the script where it would have been.
pub fn create_script(tables: &[&TableSchema], shared: &[EnumType]) -> (String, Vec<String>) {
    let mut script = String::new();
    let mut unwritten = Vec::new();
    // The schemas the tables live in (the registry's scripts expect them to exist).
    let mut schemas: Vec<&str> = tables.iter().map(|t| t.schema_name()).filter(|s| *s != "public").collect();
    schemas.sort_unstable();
    schemas.dedup();
    for schema in schemas {
        let _ = writeln!(script, "CREATE SCHEMA IF NOT EXISTS {};", ddl_gen::pg::quote_ident(schema));
    }
    for enum_type in shared {
        let labels: Vec<String> = enum_type.values.iter().map(|v| ddl_gen::pg::string_literal(v)).collect();
        let _ = writeln!(
            script,
            "CREATE TYPE {} AS ENUM ({});",
            ddl_gen::pg::quote_ident(&enum_type.name),
            labels.join(", ")
        );
    }
    let mut inputs = GenerationInputs::with_naming(&NamingOptions::default());
    inputs.shared_enums = shared.iter().map(|e| e.name.clone()).collect();
    for table in creation_order(tables) {
        let request = SchemaRequest::bare(table.clone());
        match ddl_gen::generate_with(&request, &inputs) {
            Ok(preview) => {
                script.push_str(&preview.up_sql);
                script.push('\n');
            }
            Err(error) => {
                let _ =
                    writeln!(script, "-- table {}.{} not written: {error}\n", table.schema_name(), table.table_name);
                unwritten.push(format!("{}.{}: {error}", table.schema_name(), table.table_name));
            }
        }
    }
    (script, unwritten)
}

/// The tables with every one after those it refers to (given order otherwise; a cycle is
/// broken at its first table).
fn creation_order<'a>(tables: &[&'a TableSchema]) -> Vec<&'a TableSchema> {
    let refers_to = |table: &TableSchema, other: &TableSchema| {
        let names_other = |schema: Option<&String>, name: &str| {
            name == other.table_name && schema.map_or(table.schema_name(), String::as_str) == other.schema_name()
        };
        !std::ptr::eq(table, other)
            && (table
                .columns
                .iter()
                .any(|c| c.references.as_ref().is_some_and(|r| names_other(r.schema.as_ref(), &r.table)))
                || table.foreign_keys.iter().any(|fk| names_other(fk.references.schema.as_ref(), &fk.references.table)))
    };
    let mut left: Vec<&TableSchema> = tables.to_vec();
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let next = left.iter().position(|t| !left.iter().any(|o| refers_to(t, o))).unwrap_or(0);
        ordered.push(left.remove(next));
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referenced_tables_come_first() {
        let child: TableSchema = tables::child();
        let parent = TableSchema {
            columns: vec![schema_model::table::Column {
                primary_key: true,
                ..schema_model::table::Column::new("id", schema_model::types::ColumnType::Integer)
            }],
            ..TableSchema::new("parent")
        };
        let (script, unwritten) = create_script(&[&child, &parent], &[]);
        assert!(unwritten.is_empty(), "{unwritten:?}");
        let parent_at = script.find(r#"CREATE TABLE IF NOT EXISTS "public"."parent""#).expect("parent");
        let child_at = script.find(r#"CREATE TABLE IF NOT EXISTS "public"."child""#).expect("child");
        assert!(parent_at < child_at, "{script}");
    }

    mod tables {
        use schema_model::table::{Column, ColumnReference, TableSchema};
        use schema_model::types::ColumnType;

        pub(super) fn child() -> TableSchema {
            let mut parent_id = Column::new("parent_id", ColumnType::Integer);
            parent_id.references = Some(ColumnReference {
                schema: None,
                table: "parent".to_owned(),
                column: "id".to_owned(),
                on_delete: None,
                on_update: None,
                name: None,
            });
            TableSchema {
                columns: vec![Column { primary_key: true, ..Column::new("id", ColumnType::Integer) }, parent_id],
                ..TableSchema::new("child")
            }
        }
    }
}
