//! `column.default-fits-type`

use schema_model::expr::{Literal, constant};
use schema_model::types::ColumnType;
use schema_model::violation::Severity;

use crate::config::Preset;
use crate::rule::{Check, Context, Firing, RuleDef, RuleDoc};

/// A constant default must be a value of the column's type.
pub(crate) const RULE: RuleDef = RuleDef {
    id: "column.default-fits-type",
    default_severity: Severity::Error,
    strict_severity: None,
    preset: Preset::Standard,
    doc: RuleDoc {
        what: "Flags a constant `defaultValue` that is no value of the column's type: text too long for `varchar(n)` or `character(n)`, a number out of the type's range or with a fraction for an integer, a number too wide for `numeric(p,s)`, a string that is no integer, boolean, UUID, JSON or label of the column's enum, a number for a boolean.",
        why: "PostgreSQL checks a default only when a row uses it: `CREATE TABLE` succeeds, and then every insert that relies on the default fails (`value too long for type character varying(2)`, `value out of range`), or the migration itself fails on a type mismatch. Either way the table is broken after review.",
        fix: "Write a default the column can hold: shorten the text or widen the type, keep numbers in range (a whole number for integer columns), use one of the enum's labels, or valid JSON for json and jsonb.",
    },
    fires: &[
        Firing {
            input: r#"{"tableName": "t", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "code", "type": "varchar(2)", "defaultValue": "'abcdef'"}, {"name": "n", "type": "integer", "defaultValue": "'abc'"}, {"name": "f", "type": "float8", "defaultValue": "1e400"}]}"#,
            at: &["columns[1].defaultValue", "columns[2].defaultValue", "columns[3].defaultValue"],
        },
        Firing {
            input: r#"{"tableName": "t", "columns": [{"name": "id", "type": "uuid", "primaryKey": true}, {"name": "small", "type": "smallint", "defaultValue": "40000"}, {"name": "ratio", "type": "numeric(4,2)", "defaultValue": "123.4"}, {"name": "flag", "type": "boolean", "defaultValue": "'maybe'"}, {"name": "ref", "type": "uuid", "defaultValue": "'not-a-uuid'"}, {"name": "doc", "type": "jsonb", "defaultValue": "'{oops'::jsonb"}, {"name": "status", "type": "mood", "defaultValue": "'angry'"}, {"name": "whole", "type": "integer", "defaultValue": "1.5"}, {"name": "on", "type": "boolean", "defaultValue": "1"}], "enums": [{"name": "mood", "values": ["happy", "sad"]}]}"#,
            at: &[
                "columns[1].defaultValue",
                "columns[2].defaultValue",
                "columns[3].defaultValue",
                "columns[4].defaultValue",
                "columns[5].defaultValue",
                "columns[6].defaultValue",
                "columns[7].defaultValue",
                "columns[8].defaultValue",
            ],
        },
    ],
    passes: &[
        r#"{"tableName": "t", "columns": [{"name": "id", "type": "uuid", "primaryKey": true, "defaultValue": "gen_random_uuid()"}, {"name": "code", "type": "varchar(2)", "defaultValue": "'ab'"}, {"name": "n", "type": "integer", "defaultValue": "-2147483648"}, {"name": "f", "type": "float8", "defaultValue": "1e300"}, {"name": "c", "type": "character(3)", "defaultValue": "'abc'::bpchar"}, {"name": "flag", "type": "boolean", "defaultValue": "'yes'"}, {"name": "doc", "type": "jsonb", "defaultValue": "'{\"a\": [1]}'::jsonb"}, {"name": "status", "type": "mood", "defaultValue": "'happy'"}, {"name": "ratio", "type": "numeric(4,2)", "defaultValue": "12.345"}, {"name": "big", "type": "bigint", "defaultValue": "9223372036854775807"}], "enums": [{"name": "mood", "values": ["happy", "sad"]}]}"#,
    ],
    environment: None,
    base: None,
    source: file!(),
    check: Check::Table(check),
};

fn check(ctx: &mut Context<'_>) {
    for (i, column) in ctx.table.columns.iter().enumerate() {
        let Some(default) = &column.default_value else { continue };
        let Some(constant) = constant(default) else { continue };
        if constant.value == Literal::Null {
            continue;
        }
        // The value meets each cast in turn, then the column's type (an assignment).
        let mut problem = None;
        for ty in constant.casts.iter().chain(std::iter::once(&column.column_type)) {
            if let Some(why) = misfit(&constant.value, ty, ctx) {
                problem = Some((why, ty.clone()));
                break;
            }
        }
        if let Some((why, ty)) = problem {
            ctx.report(
                ctx.column_path(i, "defaultValue"),
                format!("Default {default} of column \"{}\" is no value of type {}: {why}", column.name, ty.sql()),
                "Use a default the column can hold, or change the column's type".to_owned(),
            );
        }
    }
}

