//! `change.narrows-type`

use schema_model::change::Change;
use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A narrower type may not hold the values the column has.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "change.narrows-type",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a column type change to a type that may not hold every value of the old one (a shorter `varchar`, fewer digits, a smaller integer, text to a bounded type, or an unrelated type).",
        why: "PostgreSQL rewrites the whole table under an exclusive lock to convert the values, blocking every read and write for as long as that takes, and fails the change (after all that time) at the first value that does not fit.",
        fix: "Add a new column of the new type, copy and convert the values in batches (deciding what to do with those that do not fit), move readers and writers over, then drop the old column.",
    },
    fires: &[Firing {
        input: r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "varchar(50)"}, {"name": "visits", "type": "smallint"}]}"#,
        at: &["columns[1].type", "columns[2].type"],
    }],
    passes: &[
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "varchar(200)"}, {"name": "visits", "type": "integer"}]}"#,
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "text"}, {"name": "visits", "type": "bigint"}]}"#,
    ],
    environment: None,
    base: Some(
        r#"{"tableName": "users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "email", "type": "varchar(100)"}, {"name": "visits", "type": "integer"}]}"#,
    ),
    source: file!(),
    check: Check::Table(check),
};

/// Whether every value of `from` fits `to` (whether or not PostgreSQL rewrites for it).
pub(crate) fn widens(from: &ColumnType, to: &ColumnType) -> bool {
    use ColumnType::{BigInt, Char, Date, DoublePrecision, Integer, Numeric, Real, SmallInt, Text, Timestamp, Varchar};
    if from.changes_in_place_to(to) {
        return true;
    }
    match (from, to) {
        (SmallInt, Integer | BigInt | Numeric { precision: None, .. })
        | (Integer, BigInt | Numeric { precision: None, .. })
        | (BigInt, Numeric { precision: None, .. })
        | (Real, DoublePrecision)
        | (Char(_), Text | Varchar(None))
        | (Date, Timestamp { .. }) => true,
        (Char(Some(n)), Varchar(Some(m))) => m >= n,
        (Numeric { precision: Some(p1), scale: s1 }, Numeric { precision: Some(p2), scale: s2 }) => {
            let (s1, s2) = (s1.unwrap_or(0), s2.unwrap_or(0));
            s2 >= s1 && p2.saturating_sub(s2) >= p1.saturating_sub(s1)
        }
        _ => false,
    }
}

fn check(ctx: &mut Context<'_>) {
    let Some(view) = ctx.change else { return };
    for change in view.changes {
        if let Change::ChangeType { column, from, to } = change
            && !widens(from, to)
        {
            ctx.report(
                ctx.path_of_change(change),
                format!("Column \"{column}\" changes from {from} to {to}, which may not hold its values: PostgreSQL rewrites the table under an exclusive lock and fails at the first value that does not fit"),
                "Add a new column of the new type, copy and convert in batches, move readers and writers over, then drop the old one".to_owned(),
            );
        }
    }
}
