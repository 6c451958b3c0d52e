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

use schema_model::naming::NamingOptions;
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
use schema_model::violation::{Severity, Violation};

use crate::config::Policy;
use crate::rule::{Context, RuleDef};

/// Checks a request against a policy. Violations are ordered errors first, then
/// warnings, then infos, each group in rule order.
pub fn check(request: &SchemaRequest, policy: &Policy) -> Vec<Violation> {
    let objects = TableObjects::of(request, &policy.naming);
    let mut out = Vec::new();
    for rule in registry::all() {
        let Some(severity) = policy.severity_of(rule.id) else {
            continue;
        };
        run(rule, severity, request, &objects, &policy.naming, &mut out);
    }
    out.sort_by_key(|v| std::cmp::Reverse(v.severity));
    out
}

/// Runs one rule alone at the given severity (for rule tests and tooling).
pub fn check_rule(
    request: &SchemaRequest,
    rule: &RuleDef,
    severity: Severity,
    naming: &NamingOptions,
) -> Vec<Violation> {
    let objects = TableObjects::of(request, naming);
    let mut out = Vec::new();
    run(rule, severity, request, &objects, naming, &mut out);
    out
}

/// Whether any violation is an error (the request is then refused).
pub fn has_errors(violations: &[Violation]) -> bool {
    violations.iter().any(|v| v.severity == Severity::Error)
}

fn run(
    rule: &RuleDef,
    severity: Severity,
    request: &SchemaRequest,
    objects: &TableObjects,
    naming: &NamingOptions,
    out: &mut Vec<Violation>,
) {
    let mut ctx = Context { request, table: &request.schema_json, objects, naming, rule: rule.id, severity, out };
    (rule.check)(&mut ctx);
}

#[cfg(test)]
mod tests;
