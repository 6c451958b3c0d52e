//! What already exists around a requested table, for the checks and the generation that
//! depend on it: every relation, constraint and type of the table's schema that the
//! registry's catalog knows or the live target has.
//!
//! PostgreSQL keeps tables, indexes, sequences and views in one namespace per schema, and
//! types in another (each table also has a row type of its name): an index named like an
//! index of another table is not created by `CREATE INDEX IF NOT EXISTS`, it is silently
//! skipped. This snapshot lets the policy refuse such a name at submit and name the other
//! table. Building it is I/O (the store does it); using it is pure.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::naming::NamingOptions;

/// Where a fact about an existing object comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The registry's catalog (a table it manages).
    Catalog,
    /// The live target database.
    Live,
}

/// The kind of a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RelationKind {
    /// A table (plain or partitioned).
    Table,
    /// An index (the table it belongs to is known).
    Index,
    /// A sequence.
    Sequence,
    /// A view or materialized view.
    View,
    /// Anything else in the namespace (composite type, foreign table, ...).
    Other,
}

impl RelationKind {
    /// A word for messages.
    pub fn word(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Index => "index",
            Self::Sequence => "sequence",
            Self::View => "view",
            Self::Other => "relation",
        }
    }
}

/// A relation that exists in the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExistingRelation {
    /// Its kind.
    pub kind: RelationKind,
    /// For an index, the table it is on.
    pub table: Option<String>,
    /// Where this is known from.
    pub source: Source,
}

/// A constraint that exists in the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExistingConstraint {
    /// The table it is on.
    pub table: String,
    /// Where this is known from.
    pub source: Source,
}

/// A type that exists in the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExistingType {
    /// Its labels, in order, when it is an enum; `None` for other types.
    pub enum_values: Option<Vec<String>>,
    /// Tables that have a column of this type.
    pub used_by: BTreeSet<String>,
    /// Where this is known from.
    pub source: Source,
}

/// Everything that exists in one schema, as far as the registry could see.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExistingObjects {
    /// Whether the schema exists on the target; `None` when the target could not be read.
    pub schema_exists: Option<bool>,
    /// Whether the live target was read (otherwise only the catalog is known).
    pub live: bool,
    /// Relations by name.
    pub relations: BTreeMap<String, ExistingRelation>,
    /// Constraints by name (PostgreSQL allows one name on several tables; all are kept).
    pub constraints: BTreeMap<String, Vec<ExistingConstraint>>,
    /// Types by name (row types of tables are not listed: see `relations`).
    pub types: BTreeMap<String, ExistingType>,
}

impl ExistingObjects {
    /// Records a relation; a live fact wins over the catalog's.
    pub fn add_relation(&mut self, name: &str, relation: ExistingRelation) {
        match self.relations.get(name) {
            Some(known) if known.source == Source::Live && relation.source == Source::Catalog => {}
            _ => {
                self.relations.insert(name.to_owned(), relation);
            }
        }
    }

    /// Records a constraint.
    pub fn add_constraint(&mut self, name: &str, constraint: ExistingConstraint) {
        let list = self.constraints.entry(name.to_owned()).or_default();
        if !list.iter().any(|c| c.table == constraint.table) {
            list.push(constraint);
        }
    }

    /// Records a type; a live fact wins over the catalog's, and users are merged.
    pub fn add_type(&mut self, name: &str, found: ExistingType) {
        match self.types.get_mut(name) {
            Some(known) if known.source == Source::Live && found.source == Source::Catalog => {
                known.used_by.extend(found.used_by);
            }
            Some(known) => {
                let mut found = found;
                found.used_by.extend(std::mem::take(&mut known.used_by));
                *known = found;
            }
            None => {
                self.types.insert(name.to_owned(), found);
            }
        }
    }

    /// Everything but `table` and what belongs to it (its indexes and constraints, the enum
    /// types only it uses): what exists around a table that a change request redefines, so
    /// that its own names do not count as taken.
    #[must_use]
    pub fn without_table(&self, table: &str) -> Self {
        let mut out = self.clone();
        out.relations.retain(|name, relation| {
            !(name == table && relation.kind == RelationKind::Table) && relation.table.as_deref() != Some(table)
        });
        for constraints in out.constraints.values_mut() {
            constraints.retain(|c| c.table != table);
        }
        out.constraints.retain(|_, constraints| !constraints.is_empty());
        // A type only this table uses is its own; one others use too stays (shared).
        out.types.retain(|_, found| !(found.used_by.len() == 1 && found.used_by.contains(table)));
        for found in out.types.values_mut() {
            found.used_by.remove(table);
        }
        out
    }

    /// The enum types a request declares that already exist with exactly its labels: they
    /// are shared, referenced but never created or dropped by the request.
    pub fn shared_enums<'a>(&self, declared: impl IntoIterator<Item = (&'a str, &'a [String])>) -> BTreeSet<String> {
        declared
            .into_iter()
            .filter(|(name, values)| {
                self.types.get(*name).and_then(|t| t.enum_values.as_deref()).is_some_and(|existing| existing == *values)
            })
            .map(|(name, _)| name.to_owned())
            .collect()
    }
}

/// Everything the generator needs besides the request, kept with a stored migration so that
/// the same SQL can be generated again and compared before it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerationInputs {
    /// The naming options in force when the request was checked.
    #[serde(default)]
    pub naming: NamingOptions,
    /// Enum types that existed already with the declared labels: referenced, not created.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub shared_enums: BTreeSet<String>,
}

impl GenerationInputs {
    /// Inputs with these naming options and no shared enums.
    pub fn with_naming(naming: &NamingOptions) -> Self {
        Self { naming: naming.clone(), shared_enums: BTreeSet::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_facts_win_and_enums_are_shared_only_when_identical() {
        let mut objects = ExistingObjects::default();
        objects.add_relation(
            "idx_a",
            ExistingRelation { kind: RelationKind::Index, table: Some("t".into()), source: Source::Live },
        );
        objects.add_relation(
            "idx_a",
            ExistingRelation { kind: RelationKind::Index, table: Some("u".into()), source: Source::Catalog },
        );
        assert_eq!(objects.relations["idx_a"].table.as_deref(), Some("t"));
        let labels = vec!["a".to_owned(), "b".to_owned()];
        objects.add_type(
            "kinds",
            ExistingType { enum_values: Some(labels.clone()), used_by: BTreeSet::new(), source: Source::Live },
        );
        let other = vec!["a".to_owned()];
        assert_eq!(objects.shared_enums([("kinds", labels.as_slice())]).len(), 1);
        assert!(objects.shared_enums([("kinds", other.as_slice())]).is_empty());
        assert!(objects.shared_enums([("moods", labels.as_slice())]).is_empty());
    }
}
