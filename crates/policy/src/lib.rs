//! The policy engine: rules over a [`SchemaRequest`], one module per rule.
//!
//! [`check`] runs every rule the [`config::Policy`] turns on and returns the violations,
//! errors first. Checking never fails: any request the model accepts gets an answer.
//! Rules are listed once in `rules/mod.rs`; [`registry`] exposes them with their
//! documentation for `docs/rules.md` and the API. This crate does no I/O.

pub mod config;
pub mod registry;
pub mod rule;
mod rules;

use std::cell::RefCell;
use std::collections::BTreeMap;

use schema_model::environment::ExistingObjects;
use schema_model::naming::NamingOptions;
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
use schema_model::statement::StatementFacts;
use schema_model::violation::{Severity, Violation};

use crate::config::Policy;
use crate::rule::{ChangeView, Context, RuleDef};

/// Most violations one rule reports for one request; beyond that, one more says how many
/// were left out. A request can hold tens of thousands of mistakes; the answer stays small.
pub const MAX_VIOLATIONS_PER_RULE: usize = 100;

/// Checks a request against a policy, knowing nothing of what exists around it. Violations
/// are ordered errors first, then warnings, then infos, each group in rule order.
pub fn check(request: &SchemaRequest, policy: &Policy) -> Vec<Violation> {
    check_in(request, policy, None)
}

/// [`check`], with what already exists in the table's schema (the registry's catalog and
/// the live target), for the rules about names taken, shared types and existing tables.
pub fn check_in(request: &SchemaRequest, policy: &Policy, existing: Option<&ExistingObjects>) -> Vec<Violation> {
    check_change(request, policy, existing, None)
}

/// [`check_in`] for a change to an existing table: the table rules judge the new
/// definition, the change rules judge the changes (with `change`).
pub fn check_change(
    request: &SchemaRequest,
    policy: &Policy,
    existing: Option<&ExistingObjects>,
    change: Option<&ChangeView<'_>>,
) -> Vec<Violation> {
    let objects = TableObjects::of(request, &policy.naming);
    let columns = column_positions(&request.schema_json);
    let mut out = Vec::new();
    for rule in registry::all() {
        if rule.is_statement_rule() {
            continue;
        }
        let Some(severity) = policy.severity_of_rule(rule) else {
            continue;
        };
        let subject =
            Subject { request, objects: &objects, columns: &columns, naming: &policy.naming, existing, change };
        run(rule, severity, &subject, &mut out);
    }
    out.sort_by_key(|v| std::cmp::Reverse(v.severity));
    out
}

/// Column positions by name (the first of a repeated name).
fn column_positions(table: &schema_model::table::TableSchema) -> BTreeMap<&str, usize> {
    table.columns.iter().enumerate().rev().map(|(i, c)| (c.name.as_str(), i)).collect()
}

/// What every table rule of one check looks at, computed once for all of them.
struct Subject<'a> {
    request: &'a SchemaRequest,
    objects: &'a TableObjects,
    columns: &'a BTreeMap<&'a str, usize>,
    naming: &'a NamingOptions,
    existing: Option<&'a ExistingObjects>,
    change: Option<&'a ChangeView<'a>>,
}

/// Runs one rule alone at the given severity (for rule tests and tooling).
pub fn check_rule(
    request: &SchemaRequest,
    rule: &RuleDef,
    severity: Severity,
    naming: &NamingOptions,
    existing: Option<&ExistingObjects>,
    change: Option<&ChangeView<'_>>,
) -> Vec<Violation> {
    let objects = TableObjects::of(request, naming);
    let columns = column_positions(&request.schema_json);
    let mut out = Vec::new();
    let subject = Subject { request, objects: &objects, columns: &columns, naming, existing, change };
    run(rule, severity, &subject, &mut out);
    out
}

/// Runs the statement rules the policy turns on over one statement of an SQL file. The
/// findings' `path` is empty: they stand at the statement.
pub fn check_statement(statement: &StatementFacts, policy: &Policy) -> Vec<Violation> {
    StatementRules::of(policy).check(statement)
}

/// The statement rules a policy turns on, with their severities, looked up once for a run
/// over many statements.
#[derive(Debug, Clone)]
pub struct StatementRules {
    enabled: Vec<(&'static RuleDef, Severity)>,
}

impl StatementRules {
    /// The statement rules `policy` turns on.
    pub fn of(policy: &Policy) -> Self {
        let enabled = registry::all()
            .iter()
            .filter(|rule| rule.is_statement_rule())
            .filter_map(|rule| policy.severity_of_rule(rule).map(|severity| (*rule, severity)))
            .collect();
        Self { enabled }
    }

    /// Their findings on one statement, errors first.
    pub fn check(&self, statement: &StatementFacts) -> Vec<Violation> {
        let mut out = Vec::new();
        for (rule, severity) in &self.enabled {
            run_statement_rule(rule, *severity, statement, &mut out);
        }
        out.sort_by_key(|v| std::cmp::Reverse(v.severity));
        out
    }
}

/// Runs one statement rule alone (for rule tests and tooling); nothing for a table rule.
pub fn run_statement_rule(rule: &RuleDef, severity: Severity, statement: &StatementFacts, out: &mut Vec<Violation>) {
    if let crate::rule::Check::Statement(check) = rule.check {
        let mut ctx = crate::rule::StatementContext { statement, rule: rule.id, severity, out };
        check(&mut ctx);
    }
}

/// Whether any violation is an error (the request is then refused).
pub fn has_errors(violations: &[Violation]) -> bool {
    violations.iter().any(|v| v.severity == Severity::Error)
}

fn run(rule: &RuleDef, severity: Severity, subject: &Subject<'_>, out: &mut Vec<Violation>) {
    let Subject { request, objects, columns, naming, existing, change } = *subject;
    let table = &request.schema_json;
    let suggestions = RefCell::new(BTreeMap::new());
    let mut found = Vec::new();
    let mut ctx = Context {
        request,
        table,
        objects,
        naming,
        existing,
        change,
        columns,
        suggestions: &suggestions,
        rule: rule.id,
        severity,
        out: &mut found,
    };
    let crate::rule::Check::Table(check) = rule.check else { return };
    check(&mut ctx);
    if found.len() > MAX_VIOLATIONS_PER_RULE {
        let left_out = found.len() - MAX_VIOLATIONS_PER_RULE;
        found.truncate(MAX_VIOLATIONS_PER_RULE);
        found.push(Violation {
            severity,
            message: format!("… and {left_out} more violations of {} like the ones above", rule.id),
            suggestion: "Fix the ones listed, then check again to see the rest".to_owned(),
            rule: rule.id.to_owned(),
            path: request.table_path().to_owned(),
        });
    }
    out.append(&mut found);
}

#[cfg(test)]
mod tests;
