//! The table definition (`schemaJson`): columns, indexes, constraints, enums, comments.
//!
//! Field names follow seed 001 in camelCase; everything beyond seed 001 is optional so
//! that its requests stay valid. Unknown fields are refused: a misspelt `primarykey` must
//! not silently produce a table without a primary key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::types::ColumnType;

/// A table definition: the `schemaJson` object of a request, or a bare table given alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableSchema {
    /// PostgreSQL schema the table lives in; `public` when absent. It must already exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The table's name.
    pub table_name: String,
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// Secondary indexes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    /// A composite primary key; use the column flag `primaryKey` for a single column.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// The primary key constraint's name, when it is not the convention's `pk_<table>` (a
    /// table that existed before the registry, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key_name: Option<String>,
    /// Table-level (possibly multi-column) foreign keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// Table-level check constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckConstraint>,
    /// Table-level (possibly multi-column) unique constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uniques: Vec<UniqueConstraint>,
    /// Enum types this table's columns use, created with the table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enums: Vec<EnumType>,
    /// `COMMENT ON TABLE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// In a change request: the table's name before this change (a rename). Renames are
    /// never guessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// PostgreSQL type (see [`ColumnType::parse`]).
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Part of the primary key (exactly one column; use the table's `primaryKey` for more).
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary_key: bool,
    /// Whether NULL is allowed; absent means nullable unless the column is in the primary key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<bool>,
    /// A default expression, checked against the safe subset (see [`crate::expr`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    /// A single-column unique constraint.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// A single-column foreign key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<ColumnReference>,
    /// A single-column check constraint expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// An identity column (`GENERATED ... AS IDENTITY`) instead of a serial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// `COMMENT ON COLUMN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// In a change request: the column's name before this change (a rename; without it a
    /// column missing from the new definition is dropped and a new name is a new column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

impl Column {
    /// A plain column: nullable by default, no key, default, check, identity or comment.
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Self {
        Self {
            name: name.into(),
            column_type,
            primary_key: false,
            nullable: None,
            default_value: None,
            unique: false,
            references: None,
            check: None,
            identity: None,
            comment: None,
            renamed_from: None,
        }
    }
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_false(value: &bool) -> bool {
    !*value
}

/// Identity column kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Identity {
    /// `GENERATED ALWAYS AS IDENTITY`: explicit values are refused unless overridden.
    Always,
    /// `GENERATED BY DEFAULT AS IDENTITY`.
    ByDefault,
}

/// A column's single-column foreign key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ColumnReference {
    /// Schema of the referenced table; the table's own schema when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Referenced table.
    pub table: String,
    /// Referenced column.
    pub column: String,
    /// Action when the referenced row is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<ReferentialAction>,
    /// Action when the referenced key is updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<ReferentialAction>,
    /// Constraint name; generated by the naming convention when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A table-level foreign key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForeignKey {
    /// Constraint name; generated by the naming convention when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Referencing columns of this table.
    pub columns: Vec<String>,
    /// What is referenced.
    pub references: ForeignKeyTarget,
    /// Action when the referenced row is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<ReferentialAction>,
    /// Action when the referenced key is updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<ReferentialAction>,
    /// In a change request: the constraint's name before this change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// The referenced side of a table-level foreign key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForeignKeyTarget {
    /// Schema of the referenced table; the table's own schema when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Referenced table.
    pub table: String,
    /// Referenced columns, in the order of the referencing columns.
    pub columns: Vec<String>,
}

/// `ON DELETE` / `ON UPDATE` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferentialAction {
    /// `NO ACTION` (PostgreSQL's default): fail at the end of the statement.
    NoAction,
    /// `RESTRICT`: fail at once.
    Restrict,
    /// `CASCADE`: delete or update the referencing rows too.
    Cascade,
    /// `SET NULL`.
    SetNull,
    /// `SET DEFAULT`.
    SetDefault,
}

impl ReferentialAction {
    /// The SQL words.
    pub fn sql(self) -> &'static str {
        match self {
            Self::NoAction => "NO ACTION",
            Self::Restrict => "RESTRICT",
            Self::Cascade => "CASCADE",
            Self::SetNull => "SET NULL",
            Self::SetDefault => "SET DEFAULT",
        }
    }
}

impl fmt::Display for ReferentialAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql())
    }
}

