//! `index.jsonb-gin`

use schema_model::table::IndexMethod;
use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// JSONB columns are queried by containment; that needs a GIN index.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "index.jsonb-gin",
    default_severity: Severity::Warning,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a `jsonb` column that no GIN index covers.",
        why: "Queries on JSONB documents (`@>`, `?`, `jsonb_path_exists`) scan the whole table without a GIN index; seed 001's indexing strategy asks for one on every JSONB column.",
        fix: "Add `{\"columns\": [\"metadata\"], \"type\": \"GIN\"}` to `indexes`, or store the value as typed columns if it is not queried.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "images", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "metadata", "type": "jsonb"}]}"#,
            at: &["columns[1]"],
        },
        Firing {
            input: r#"{"tableName": "images", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "metadata", "type": "jsonb"}], "indexes": [{"columns": ["metadata"], "type": "HASH"}]}"#,
            at: &["columns[1]"],
        },
    ],
    passes: &[
        r#"{"tableName": "images", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "metadata", "type": "jsonb"}], "indexes": [{"name": "idx_images_metadata", "columns": ["metadata"], "type": "GIN"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if column.column_type != ColumnType::Jsonb {
            continue;
        }
        let covered = ctx
            .objects
            .indexes
            .iter()
            .any(|index| index.method == IndexMethod::Gin && index.columns.contains(&column.name));
        if !covered {
            ctx.report(
                ctx.column_path(i, ""),
                format!("JSONB column \"{}\" has no GIN index", column.name),
                format!(
                    "Add {{\"name\": \"idx_{}_{}\", \"columns\": [\"{}\"], \"type\": \"GIN\"}} to indexes",
                    ctx.table.table_name, column.name, column.name
                ),
            );
        }
    }
}
