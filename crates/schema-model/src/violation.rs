//! Violations and the answer shape of seed 001 (`{success, registryId?, violations, migrationPreview}`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How serious a violation is. An `error` blocks the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Should be fixed; does not block.
    Warning,
    /// Blocks the request.
    Error,
}

impl Severity {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Self::Info),
            "warning" | "warn" => Ok(Self::Warning),
            "error" => Ok(Self::Error),
            _ => Err(format!("unknown severity \"{s}\"; expected error, warning, info or off")),
        }
    }
}

/// One finding of the policy engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub suggestion: String,
    /// The rule's stable id (`category.rule-name`).
    pub rule: String,
    /// JSON path of the offending value (`schemaJson.columns[2].type`).
    pub path: String,
}

/// The generated migration: a deterministic file name and the up and down SQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationPreview {
    /// `YYYYMMDD_HHMMSS_create_<table>`.
    pub file_name: String,
    /// The transactional, idempotent migration.
    pub up_sql: String,
    /// The exact reverse.
    pub down_sql: String,
}

/// The answer to a check or a submission (seed 001).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckAnswer {
    /// True when there is no error violation.
    pub success: bool,
    /// The stored request's id, once stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_id: Option<String>,
    /// Every finding, errors first.
    pub violations: Vec<Violation>,
    /// The migration; absent when the request cannot be turned into SQL.
    pub migration_preview: Option<MigrationPreview>,
    /// `create` for a new table, `alter` for a change to one the registry manages (set by
    /// the registry, which knows its tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RequestKind>,
    /// For a change: the version of the table it was planned against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<i32>,
}

/// What a request does to its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestKind {
    /// Creates a new table.
    Create,
    /// Changes a table the registry manages.
    Alter,
}

impl RequestKind {
    /// `create` or `alter`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Alter => "alter",
        }
    }
}
