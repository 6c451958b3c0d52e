//! The answer to a change request: a new definition of a table the registry manages,
//! compared with its current version.
//!
//! The table rules judge the new definition, `schema-diff` says what changes, the change
//! rules judge the changes at the table's compatibility level, and `ddl-gen` plans the
//! lock-safe steps up and back, rendered as the migration preview. The preview's scripts
//! are complete: `psql -v ON_ERROR_STOP=1 -f` runs each as it is, and running one again
//! changes nothing.

use policy::config::Policy;
use policy::rule::ChangeView;
use schema_model::change::{Change, Compatibility, StepPlan};
use schema_model::environment::{ExistingObjects, GenerationInputs};
use schema_model::request::{SchemaRequest, join_path};
use schema_model::table::TableSchema;
use schema_model::violation::{CheckAnswer, MigrationPreview, Severity, Violation};
use std::fmt::Write as _;

use crate::check::generation_violation;

/// The rule id under which a change that cannot be compared is reported.
pub const DIFF_RULE: &str = "change.invalid";

/// A checked change request.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedChange {
    /// Violations and the ALTER preview.
    pub answer: CheckAnswer,
    /// What changes, in order.
    pub changes: Vec<Change>,
    /// The steps up and back, when they could be planned.
    pub steps: Option<StepPlan>,
    /// The generator's inputs (the naming the table was created with).
    pub inputs: GenerationInputs,
    /// The compatibility level the change was held to (and the table has afterwards).
    pub level: Compatibility,
}

/// The table as it is now, for a change to it.
#[derive(Debug, Clone, Copy)]
pub struct Current<'a> {
    /// Its current definition.
    pub table: &'a TableSchema,
    /// What its migrations were generated with (their naming keeps the generated names of
    /// its indexes and constraints the same).
    pub inputs: &'a GenerationInputs,
    /// Its compatibility level, when one was set by an earlier request.
    pub level: Option<Compatibility>,
}

/// Checks a change request against the table's current version.
pub fn check_change(
    request: &SchemaRequest,
    current: Current<'_>,
    policy: &Policy,
    existing: Option<&ExistingObjects>,
) -> CheckedChange {
    let new = &request.schema_json;
    let level = request
        .compatibility
        .or(current.level)
        .unwrap_or_else(|| policy.compatibility.level_of(new.schema_name(), current.table.table_name.as_str()));
    let inputs = current.inputs.clone();
    let changes = match schema_diff::diff(current.table, new, &inputs.naming) {
        Ok(changes) => changes,
        Err(error) => {
            let mut violations = policy::check_in(request, policy, existing);
            violations.push(Violation {
                severity: Severity::Error,
                message: format!("The new definition cannot be compared with the current one: {error}"),
                suggestion: "Fix the definition; renames must name a column (or index, constraint, table) of the current version".to_owned(),
                rule: DIFF_RULE.to_owned(),
                path: request.table_path().to_owned(),
            });
            violations.sort_by_key(|v| std::cmp::Reverse(v.severity));
            let answer = crate::check::answer_of(violations, None);
            return CheckedChange { answer, changes: Vec::new(), steps: None, inputs, level };
        }
    };
    let view = ChangeView { old: current.table, changes: &changes, level };
    let mut violations = policy::check_change(request, policy, existing, Some(&view));
    let (steps, migration_preview) = match ddl_gen::alter::plan(current.table, new, &changes, &inputs.naming) {
        Ok(steps) => {
            let preview = preview(request, &steps);
            (Some(steps), Some(preview))
        }
        Err(error) => {
            let mut violation = generation_violation(&error);
            if violation.path.is_empty() {
                violation.path = join_path(request.table_path(), "");
            }
            violations.push(violation);
            (None, None)
        }
    };
    violations.sort_by_key(|v| std::cmp::Reverse(v.severity));
    let answer = crate::check::answer_of(violations, migration_preview);
    CheckedChange { answer, changes, steps, inputs, level }
}

/// The up and down scripts of planned steps, under the request's header; the down script
/// says first what it cannot give back.
pub fn preview(request: &SchemaRequest, steps: &StepPlan) -> MigrationPreview {
    let requested_at = request.request_metadata.as_ref().and_then(|m| m.requested_at);
    let file_name = ddl_gen::alter::file_name(requested_at, &request.schema_json.table_name);
    let header = ddl_gen::header(request, &file_name);
    let mut down_header = header.clone();
    for note in &steps.notes {
        let _ = write!(down_header, "\n-- note: {}", ddl_gen::pg::single_line(note));
    }
    MigrationPreview {
        up_sql: ddl_gen::alter::render(&header, "up", &steps.up),
        down_sql: ddl_gen::alter::render(&down_header, "down", &steps.down),
        file_name,
    }
}
