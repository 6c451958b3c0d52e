//! `statement.drops-data`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags `DROP TABLE`, `ALTER TABLE … DROP COLUMN`, `TRUNCATE` and `CASCADE` on what existed before the file.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.drops-data",
    default_severity: Severity::Warning,
    strict_severity: Some(Severity::Error),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `DROP TABLE`, `ALTER TABLE … DROP COLUMN`, `TRUNCATE` and `CASCADE` on what existed before the file.",
        why: "The rows or values are gone when the migration commits, and its down migration cannot bring them back; CASCADE also drops whatever depends on the object, unseen.",
        fix: "Stop using the data first, keep a copy if it matters, and drop it in a migration of its own; name dependent objects instead of CASCADE.",
    },
    fires: &[Firing {
        input: "DROP TABLE old_sessions CASCADE;\nALTER TABLE users DROP COLUMN legacy_flag;\nTRUNCATE audit_log;",
        at: &["line 1", "line 2", "line 3"],
    }],
    passes: &["CREATE TABLE tmp (id int);\nDROP TABLE tmp;"],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    let what = match &ctx.statement.action {
        StatementAction::DropTable { cascade, .. } => {
            format!(
                "Dropping {} destroys its rows{}",
                table(ctx),
                if *cascade { ", and CASCADE drops what depends on it" } else { "" }
            )
        }
        StatementAction::DropColumn { column, cascade } => format!(
            "Dropping column \"{column}\" of {} destroys its values{}",
            table(ctx),
            if *cascade { ", and CASCADE drops what depends on it" } else { "" }
        ),
        StatementAction::Truncate => format!("TRUNCATE empties {}", table(ctx)),
        _ => return,
    };
    if !ctx.statement.table_created_in_file {
        ctx.report(
            what,
            "Drop data in a migration of its own, once nothing uses it and a copy is kept if needed".to_owned(),
        );
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
