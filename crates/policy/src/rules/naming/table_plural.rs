//! `naming.table-plural`

use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// Tables hold many rows; seed 001 names them in the plural.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "naming.table-plural",
    default_severity: Severity::Info,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a table whose name's last word (after the last underscore) does not look plural: it does not end in `s` and is not a known plural or mass noun such as `data`, `people`, `media`, `feedback` or `history`.",
        why: "Seed 001 asks for plural table names (`users`, `order_items`). A single convention means nobody has to remember whether it was `user` or `users`, and generated foreign key and index names read consistently.",
        fix: "Use the plural of the last word, for example `order_items` instead of `order_item` and `categories` instead of `category`.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "app_user", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["tableName"],
        },
        Firing {
            input: r#"{"tableName": "product_category", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
            at: &["tableName"],
        },
    ],
    passes: &[
        r#"{"tableName": "app_users", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
        r#"{"tableName": "user_metadata", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
        r#"{"tableName": "events_2024", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
        r#"{"tableName": "People", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

/// Plural or uncountable words that do not end in `s`.
const PLURAL_WORDS: &[&str] = &[
    "data",
    "metadata",
    "media",
    "people",
    "children",
    "men",
    "women",
    "feedback",
    "information",
    "history",
    "staff",
    "equipment",
    "news",
    "series",
    "analytics",
];

fn check(ctx: &mut Context<'_>) {
    let name = ctx.table.table_name.as_str();
    // The last word with a letter in it: `events_2024` is judged by `events`.
    let Some((start, word)) = name
        .split('_')
        .scan(0, |offset, word| {
            let start = *offset;
            *offset += word.len() + 1;
            Some((start, word))
        })
        .filter(|(_, word)| word.chars().any(char::is_alphabetic))
        .last()
    else {
        return;
    };
    let lower = word.to_lowercase();
    if lower.ends_with('s') || PLURAL_WORDS.contains(&lower.as_str()) {
        return;
    }
    let plural = format!("{}{}{}", &name[..start], pluralize(word), &name[start + word.len()..]);
    ctx.report(
        ctx.path("tableName"),
        format!("Table name \"{name}\" is not plural"),
        format!("Rename the table to \"{plural}\""),
    );
}

/// English plural of a regular noun, good enough for a suggestion.
fn pluralize(word: &str) -> String {
    let lower = word.to_lowercase();
    let consonant_y =
        lower.strip_suffix('y').is_some_and(|stem| !stem.is_empty() && !stem.ends_with(['a', 'e', 'i', 'o', 'u']));
    if consonant_y {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["x", "z", "ch", "sh"].iter().any(|suffix| lower.ends_with(suffix)) {
        format!("{word}es")
    } else {
        format!("{word}s")
    }
}
