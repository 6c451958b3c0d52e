//! What a rule is and what it sees while it runs.

use std::cell::RefCell;
use std::collections::BTreeMap;

use schema_model::change::{Change, Compatibility};
use schema_model::environment::ExistingObjects;
use schema_model::naming::NamingOptions;
use schema_model::objects::TableObjects;
use schema_model::request::{SchemaRequest, join_path};
use schema_model::statement::StatementFacts;
use schema_model::table::TableSchema;
use schema_model::violation::{Severity, Violation};

use crate::config::Preset;

/// One rule: its stable id, defaults, documentation, fixtures and check.
///
/// Each rule is one module under `rules/<category>/` holding a single `RULE` constant;
/// the registry lists them all.
#[derive(Debug)]
pub struct RuleDef {
    /// Stable id, `category.rule-name`.
    pub id: &'static str,
    /// Severity under the `standard` preset.
    pub default_severity: Severity,
    /// Severity under the `strict` preset, when it differs.
    pub strict_severity: Option<Severity>,
    /// The smallest preset that turns the rule on (`strict` includes `standard`).
    pub preset: Preset,
    /// Documentation, rendered into `docs/rules.md` and `GET /api/rules`.
    pub doc: RuleDoc,
    /// Inputs on which the rule must fire, and where: JSON tables or envelopes for table
    /// rules, SQL files for statement rules (`at` then holds `line N`).
    pub fires: &'static [Firing],
    /// Inputs on which the rule must stay silent.
    pub passes: &'static [&'static str],
    /// For rules about what already exists: the [`ExistingObjects`] (JSON) the fixtures are
    /// checked against.
    pub environment: Option<&'static str>,
    /// For rules about changes to an existing table: the table before the change (JSON);
    /// the fixtures are the definitions after it.
    pub base: Option<&'static str>,
    /// The source file, for "view source" links in the docs.
    pub source: &'static str,
    pub(crate) check: Check,
}

/// What a rule looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    /// A table definition (of a request, or of a table SQL files create or change).
    Table(fn(&mut Context<'_>)),
    /// One statement of an SQL file. Its fixtures (`fires`, `passes`) are SQL files; the
    /// rule fires on the statement it names by line.
    Statement(fn(&mut StatementContext<'_>)),
}

/// What a statement rule sees, and where it reports.
pub(crate) struct StatementContext<'a> {
    /// The statement.
    pub(crate) statement: &'a StatementFacts,
    pub(crate) rule: &'static str,
    pub(crate) severity: Severity,
    pub(crate) out: &'a mut Vec<Violation>,
}

impl StatementContext<'_> {
    /// Records a finding on the statement (its position is the statement's own).
    pub(crate) fn report(&mut self, message: String, suggestion: String) {
        self.out.push(Violation {
            severity: self.severity,
            message,
            suggestion,
            rule: self.rule.to_owned(),
            path: String::new(),
        });
    }

    /// Whether the statement acts on a table that existed before its file (someone may be
    /// using it).
    pub(crate) fn on_existing_table(&self) -> bool {
        self.statement.table.is_some() && !self.statement.table_created_in_file
    }
}

/// An input on which a rule must fire, and exactly where: one path per violation, in the
/// order the rule reports them. The meta-test holds every rule to it, so a rule that starts
/// reporting more, fewer or other places fails its own fixture.
#[derive(Debug)]
pub struct Firing {
    /// The request, as JSON (a bare table or seed 001's envelope).
    pub input: &'static str,
    /// The violations' paths.
    pub at: &'static [&'static str],
}

/// A rule's documentation, in the sections ruff and squawk use.
#[derive(Debug)]
pub struct RuleDoc {
    /// What it flags, one sentence.
    pub what: &'static str,
    /// Why that is a problem.
    pub why: &'static str,
    /// How to fix it.
    pub fix: &'static str,
}

impl RuleDef {
    /// Whether the rule judges SQL statements (its fixtures are SQL files) rather than table
    /// definitions.
    pub fn is_statement_rule(&self) -> bool {
        matches!(self.check, Check::Statement(_))
    }

