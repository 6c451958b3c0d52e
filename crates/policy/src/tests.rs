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
}
