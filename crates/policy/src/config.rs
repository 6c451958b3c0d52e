//! Policies: a preset, per-rule overrides and naming options, read from TOML.
//!
//! ```toml
//! preset = "strict"            # or "standard" (the default)
//!
//! [rules]
//! "column.bigint-javascript-unsafe" = "off"
//! "table.require-updated-at" = "error"
//!
//! [naming]
//! table_prefix = "billing_"
//! index_method_suffix = false
//!
//! [compatibility]
//! default = "BACKWARD"         # NONE, BACKWARD (the default), FORWARD or FULL
//! "billing.invoices" = "FULL"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schema_model::change::Compatibility;
use schema_model::naming::NamingOptions;
use schema_model::types::closest;
use schema_model::violation::Severity;
use serde::{Deserialize, Serialize};

use crate::registry;

/// A named set of rules with their severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Seed 001's guidance: safety, structure, types, indexing, basic naming.
    #[default]
    Standard,
    /// Adds seed 002's conventions: audit columns, soft delete, version column, table
    /// prefix, comments; raises some warnings to errors.
    Strict,
}

impl Preset {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Strict => "strict",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Preset {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(Self::Standard),
            "strict" => Ok(Self::Strict),
            other => Err(PolicyError::UnknownPreset(other.to_owned())),
        }
    }
}

/// A per-rule setting in the policy file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The rule does not run.
    Off,
    /// The rule runs with this severity (also turning on rules outside the preset).
    On(Severity),
}

/// The policy a check runs under.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// The base rule set.
    pub preset: Preset,
    /// Per-rule overrides by rule id.
    pub overrides: BTreeMap<String, Level>,
    /// Naming options (shared with the SQL generator).
    pub naming: NamingOptions,
    /// Compatibility levels of tables (`[compatibility]`).
    pub compatibility: CompatibilityPolicy,
}

/// `[compatibility]`: the level of every table (`default`, `BACKWARD` when absent) and of
/// named ones (`"schema.table" = "FULL"`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompatibilityPolicy {
    /// The level of tables not named.
    pub default: Compatibility,
    /// Levels by `schema.table`.
    pub tables: BTreeMap<String, Compatibility>,
}

impl CompatibilityPolicy {
    /// The level the policy gives `schema.table`.
    pub fn level_of(&self, schema: &str, table: &str) -> Compatibility {
        self.tables.get(&format!("{schema}.{table}")).copied().unwrap_or(self.default)
    }
}

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not TOML, or not the policy file's shape; the message carries line and column.
    #[error("invalid policy file: {0}")]
    Toml(String),
    /// `preset` names no preset.
    #[error("unknown preset \"{0}\"; expected \"standard\" or \"strict\"")]
    UnknownPreset(String),
    /// A `[rules]` key names no rule.
    #[error("unknown rule \"{id}\" in [rules]{}", .suggestion.as_ref().map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default())]
    UnknownRule {
        /// The key as written.
        id: String,
        /// The closest rule id.
        suggestion: Option<String>,
    },
    /// A `[compatibility]` value is not a compatibility level, or a key is not
    /// `default` or `schema.table`.
    #[error("[compatibility] {key}: {message}")]
    BadCompatibility {
        /// The key as written.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A `[rules]` value is not a level.
    #[error("invalid level \"{level}\" for rule \"{id}\"; expected \"error\", \"warning\", \"info\" or \"off\"")]
    BadLevel {
        /// The rule id.
        id: String,
        /// The value as written.
        level: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    rules: BTreeMap<String, String>,
    #[serde(default)]
    naming: NamingOptions,
    #[serde(default)]
    compatibility: BTreeMap<String, String>,
}

impl Policy {
    /// The `standard` preset with no overrides.
    pub fn standard() -> Self {
        Self::default()
    }

    /// The `strict` preset with no overrides.
    pub fn strict() -> Self {
        Self { preset: Preset::Strict, ..Self::default() }
    }

    /// Reads a policy file.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string().trim_end().to_owned()))?;
        let preset = match file.preset.as_deref() {
            None => Preset::default(),
            Some(name) => name.parse()?,
        };
        let mut overrides = BTreeMap::new();
        for (id, level) in file.rules {
            if registry::find(&id).is_none() {
                let suggestion = closest(&id, registry::all().iter().map(|r| r.id)).map(str::to_owned);
                return Err(PolicyError::UnknownRule { id, suggestion });
            }
            let level = if level.eq_ignore_ascii_case("off") {
                Level::Off
            } else {
                Level::On(level.parse().map_err(|_| PolicyError::BadLevel { id: id.clone(), level: level.clone() })?)
            };
            overrides.insert(id, level);
        }
        let mut compatibility = CompatibilityPolicy::default();
        for (key, value) in file.compatibility {
            let level: Compatibility =
                value.parse().map_err(|message| PolicyError::BadCompatibility { key: key.clone(), message })?;
            if key == "default" {
                compatibility.default = level;
            } else if key.split('.').count() == 2 && !key.starts_with('.') && !key.ends_with('.') {
                compatibility.tables.insert(key, level);
            } else {
                return Err(PolicyError::BadCompatibility {
                    key,
                    message: "expected \"default\" or a table as \"schema.table\"".to_owned(),
                });
            }
        }
        Ok(Self { preset, overrides, naming: file.naming, compatibility })
    }

    /// The severity a rule runs with under this policy, or `None` when it is off.
    pub fn severity_of(&self, rule_id: &str) -> Option<Severity> {
        self.severity(rule_id, || registry::find(rule_id))
    }

    /// [`Self::severity_of`] a rule in hand: asked of every rule for every table checked, so
    /// the rule is not looked for again by its id.
    pub fn severity_of_rule(&self, rule: &crate::rule::RuleDef) -> Option<Severity> {
        self.severity(rule.id, || Some(rule))
    }

    /// The override for `rule_id`, or else the preset's severity of the rule `rule` finds.
    fn severity<'r>(&self, rule_id: &str, rule: impl FnOnce() -> Option<&'r crate::rule::RuleDef>) -> Option<Severity> {
        match self.overrides.get(rule_id) {
            Some(Level::Off) => None,
            Some(Level::On(severity)) => Some(*severity),
            None => rule().and_then(|rule| rule.severity_in(self.preset)),
        }
    }
}
