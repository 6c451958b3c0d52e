//! An imported schema written back as SQL: the CREATE script the registry's generator writes
//! for it, tables ordered so that every table comes after the tables it refers to, and the
//! foreign keys added after all of them.

use std::fmt::Write as _;

use ddl_parse::replay::Extension;
use schema_model::environment::GenerationInputs;
use schema_model::naming::NamingOptions;
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
use schema_model::table::{EnumType, TableSchema};

/// The script, and the tables the generator refused (`schema.table: why`), each also noted
/// in the script where it would have been. `extensions` (those the imported files
/// installed) come first, with the one a default names by its schema
/// (`public.uuid_generate_v1mc()`) added when the files did not install it.
pub fn create_script(tables: &[&TableSchema], shared: &[EnumType], extensions: &[Extension]) -> (String, Vec<String>) {
    let mut script = String::new();
    let mut unwritten = Vec::new();
    let mut extensions = extensions.to_vec();
    for column in tables.iter().flat_map(|t| &t.columns) {
        if let Some((name, schema)) = column.default_value.as_deref().and_then(schema_model::expr::extension_of_default)
            && !extensions.iter().any(|e| e.name == name)
        {
            extensions.push(Extension { name: name.to_owned(), schema: Some(schema) });
        }
    }
    // The schemas the tables and extensions live in (the registry's scripts expect them).
    let mut schemas: Vec<&str> = tables
        .iter()
        .map(|t| t.schema_name())
        .chain(extensions.iter().filter_map(|e| e.schema.as_deref()))
        .filter(|s| !["public", "pg_catalog"].contains(s))
        .collect();
    schemas.sort_unstable();
    schemas.dedup();
    for schema in schemas {
        let _ = writeln!(script, "CREATE SCHEMA IF NOT EXISTS {};", ddl_gen::pg::quote_ident(schema));
    }
    for extension in &extensions {
        let _ = write!(script, "CREATE EXTENSION IF NOT EXISTS {}", ddl_gen::pg::quote_ident(&extension.name));
        if let Some(schema) = &extension.schema {
            let _ = write!(script, " WITH SCHEMA {}", ddl_gen::pg::quote_ident(schema));
        }
        script.push_str(";\n");
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
    // Foreign keys are added once every table exists, as pg_dump does: tables that refer to
    // each other can be created, and a table whose referenced table cannot be keeps the rest.
    let mut foreign_keys = Vec::new();
    for table in creation_order(tables) {
        let objects = TableObjects::of_table(table, "", &inputs.naming);
        let mut without_keys = table.clone();
        without_keys.foreign_keys.clear();
        for column in &mut without_keys.columns {
            column.references = None;
        }
        let request = SchemaRequest::bare(without_keys);
        match ddl_gen::generate_with(&request, &inputs) {
            Ok(preview) => {
                script.push_str(&preview.up_sql);
                script.push('\n');
                let table_ref = ddl_gen::pg::qualified(Some(table.schema_name()), &table.table_name);
                for fk in &objects.foreign_keys {
                    let definition = ddl_gen::alter::foreign_key_definition(fk, table.schema_name());
                    foreign_keys.push(ddl_gen::pg::add_constraint_guarded(&table_ref, &fk.name, &definition));
                }
            }
            Err(error) => {
                let _ =
                    writeln!(script, "-- table {}.{} not written: {error}\n", table.schema_name(), table.table_name);
                unwritten.push(format!("{}.{}: {error}", table.schema_name(), table.table_name));
            }
        }
    }
    for statement in foreign_keys {
        script.push_str(&statement);
        script.push_str(";\n");
    }
    (script, unwritten)
}

/// The tables with every one after those it refers to (given order otherwise; a cycle is
/// broken at its first table).
fn creation_order<'a>(tables: &[&'a TableSchema]) -> Vec<&'a TableSchema> {
    let refers_to = |table: &TableSchema, other: &TableSchema| !std::ptr::eq(table, other) && table.refers_to(other);
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
        let (script, unwritten) = create_script(&[&child, &parent], &[], &[]);
        assert!(unwritten.is_empty(), "{unwritten:?}");
        let parent_at = script.find(r#"CREATE TABLE IF NOT EXISTS "public"."parent""#).expect("parent");
        let child_at = script.find(r#"CREATE TABLE IF NOT EXISTS "public"."child""#).expect("child");
        assert!(parent_at < child_at, "{script}");
        let key_at = script.find(r#"ADD CONSTRAINT "fk_child_parent_id_parent" FOREIGN KEY ("parent_id") REFERENCES "public"."parent" ("id")"#).expect("key");
        assert!(child_at < key_at, "the key after both tables: {script}");
        assert!(!script[child_at..key_at].contains("REFERENCES"), "{script}");
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
                deferrable: None,
            });
            TableSchema {
                columns: vec![Column { primary_key: true, ..Column::new("id", ColumnType::Integer) }, parent_id],
                ..TableSchema::new("child")
            }
        }
    }
}