    /// The category: the part of the id before the dot.
    pub fn category(&self) -> &'static str {
        self.id.split_once('.').map_or(self.id, |(category, _)| category)
    }

    /// The severity the rule has under a preset, before any override.
    pub fn severity_in(&self, preset: Preset) -> Option<Severity> {
        match (preset, self.preset) {
            (Preset::Standard, Preset::Strict) => None,
            (Preset::Standard, Preset::Standard) => Some(self.default_severity),
            (Preset::Strict, _) => Some(self.strict_severity.unwrap_or(self.default_severity)),
        }
    }
}

/// A change request as the change rules see it.
#[derive(Debug, Clone, Copy)]
pub struct ChangeView<'a> {
    /// The table's current definition.
    pub old: &'a TableSchema,
    /// What changes, in order (from `schema-diff`).
    pub changes: &'a [Change],
    /// The compatibility level the change is held to.
    pub level: Compatibility,
}

/// What a rule sees, and where it reports.
pub(crate) struct Context<'a> {
    /// The whole request (envelope fields included).
    pub(crate) request: &'a SchemaRequest,
    /// The table definition.
    pub(crate) table: &'a TableSchema,
    /// The table's named objects with their effective names.
    pub(crate) objects: &'a TableObjects,
    /// Naming options from the policy.
    pub(crate) naming: &'a NamingOptions,
    /// What already exists in the table's schema, when the caller knows.
    pub(crate) existing: Option<&'a ExistingObjects>,
    /// For a change to an existing table: the table before, the changes and the table's
    /// compatibility level.
    pub(crate) change: Option<&'a ChangeView<'a>>,
    /// Column positions by name (rules look columns up often; tables can be wide).
    pub(crate) columns: &'a BTreeMap<&'a str, usize>,
    /// Suggestions for unknown column names, computed once per name and capped.
    pub(crate) suggestions: &'a RefCell<BTreeMap<String, String>>,
    pub(crate) rule: &'static str,
    pub(crate) severity: Severity,
    pub(crate) out: &'a mut Vec<Violation>,
}

/// Most distinct unknown names that get a computed suggestion in one check; the rest get a
/// plain one (each computation compares the name with every column).
const MAX_SUGGESTIONS: usize = 64;
/// Most columns a suggestion lists.
const MAX_LISTED_COLUMNS: usize = 20;

impl<'a> Context<'a> {
    /// Records a violation of the running rule.
    pub(crate) fn report(&mut self, path: String, message: String, suggestion: String) {
        self.out.push(Violation { severity: self.severity, message, suggestion, rule: self.rule.to_owned(), path });
    }

    /// Where in the new definition a change shows: the column, index, constraint or enum it
    /// concerns, or the list it left.
    pub(crate) fn path_of_change(&self, change: &Change) -> String {
        let column = |name: &str, field: &str| match self.columns.get(name) {
            Some(&i) => self.column_path(i, field),
            None => self.path("columns"),
        };
        let object = |name: &str, list: &str| {
            self.objects
                .names()
                .into_iter()
                .find(|(n, _)| *n == name)
                .map_or_else(|| self.path(list), |(_, path)| path.to_owned())
        };
        let enum_path = |type_name: &str, field: &str| match self.table.enums.iter().position(|e| e.name == type_name) {
            Some(i) => self.path(&format!("enums[{i}]{field}")),
            None => self.path("enums"),
        };
        match change {
            Change::RenameTable { .. } => self.path("renamedFrom"),
            Change::AddColumn { column: c, .. } => column(&c.name, ""),
            Change::DropColumn { .. } => self.path("columns"),
            Change::RenameColumn { to, .. } => column(to, "renamedFrom"),
            Change::ChangeType { column: c, .. } => column(c, "type"),
            Change::ChangeDefault { column: c, .. } => column(c, "defaultValue"),
            Change::ChangeNullability { column: c, .. } => column(c, "nullable"),
            Change::ChangeIdentity { column: c, .. } => column(c, "identity"),
            Change::ChangeColumnComment { column: c, .. } => column(c, "comment"),
            Change::ChangeTableComment { .. } => self.path("comment"),
            Change::AddIndex { index } => object(&index.name, "indexes"),
            Change::DropIndex { .. } => self.path("indexes"),
            Change::RenameIndex { to, .. } | Change::RenameConstraint { to, .. } => object(to, ""),
            Change::AddConstraint { constraint } => object(constraint.name(), ""),
            Change::DropConstraint { .. } => self.path(""),
            Change::AddEnumType { enum_type } => enum_path(&enum_type.name, ""),
            Change::DropEnumType { .. } => self.path("enums"),
            Change::AddEnumValue { type_name, .. } | Change::RemoveEnumValue { type_name, .. } => {
                enum_path(type_name, ".values")
            }
        }
    }

