//! The answer to a request: policy violations plus the generated migration preview.

use ddl_gen::GenError;
use policy::config::Policy;
use schema_model::environment::{ExistingObjects, GenerationInputs};
use schema_model::request::SchemaRequest;
use schema_model::violation::{CheckAnswer, Severity, Violation};

/// The rule id under which a generation failure is reported.
pub const GENERATION_RULE: &str = "ddl.generation";

/// A checked request: the answer, and what its migration was generated with.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Violations and preview (seed 001's answer).
    pub answer: CheckAnswer,
    /// The generator's inputs, to keep with the migration and generate it again before it
    /// runs.
    pub inputs: GenerationInputs,
}

/// Checks a parsed request and renders its migration, knowing nothing of what exists
/// around it. The answer is `success` when no violation is an error. When the SQL cannot
/// be generated, the reason is reported as an error violation and the preview is absent.
pub fn answer(request: &SchemaRequest, policy: &Policy) -> CheckAnswer {
    check(request, policy, None).answer
}

/// [`answer`], with what exists in the table's schema (names taken, types to share, the
/// table itself), which also decides which enum types the migration creates.
pub fn check(request: &SchemaRequest, policy: &Policy, existing: Option<&ExistingObjects>) -> Checked {
    let mut violations = policy::check_in(request, policy, existing);
    let mut inputs = GenerationInputs::with_naming(&policy.naming);
    if let Some(existing) = existing {
        let declared = request.schema_json.enums.iter().map(|e| (e.name.as_str(), e.values.as_slice()));
        inputs.shared_enums = existing.shared_enums(declared);
    }
    let migration_preview = match ddl_gen::generate_with(request, &inputs) {
        Ok(preview) => Some(preview),
        Err(error) => {
            violations.push(generation_violation(&error));
            None
        }
    };
    Checked { answer: answer_of(violations, migration_preview), inputs }
}

/// The answer of a check made here (not yet stored): it succeeds when no violation is an
/// error.
pub(crate) fn answer_of(
    violations: Vec<schema_model::violation::Violation>,
    migration_preview: Option<schema_model::violation::MigrationPreview>,
) -> CheckAnswer {
    CheckAnswer {
        success: !policy::has_errors(&violations),
        registry_id: None,
        violations,
        migration_preview,
        kind: None,
        base_version: None,
    }
}

pub(crate) fn generation_violation(error: &GenError) -> Violation {
    let path = match error {
        GenError::UnsafeExpression { path, .. }
        | GenError::InvalidIdentifier { path, .. }
        | GenError::InvalidText { path, .. } => path.clone(),
        GenError::NoColumns | GenError::UnsafeChange { .. } => String::new(),
    };
    Violation {
        severity: Severity::Error,
        message: format!("No migration can be generated: {error}"),
        suggestion: "Fix the errors above; the migration preview is generated once the definition is valid".to_owned(),
        rule: GENERATION_RULE.to_owned(),
        path,
    }
}
