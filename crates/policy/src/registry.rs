//! The single list of rules, and the tests that keep every rule honest.

use crate::rule::RuleDef;

/// Every rule, in registry order (category, then name).
pub fn all() -> &'static [&'static RuleDef] {
    crate::rules::ALL
}

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static RuleDef> {
    all().iter().copied().find(|rule| rule.id == id)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use schema_model::naming::NamingOptions;
    use schema_model::request::SchemaRequest;
    use serde_json::Value;

    use super::all;
    use crate::config::Preset;
    use crate::rule::RuleDef;

    fn schema_diff_for_fixtures(
        old: &schema_model::table::TableSchema,
        new: &schema_model::table::TableSchema,
    ) -> Result<Vec<schema_model::change::Change>, schema_diff::DiffError> {
        schema_diff::diff(old, new, &fixture_naming())
    }

    fn fixture_naming() -> NamingOptions {
        NamingOptions { table_prefix: Some("app_".to_owned()), ..NamingOptions::default() }
    }

    fn run(rule: &RuleDef, input: &str) -> Vec<schema_model::violation::Violation> {
        let request = SchemaRequest::from_json(input)
            .unwrap_or_else(|e| panic!("{}: fixture does not parse: {e}\n{input}", rule.id));
        let existing: Option<schema_model::environment::ExistingObjects> = rule.environment.map(|json| {
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{}: environment fixture: {e}\n{json}", rule.id))
        });
        let old = rule.base.map(|json| {
            SchemaRequest::from_json(json)
                .unwrap_or_else(|e| panic!("{}: base fixture: {e}\n{json}", rule.id))
                .schema_json
        });
        let changes = old.as_ref().map(|old| {
            schema_diff_for_fixtures(old, &request.schema_json)
                .unwrap_or_else(|e| panic!("{}: the fixture does not diff against its base: {e}\n{input}", rule.id))
        });
        let view = old.as_ref().zip(changes.as_ref()).map(|(old, changes)| crate::rule::ChangeView {
            old,
            changes,
            level: request.compatibility.unwrap_or_default(),
        });
        crate::check_rule(&request, rule, rule.default_severity, &fixture_naming(), existing.as_ref(), view.as_ref())
    }

    /// Resolves `a.b[2].c` in a JSON value.
    fn resolve<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
        let mut current = value;
        if path.is_empty() {
            return Some(current);
        }
        for part in path.split('.') {
            let (key, indexes) = part.split_once('[').map_or((part, ""), |(k, rest)| (k, rest));
            if !key.is_empty() {
                current = current.get(key)?;
            }
            for index in indexes.split('[').filter(|s| !s.is_empty()) {
                current = current.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
            }
        }
        Some(current)
    }

    #[test]
    fn there_are_enough_rules_with_unique_well_formed_ids() {
        assert!(all().len() >= 30, "only {} rules", all().len());
        let mut seen = BTreeSet::new();
        for rule in all() {
            assert!(seen.insert(rule.id), "duplicate id {}", rule.id);
            let (category, name) = rule.id.split_once('.').expect("id has a category");
            assert!(category.chars().all(|c| c.is_ascii_lowercase()), "{}", rule.id);
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !name.starts_with('-')
                    && !name.ends_with('-'),
                "{}: rule names are kebab-case",
                rule.id
            );
            let file = format!("/{category}/{}.rs", name.replace('-', "_"));
            assert!(rule.source.ends_with(&file), "{} lives in {}, expected …{file}", rule.id, rule.source);
        }
    }

    #[test]
    fn every_rule_is_documented() {
        for rule in all() {
            for (section, text) in [("what", rule.doc.what), ("why", rule.doc.why), ("fix", rule.doc.fix)] {
                assert!(text.len() > 20, "{}: doc section `{section}` is missing or too short", rule.id);
                assert!(text.trim_end().ends_with('.'), "{}: doc section `{section}` should be sentences", rule.id);
            }
        }
    }

    #[test]
    fn every_rule_fires_on_its_fixtures_exactly_where_they_say() {
        for rule in all() {
            assert!(!rule.fires.is_empty(), "{} has no firing fixture", rule.id);
            if rule.is_statement_rule() {
                // SQL fixtures: read with ddl-parse, which this crate does not know; run by
                // crates/registry-core/tests/statement_rules.rs.
                continue;
            }
            for firing in rule.fires {
                let input = firing.input;
                let violations = run(rule, input);
                assert!(!violations.is_empty(), "{} did not fire on\n{input}", rule.id);
                let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
                assert_eq!(paths, firing.at, "{}: where it fires on\n{input}", rule.id);
                let json: Value = serde_json::from_str(input).expect("fixture is JSON");
                for violation in &violations {
                    assert_eq!(violation.rule, rule.id);
                    assert!(!violation.message.is_empty() && !violation.suggestion.is_empty(), "{violation:?}");
                    assert!(
                        resolve(&json, &violation.path).is_some(),
                        "{}: path `{}` does not exist in\n{input}",
                        rule.id,
                        violation.path
                    );
                }
            }
        }
    }

    #[test]
    fn every_rule_passes_its_passing_fixtures() {
        for rule in all() {
            assert!(!rule.passes.is_empty(), "{} has no passing fixture", rule.id);
            if rule.is_statement_rule() {
                continue;
            }
            for input in rule.passes {
                let violations = run(rule, input);
                assert!(violations.is_empty(), "{} fired on a passing fixture:\n{input}\n{violations:#?}", rule.id);
            }
        }
    }

    #[test]
    fn strict_includes_standard() {
        for rule in all() {
            if rule.severity_in(Preset::Standard).is_some() {
                assert!(rule.severity_in(Preset::Strict).is_some(), "{}", rule.id);
            }
        }
        assert!(all().iter().any(|r| r.preset == Preset::Strict), "strict adds rules");
    }
}