    /// A path inside the table definition (`schemaJson.<rest>` for envelopes).
    pub(crate) fn path(&self, rest: &str) -> String {
        join_path(self.request.table_path(), rest)
    }

    /// The path of a column's field (`schemaJson.columns[2].type`); `field` may be empty.
    pub(crate) fn column_path(&self, index: usize, field: &str) -> String {
        let column = format!("columns[{index}]");
        self.path(&if field.is_empty() { column } else { format!("{column}.{field}") })
    }

    /// For an envelope whose `requestMetadata.<key>` is missing or blank, the path to
    /// report at (the field when blank, `requestMetadata` when the key is absent, the root
    /// when there is no metadata at all); `None` when the field is filled in or the input
    /// is a bare table.
    pub(crate) fn blank_metadata_field(
        &self,
        key: &str,
        value: impl Fn(&schema_model::request::RequestMetadata) -> Option<&str>,
    ) -> Option<String> {
        if self.request.shape == schema_model::request::InputShape::BareTable {
            return None;
        }
        match &self.request.request_metadata {
            None => Some(String::new()),
            Some(metadata) => match value(metadata) {
                None => Some("requestMetadata".to_owned()),
                Some(text) if text.trim().is_empty() => Some(format!("requestMetadata.{key}")),
                Some(_) => None,
            },
        }
    }

    /// The table's column of that name.
    pub(crate) fn column(&self, name: &str) -> Option<&'a schema_model::table::Column> {
        self.columns.get(name).and_then(|i| self.table.columns.get(*i))
    }

    /// The suggestion for a reference to a column the table does not have: the closest
    /// column name, or (some of) the columns. Computed once per distinct name, for at most
    /// [`MAX_SUGGESTIONS`] names.
    pub(crate) fn unknown_column_suggestion(&self, column: &str) -> String {
        if let Some(known) = self.suggestions.borrow().get(column) {
            return known.clone();
        }
        let table = &self.table.table_name;
        if self.suggestions.borrow().len() >= MAX_SUGGESTIONS {
            return format!("Use an existing column of \"{table}\" or add a column \"{column}\"");
        }
        let names = self.table.columns.iter().map(|c| c.name.as_str());
        let suggestion = if let Some(close) = schema_model::types::closest(column, names.clone()) {
            format!("Did you mean \"{close}\"? Use an existing column of \"{table}\"")
        } else {
            let mut listed: Vec<&str> = names.take(MAX_LISTED_COLUMNS).collect();
            let more = self.table.columns.len().saturating_sub(MAX_LISTED_COLUMNS);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            listed.sort_unstable();
            format!("Use one of the columns of \"{table}\" ({}{more}) or add a column \"{column}\"", listed.join(", "))
        };
        self.suggestions.borrow_mut().insert(column.to_owned(), suggestion.clone());
        suggestion
    }

    /// Whether some index (or the primary key or a unique constraint) starts with `columns`.
    pub(crate) fn is_covered(&self, columns: &[String]) -> bool {
        let leads = |indexed: &[String]| indexed.len() >= columns.len() && indexed[..columns.len()] == *columns;
        self.objects.primary_key.as_ref().is_some_and(|pk| leads(&pk.columns))
            || self.objects.uniques.iter().any(|u| leads(&u.columns))
            || self.objects.indexes.iter().any(|i| {
                i.predicate.is_none()
                    && matches!(i.method, schema_model::table::IndexMethod::Btree)
                    && leads(&i.columns)
            })
    }
}