impl FromStr for ReferentialAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).collect::<String>().to_lowercase();
        match folded.as_str() {
            "noaction" => Ok(Self::NoAction),
            "restrict" => Ok(Self::Restrict),
            "cascade" => Ok(Self::Cascade),
            "setnull" => Ok(Self::SetNull),
            "setdefault" => Ok(Self::SetDefault),
            _ => Err(format!(
                "unknown referential action \"{s}\"; expected one of CASCADE, RESTRICT, SET NULL, SET DEFAULT, NO ACTION"
            )),
        }
    }
}

impl Serialize for ReferentialAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.sql())
    }
}

impl<'de> Deserialize<'de> for ReferentialAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A secondary index over plain columns (no expressions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Index {
    /// Index name; generated by the naming convention when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Indexed columns, in order.
    pub columns: Vec<String>,
    /// Access method; BTREE when absent.
    #[serde(rename = "type", default)]
    pub method: IndexMethod,
    /// A unique index.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// A partial index predicate, checked against the safe subset.
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    /// Covering columns (`INCLUDE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// In a change request: the index's name before this change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// Index access methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IndexMethod {
    /// B-tree: equality and range, the default.
    #[default]
    Btree,
    /// Hash: equality only.
    Hash,
    /// GIN: containment in jsonb, arrays, tsvector.
    Gin,
    /// GiST: ranges, geometry, tsvector, inet.
    Gist,
    /// BRIN: block ranges, for huge naturally ordered tables.
    Brin,
}

impl IndexMethod {
    /// The lower-case `USING` word.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Btree => "btree",
            Self::Hash => "hash",
            Self::Gin => "gin",
            Self::Gist => "gist",
            Self::Brin => "brin",
        }
    }
}

impl FromStr for IndexMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "btree" | "b-tree" => Ok(Self::Btree),
            "hash" => Ok(Self::Hash),
            "gin" => Ok(Self::Gin),
            "gist" => Ok(Self::Gist),
            "brin" => Ok(Self::Brin),
            _ => Err(format!("unknown index type \"{s}\"; expected one of BTREE, HASH, GIN, GIST, BRIN")),
        }
    }
}

impl Serialize for IndexMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.sql().to_uppercase())
    }
}

impl<'de> Deserialize<'de> for IndexMethod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A table-level check constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckConstraint {
    /// Constraint name; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The boolean expression, checked against the safe subset.
    pub expression: String,
    /// In a change request: the constraint's name before this change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// A table-level unique constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UniqueConstraint {
    /// Constraint name; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The columns that are unique together.
    pub columns: Vec<String>,
    /// In a change request: the constraint's name before this change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// An enum type created with the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnumType {
    /// Type name (lower-case identifier), used as a column `type`.
    pub name: String,
    /// Labels, in sort order.
    pub values: Vec<String>,
}

impl TableSchema {
    /// An empty table of that name, in `public`.
    pub fn new(table_name: impl Into<String>) -> Self {
        Self {
            schema: None,
            table_name: table_name.into(),
            columns: Vec::new(),
            indexes: Vec::new(),
            primary_key: Vec::new(),
            primary_key_name: None,
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            uniques: Vec::new(),
            enums: Vec::new(),
            comment: None,
            renamed_from: None,
        }
    }

    /// The column of that name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Position of the column of that name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The schema the table lives in.
    pub fn schema_name(&self) -> &str {
        self.schema.as_deref().unwrap_or("public")
    }

    /// Primary key columns: the table's `primaryKey` when given, else the flagged columns.
    pub fn primary_key_columns(&self) -> Vec<&str> {
        if self.primary_key.is_empty() {
            self.columns.iter().filter(|c| c.primary_key).map(|c| c.name.as_str()).collect()
        } else {
            self.primary_key.iter().map(String::as_str).collect()
        }
    }

    /// The definition without `renamedFrom` markers: they describe one change, not the
    /// table, and a later change compares with the table as it is.
    #[must_use]
    pub fn without_renames(&self) -> Self {
        let mut table = self.clone();
        table.renamed_from = None;
        for column in &mut table.columns {
            column.renamed_from = None;
        }
        for index in &mut table.indexes {
            index.renamed_from = None;
        }
        for unique in &mut table.uniques {
            unique.renamed_from = None;
        }
        for check in &mut table.checks {
            check.renamed_from = None;
        }
        for fk in &mut table.foreign_keys {
            fk.renamed_from = None;
        }
        table
    }

    /// Whether the column is NOT NULL once created (primary key columns always are).
    pub fn is_not_null(&self, column: &Column) -> bool {
        let in_pk = self.primary_key_columns().contains(&column.name.as_str());
        in_pk || column.nullable == Some(false) || column.identity.is_some() || column.column_type.is_serial()
    }
}