/// Why `value` is no value of `ty`, when PostgreSQL would refuse it (or change it).
fn misfit(value: &Literal, ty: &ColumnType, ctx: &Context<'_>) -> Option<String> {
    match (ty, value) {
        (ColumnType::SmallInt | ColumnType::SmallSerial, v) => {
            integer_misfit(v, i128::from(i16::MIN), i128::from(i16::MAX))
        }
        (ColumnType::Integer | ColumnType::Serial, v) => integer_misfit(v, i128::from(i32::MIN), i128::from(i32::MAX)),
        (ColumnType::BigInt | ColumnType::BigSerial, v) => {
            integer_misfit(v, i128::from(i64::MIN), i128::from(i64::MAX))
        }
        (ColumnType::Real | ColumnType::DoublePrecision, Literal::Number(n) | Literal::Text(n)) => {
            let limit = if *ty == ColumnType::Real { f64::from(f32::MAX) } else { f64::MAX };
            match n.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && x.abs() <= limit => None,
                Ok(_) => Some("it is out of the type's range".to_owned()),
                Err(_) if matches!(value, Literal::Text(t) if ["nan", "infinity", "-infinity", "inf", "-inf"].contains(&t.trim().to_lowercase().as_str())) => {
                    None
                }
                Err(_) => Some("it is not a number".to_owned()),
            }
        }
        (ColumnType::Numeric { precision: Some(p), scale }, Literal::Number(n) | Literal::Text(n)) => {
            let Some(whole_digits) = whole_digits(n) else {
                return Some("it is not a number".to_owned());
            };
            let allowed = usize::from(*p).saturating_sub(usize::from(scale.unwrap_or(0)));
            (whole_digits > allowed)
                .then(|| format!("it has {whole_digits} digits before the decimal point, the type allows {allowed}"))
        }
        (ColumnType::Varchar(Some(n)) | ColumnType::Char(Some(n)), v) => {
            let text = match v {
                Literal::Text(t) | Literal::Number(t) => t.clone(),
                Literal::Boolean(b) => b.to_string(),
                Literal::Null => return None,
            };
            let length = text.trim_end_matches(' ').chars().count();
            let limit = usize::try_from(*n).unwrap_or(usize::MAX);
            (length > limit).then(|| format!("it is {length} characters long, the type allows {n}"))
        }
        (ColumnType::Boolean, Literal::Text(t)) => (!is_boolean_text(t)).then(|| format!("\"{t}\" is not a boolean")),
        (ColumnType::Boolean, Literal::Number(_)) => Some("a number is not a boolean (write true or false)".to_owned()),
        (ColumnType::Uuid, Literal::Text(t)) => (!is_uuid_text(t)).then(|| format!("\"{t}\" is not a UUID")),
        (ColumnType::Json | ColumnType::Jsonb, Literal::Text(t)) => {
            serde_json::from_str::<serde_json::Value>(t).err().map(|e| format!("it is not valid JSON ({e})"))
        }
        (ColumnType::Named(name), Literal::Text(t)) => {
            let labels = &ctx.table.enums.iter().find(|e| &e.name == name)?.values;
            (!labels.contains(t)).then(|| format!("\"{t}\" is not one of the labels {}", labels.join(", ")))
        }
        _ => None,
    }
}

fn integer_misfit(value: &Literal, min: i128, max: i128) -> Option<String> {
    let text = match value {
        Literal::Number(n) => n.clone(),
        Literal::Text(t) => t.trim().to_owned(),
        Literal::Boolean(_) => return Some("a boolean is not a number".to_owned()),
        Literal::Null => return None,
    };
    if let Ok(n) = text.parse::<i128>() {
        return (n < min || n > max).then(|| format!("{n} is out of the range {min} to {max}"));
    }
    match (value, text.parse::<f64>()) {
        (Literal::Number(_), Ok(x)) if x.fract() == 0.0 => {
            #[expect(clippy::cast_precision_loss, reason = "the bounds are compared with a float that has no fraction")]
            let (low, high) = (min as f64, max as f64);
            (x < low || x > high).then(|| format!("{text} is out of the range {min} to {max}"))
        }
        (Literal::Number(_), Ok(_)) => Some(format!("{text} is not a whole number; PostgreSQL would round it")),
        _ => Some(format!("\"{text}\" is not a whole number")),
    }
}

/// Digits before the decimal point of a plain or exponent number (ignoring leading zeros).
fn whole_digits(number: &str) -> Option<usize> {
    let x: f64 = number.trim().parse().ok()?;
    if !x.is_finite() {
        return None;
    }
    let whole = x.abs().trunc();
    Some(if whole < 1.0 { 0 } else { format!("{whole:.0}").len() })
}

/// What PostgreSQL's boolean input accepts: true/false, yes/no, on/off, 1/0, and unique
/// prefixes of the words, in any case, with surrounding blanks.
fn is_boolean_text(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    if t.is_empty() {
        return false;
    }
    let prefix_of = |word: &str| word.starts_with(&t);
    matches!(t.as_str(), "1" | "0" | "on" | "off" | "of")
        || (t != "o" && (prefix_of("true") || prefix_of("false") || prefix_of("yes") || prefix_of("no")))
}

/// What PostgreSQL's uuid input accepts: 32 hex digits, optionally in braces, with hyphens
/// after groups of four.
fn is_uuid_text(text: &str) -> bool {
    let t = text.trim();
    let t = t.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')).unwrap_or(t);
    let digits: String = t.chars().filter(|c| *c != '-').collect();
    digits.len() == 32 && digits.chars().all(|c| c.is_ascii_hexdigit()) && !t.starts_with('-') && !t.contains("--")
}
