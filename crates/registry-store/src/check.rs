//! The answer to a request: policy violations plus the generated migration preview.
//!
//! This is the one composition of `policy` and `ddl-gen`, shared by the command line's
//! `check`, the API's validation and the store's request creation, so they can never
//! disagree. It does no I/O.

use ddl_gen::GenError;
use policy::config::Policy;
use schema_model::request::SchemaRequest;
use schema_model::violation::{CheckAnswer, Severity, Violation};

/// The rule id under which a generation failure is reported.
pub const GENERATION_RULE: &str = "ddl.generation";

/// Checks a parsed request and renders its migration. The answer is `success` when no
/// violation is an error. When the SQL cannot be generated, the reason is reported as an
/// error violation and the preview is absent.
pub fn answer(request: &SchemaRequest, policy: &Policy) -> CheckAnswer {
    let mut violations = policy::check(request, policy);
    let migration_preview = match ddl_gen::generate(request, &policy.naming) {
        Ok(preview) => Some(preview),
        Err(error) => {
            violations.push(generation_violation(&error));
            None
        }
    };
    CheckAnswer { success: !policy::has_errors(&violations), registry_id: None, violations, migration_preview }
}

fn generation_violation(error: &GenError) -> Violation {
    let path = match error {
        GenError::UnsafeExpression { path, .. }
        | GenError::InvalidIdentifier { path, .. }
        | GenError::InvalidText { path, .. } => path.clone(),
        GenError::NoColumns => String::new(),
    };
    Violation {
        severity: Severity::Error,
        message: format!("No migration can be generated: {error}"),
        suggestion: "Fix the errors above; the migration preview is generated once the definition is valid".to_owned(),
        rule: GENERATION_RULE.to_owned(),
        path,
    }
}
