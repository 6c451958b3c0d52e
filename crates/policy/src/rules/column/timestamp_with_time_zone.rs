//! `column.timestamp-with-time-zone`

use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// `timestamp` without time zone loses the instant a value stands for.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.timestamp-with-time-zone",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `timestamp` (without time zone) columns, and `time` without time zone, including arrays of them.",
        why: "A `timestamp` stores a wall-clock reading with no zone: the same value means different instants for clients in different zones, and daylight-saving changes make values ambiguous. Seed 003 lists it first among what goes wrong in real migrations.",
        fix: "Use `timestamptz` (`timestamp with time zone`), which stores an instant and converts on display.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "happened_at", "type": "timestamp"}]}"#,
            at: &["columns[1].type"],
        },
        Firing {
            input: r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "seen", "type": "timestamp without time zone[]"}]}"#,
            at: &["columns[1].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "events", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "happened_at", "type": "TIMESTAMPTZ"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        let (kind, with_tz) = match column.column_type.element() {
            ColumnType::Timestamp { with_time_zone: false, .. } => ("timestamp", "timestamptz"),
            ColumnType::Time { with_time_zone: false, .. } => ("time", "timetz"),
            _ => continue,
        };
        ctx.report(
            ctx.column_path(i, "type"),
            format!("Column \"{}\" uses {kind} without time zone", column.name),
            format!("Use {with_tz} so the value is an instant, not a wall-clock reading"),
        );
    }
}
