//! `naming.table-snake-case`

use schema_model::naming::{is_snake_case, to_snake_case};
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Table names are lower `snake_case`.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "naming.table-snake-case",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table name that is not lower `snake_case`: a lower-case letter first, then lower-case letters, digits and single underscores.",
        why: "PostgreSQL folds unquoted names to lower case, so a name such as `UserProfiles` must be double-quoted in every query forever, and `userprofiles` silently names a different table. Seeds 001 and 002 both ask for snake_case names.",
        fix: "Rename the table in lower snake_case, for example `user_profiles` instead of `UserProfiles` or `user-profiles`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "UserProfiles", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["tableName"],
        },
        Firing {
            input: r#"{"tableName": "user-profiles", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["tableName"],
        },
        Firing {
            input: r#"{"tableName": "app__users", "schemaJson": {"tableName": "app__users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}}"#,
            at: &["schemaJson.tableName"],
        },
    ],
    passes: &[
        r#"{"tableName": "user_profiles", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
        r#"{"tableName": "app_users2", "columns": [{"name": "ID", "type": "uuid", "primaryKey": true}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    let name = &ctx.table.table_name;
    if is_snake_case(name) {
        return;
    }
    let snake = to_snake_case(name);
    let suggestion = if is_snake_case(&snake) {
        format!("Rename the table to \"{snake}\"")
    } else {
        "Rename the table using lower-case letters, digits and single underscores, starting with a letter".to_owned()
    };
    ctx.report(ctx.path("tableName"), format!("Table name \"{name}\" is not lower snake_case"), suggestion);
}
