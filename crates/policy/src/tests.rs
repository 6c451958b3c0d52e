//! The engine over whole requests: presets, overrides, ordering.

use schema_model::request::SchemaRequest;
use schema_model::violation::Severity;

use crate::check;
use crate::config::{Level, Policy, PolicyError, Preset};

const EVENTS: &str = r#"{"tableName": "events", "columns": [{"name": "happened_at", "type": "timestamp"}]}"#;

#[test]
fn errors_come_first_and_overrides_apply() {
    let request = SchemaRequest::from_json(EVENTS).unwrap();
    let violations = check(&request, &Policy::standard());
    assert!(violations.iter().any(|v| v.rule == "table.require-primary-key"));
    assert!(violations.windows(2).all(|w| w[0].severity >= w[1].severity));

    let policy = Policy::from_toml(
        "[rules]\n\"table.require-primary-key\" = \"off\"\n\"column.timestamp-with-time-zone\" = \"info\"\n",
    )
    .unwrap();
    let violations = check(&request, &policy);
    assert!(!violations.iter().any(|v| v.rule == "table.require-primary-key"));
    let tz = violations.iter().find(|v| v.rule == "column.timestamp-with-time-zone").unwrap();
    assert_eq!(tz.severity, Severity::Info);
}

#[test]
fn policy_files() {
    let policy = Policy::from_toml("preset = \"strict\"\n[naming]\ntable_prefix = \"billing_\"\n").unwrap();
    assert_eq!(policy.preset, Preset::Strict);
    assert_eq!(policy.naming.table_prefix.as_deref(), Some("billing_"));
    assert_eq!(Policy::from_toml("").unwrap(), Policy::standard());

    let err = Policy::from_toml("preset = \"lenient\"").unwrap_err();
    assert_eq!(err, PolicyError::UnknownPreset("lenient".to_owned()));
    let err = Policy::from_toml("[rules]\n\"table.require-primary-kye\" = \"off\"").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown rule \"table.require-primary-kye\" in [rules]; did you mean \"table.require-primary-key\"?"
    );
    let err = Policy::from_toml("[rules]\n\"table.require-primary-key\" = \"loud\"").unwrap_err();
    assert!(matches!(err, PolicyError::BadLevel { .. }), "{err}");
    let err = Policy::from_toml("preset = \n").unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = Policy::from_toml("[naming]\nprefix = \"x\"").unwrap_err();
    assert!(err.to_string().contains("unknown field `prefix`"), "{err}");
    assert_eq!(
        Policy::from_toml("[rules]\n\"table.require-primary-key\" = \"off\"")
            .unwrap()
            .overrides
            .get("table.require-primary-key"),
        Some(&Level::Off)
    );

    let levels = Policy::from_toml("[compatibility]\ndefault = \"full\"\n\"billing.invoices\" = \"NONE\"\n")
        .unwrap()
        .compatibility;
    assert_eq!(levels.level_of("billing", "invoices"), schema_model::change::Compatibility::None);
    assert_eq!(levels.level_of("public", "users"), schema_model::change::Compatibility::Full);
    assert_eq!(
        Policy::standard().compatibility.level_of("public", "users"),
        schema_model::change::Compatibility::Backward
    );
    let err = Policy::from_toml("[compatibility]\ndefault = \"sideways\"").unwrap_err();
    assert!(err.to_string().contains("[compatibility] default") && err.to_string().contains("BACKWARD"), "{err}");
    let err = Policy::from_toml("[compatibility]\ninvoices = \"FULL\"").unwrap_err();
    assert!(err.to_string().contains("schema.table"), "{err}");
}

/// The widest request the model accepts, with tens of thousands of references to columns
/// that do not exist, gets a bounded answer: each rule reports at most
/// `MAX_VIOLATIONS_PER_RULE` violations plus one that says how many more, and suggestions
/// list a few columns, not all.
#[test]
fn tens_of_thousands_of_unknown_references_get_a_bounded_answer() {
    use schema_model::request::{MAX_COLUMNS, MAX_KEY_COLUMNS};
    let columns: Vec<String> =
        (0..MAX_COLUMNS).map(|i| format!(r#"{{"name": "column_{i}", "type": "int"}}"#)).collect();
    let uniques: Vec<String> = (0..MAX_COLUMNS)
        .map(|u| {
            let names: Vec<String> = (0..MAX_KEY_COLUMNS).map(|k| format!(r#""missing_{u}_{k}""#)).collect();
            format!(r#"{{"columns": [{}]}}"#, names.join(","))
        })
        .collect();
    let json =
        format!(r#"{{"tableName": "wide", "columns": [{}], "uniques": [{}]}}"#, columns.join(","), uniques.join(","));
    let request = SchemaRequest::from_json(&json).unwrap();
    let violations = crate::check(&request, &Policy::standard());
    let unknown: Vec<_> = violations.iter().filter(|v| v.rule == "constraint.unknown-column").collect();
    assert_eq!(unknown.len(), crate::MAX_VIOLATIONS_PER_RULE + 1);
    assert!(unknown.last().unwrap().message.contains("51100 more"), "{}", unknown.last().unwrap().message);
    assert!(unknown.iter().all(|v| v.suggestion.len() < 1_000), "suggestions list a few columns, not 1600");
    let total: usize = violations.iter().map(|v| v.message.len() + v.suggestion.len()).sum();
    assert!(total < 1_000_000, "the answer stays small: {total} bytes");
}
