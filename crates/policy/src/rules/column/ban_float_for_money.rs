//! `column.ban-float-for-money`

use schema_model::naming::to_snake_case;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Binary floating point cannot represent cents exactly.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.ban-float-for-money",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags `real` and `double precision` columns (and arrays of them) whose name suggests money: a word part such as `price`, `amount`, `cost`, `balance`, `total`, `fee`, `salary`, `payment`, `revenue`, `tax` or `money` (or its plural).",
        why: "Floating point numbers are binary fractions: 0.10 is stored as 0.1000000000000000055511151231257827, sums drift by fractions of a cent, and equality comparisons fail. Money must be exact.",
        fix: "Use `numeric(12,2)` (exact decimal, choose precision and scale for the currency), or store an integer number of the smallest unit (cents).",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "total_price", "type": "double precision"}]}"#,
            at: &["columns[1].type"],
        },
        Firing {
            input: r#"{"tableName": "orders", "schemaJson": {"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "tax", "type": "real"}, {"name": "fees", "type": "float8[]"}]}}"#,
            at: &["schemaJson.columns[1].type", "schemaJson.columns[2].type"],
        },
    ],
    passes: &[
        r#"{"tableName": "orders", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "total_price", "type": "numeric(12,2)"}, {"name": "latitude", "type": "double precision"}, {"name": "taxonomy_score", "type": "real"}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

/// Word parts that mark a monetary value.
const MONEY_WORDS: &[&str] =
    &["price", "amount", "cost", "balance", "total", "fee", "salary", "payment", "revenue", "tax", "money"];

/// The money word in `name`, matched against whole word parts (`unit_price`, `unitPrice`, `fees`).
fn money_word(name: &str) -> Option<&'static str> {
    to_snake_case(name).split('_').find_map(|part| {
        MONEY_WORDS.iter().copied().find(|&word| {
            part == word
                || part.strip_suffix('s') == Some(word)
                || part.strip_suffix("es") == Some(word)
                || (word == "salary" && part == "salaries")
        })
    })
}

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        if !column.column_type.element().is_floating_point() {
            continue;
        }
        let Some(word) = money_word(&column.name) else { continue };
        ctx.report(
            ctx.column_path(i, "type"),
            format!(
                "Column \"{}\" looks like money (\"{word}\") but is {}, which cannot store cents exactly",
                column.name, column.column_type
            ),
            "Use \"type\": \"numeric(12,2)\" (exact decimal), or store an integer number of cents".to_owned(),
        );
    }
}
