//! `statement.constraint-not-valid`

use schema_model::statement::StatementAction;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Firing, RuleDef, RuleDoc, StatementContext};

/// Flags a foreign key or check added to an existing table without `NOT VALID`, and a unique or primary key added without `USING INDEX`.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "statement.constraint-not-valid",
    default_severity: Severity::Warning,
    strict_severity: Some(Severity::Error),
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a foreign key or check added to an existing table without `NOT VALID`, and a unique or primary key added without `USING INDEX`.",
        why: "Validating the new constraint scans the whole table (and for a foreign key, the referenced one) while holding a lock that blocks writes; a unique or primary key builds its index under an ACCESS EXCLUSIVE lock.",
        fix: "Add foreign keys and checks `NOT VALID`, then `VALIDATE CONSTRAINT` in a transaction of its own (it takes a lock that lets writes go on). Build a unique index `CONCURRENTLY`, then `ADD CONSTRAINT … UNIQUE USING INDEX`.",
    },
    fires: &[Firing {
        input: "ALTER TABLE orders ADD CONSTRAINT fk_orders_user_id FOREIGN KEY (user_id) REFERENCES users (id);\nALTER TABLE orders ADD CONSTRAINT uq_orders_number UNIQUE (number);",
        at: &["line 1", "line 2"],
    }],
    passes: &[
        "ALTER TABLE orders ADD CONSTRAINT fk_orders_user_id FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
        "CREATE TABLE orders (id int, user_id int);\nALTER TABLE orders ADD CONSTRAINT fk_orders_user_id FOREIGN KEY (user_id) REFERENCES users (id);",
        "ALTER TABLE orders ADD CONSTRAINT uq_orders_number UNIQUE USING INDEX idx_orders_number;",
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Statement(check),
};

fn check(ctx: &mut StatementContext<'_>) {
    let StatementAction::AddConstraint { kind, not_valid, using_index, .. } = &ctx.statement.action else { return };
    if !ctx.on_existing_table() {
        return;
    }
    let (kind, not_valid, using_index) = (kind.clone(), *not_valid, *using_index);
    match kind.as_str() {
        "FOREIGN KEY" | "CHECK" if !not_valid => {
            let message = format!("Adding a {kind} to {} validates every row while writes wait", table(ctx));
            ctx.report(message, "Add it NOT VALID, then VALIDATE CONSTRAINT in a transaction of its own".to_owned());
        }
        "UNIQUE" | "PRIMARY KEY" if !using_index => {
            let message = format!("Adding a {kind} to {} builds its index under an ACCESS EXCLUSIVE lock", table(ctx));
            ctx.report(
                message,
                "Build a unique index CONCURRENTLY first, then ADD CONSTRAINT … USING INDEX".to_owned(),
            );
        }
        _ => {}
    }
}

fn table(ctx: &StatementContext<'_>) -> String {
    ctx.statement.table.as_deref().map_or_else(|| "the table".to_owned(), |t| format!("table {t}"))
}
