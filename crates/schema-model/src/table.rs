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
    /// `DEFERRABLE`, checked at once or at commit; checked at each statement when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferrable: Option<Deferrable>,
}

/// When a `DEFERRABLE` constraint is checked unless a transaction says otherwise (`SET
/// CONSTRAINTS`): rows that refer to each other can then be inserted in either order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Deferrable {
    /// `DEFERRABLE INITIALLY IMMEDIATE`.
    #[serde(rename = "IMMEDIATE", alias = "immediate")]
    InitiallyImmediate,
    /// `DEFERRABLE INITIALLY DEFERRED`.
    #[serde(rename = "DEFERRED", alias = "deferred")]
    InitiallyDeferred,
}

impl Deferrable {
    /// The SQL after the constraint: ` DEFERRABLE [INITIALLY DEFERRED]`.
    pub fn sql(self) -> &'static str {
        match self {
            Deferrable::InitiallyImmediate => " DEFERRABLE",
            Deferrable::InitiallyDeferred => " DEFERRABLE INITIALLY DEFERRED",
        }
    }
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
    /// `DEFERRABLE`, checked at once or at commit; checked at each statement when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferrable: Option<Deferrable>,
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
#[serde(from = "IndexWire", into = "IndexWire")]
pub struct Index {
    /// Index name; generated by the naming convention when absent.
    pub name: Option<String>,
    /// Indexed columns, in order.
    pub columns: Vec<String>,
    /// How each column is ordered and compared, by position: empty when every column is
    /// ascending with its type's default operator class (the common case), else one entry
    /// per column. In JSON a column with options is an object in `columns`.
    pub column_options: Vec<IndexColumnOptions>,
    /// Access method; BTREE when absent.
    pub method: IndexMethod,
    /// A unique index.
    pub unique: bool,
    /// A unique index that counts NULLs as equal (`NULLS NOT DISTINCT`, PostgreSQL 15).
    pub nulls_not_distinct: bool,
    /// A partial index predicate, checked against the safe subset.
    pub predicate: Option<String>,
    /// Covering columns (`INCLUDE`).
    pub include: Vec<String>,
    /// In a change request: the index's name before this change.
    pub renamed_from: Option<String>,
}

impl Index {
    /// A plain ascending B-tree index over `columns`.
    pub fn on(columns: &[&str]) -> Self {
        Index {
            name: None,
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            column_options: Vec::new(),
            method: IndexMethod::Btree,
            unique: false,
            nulls_not_distinct: false,
            predicate: None,
            include: Vec::new(),
            renamed_from: None,
        }
    }
}

/// Where NULLs sort in an index column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NullsOrder {
    /// `NULLS FIRST`.
    #[serde(rename = "FIRST", alias = "first")]
    First,
    /// `NULLS LAST`.
    #[serde(rename = "LAST", alias = "last")]
    Last,
}

/// The ordering and operator class of one indexed column.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexColumnOptions {
    /// `DESC` (keyset pagination newest first, say).
    #[serde(default, skip_serializing_if = "is_false")]
    pub descending: bool,
    /// Where NULLs sort, when it is not PostgreSQL's default for the direction (last when
    /// ascending, first when descending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nulls: Option<NullsOrder>,
    /// An operator class other than the type's default (`text_pattern_ops`, `gin_trgm_ops`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_class: Option<String>,
}

impl IndexColumnOptions {
    /// The same options with a NULLS order that is the direction's default written as none,
    /// so equal orderings compare equal.
    #[must_use]
    pub fn normalized(mut self) -> Self {
        let default_nulls = if self.descending { NullsOrder::First } else { NullsOrder::Last };
        if self.nulls == Some(default_nulls) {
            self.nulls = None;
        }
        self
    }

    /// Whether these are the defaults (ascending, default NULLS order and operator class).
    pub fn is_default(&self) -> bool {
        *self == IndexColumnOptions::default()
    }

    /// The SQL after the column name: ` gin_trgm_ops DESC NULLS LAST`, or nothing.
    pub fn sql(&self) -> String {
        let mut sql = String::new();
        if let Some(class) = &self.operator_class {
            sql.push(' ');
            sql.push_str(&crate::expr::quote_identifier(class));
        }
        if self.descending {
            sql.push_str(" DESC");
        }
        match self.nulls {
            Some(NullsOrder::First) => sql.push_str(" NULLS FIRST"),
            Some(NullsOrder::Last) => sql.push_str(" NULLS LAST"),
            None => {}
        }
        sql
    }
}

/// Per-column options as stored: empty when all are defaults, else one per column.
pub fn index_column_options(options: Vec<IndexColumnOptions>) -> Vec<IndexColumnOptions> {
    let options: Vec<IndexColumnOptions> = options.into_iter().map(IndexColumnOptions::normalized).collect();
    if options.iter().all(IndexColumnOptions::is_default) { Vec::new() } else { options }
}

/// An index column in JSON: its name, or an object with its name and options.
#[derive(Debug, Clone, PartialEq)]
struct IndexColumnWire {
    name: String,
    options: IndexColumnOptions,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IndexColumnObject {
    name: String,
    #[serde(default)]
    descending: bool,
    #[serde(default)]
    nulls: Option<NullsOrder>,
    #[serde(default)]
    operator_class: Option<String>,
}

impl Serialize for IndexColumnWire {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The object form: the name, then the options as they serialize themselves.
        #[derive(Serialize)]
        struct Named<'a> {
            name: &'a str,
            #[serde(flatten)]
            options: &'a IndexColumnOptions,
        }
        if self.options.is_default() {
            serializer.serialize_str(&self.name)
        } else {
            Named { name: &self.name, options: &self.options }.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for IndexColumnWire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = IndexColumnWire;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a column name, or {\"name\", \"descending\", \"nulls\", \"operatorClass\"}")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
                Ok(IndexColumnWire { name: name.to_owned(), options: IndexColumnOptions::default() })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let object = IndexColumnObject::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(IndexColumnWire {
                    name: object.name,
                    options: IndexColumnOptions {
                        descending: object.descending,
                        nulls: object.nulls,
                        operator_class: object.operator_class,
                    },
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// [`Index`] as JSON.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IndexWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    columns: Vec<IndexColumnWire>,
    #[serde(rename = "type", default)]
    method: IndexMethod,
    #[serde(default, skip_serializing_if = "is_false")]
    unique: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    nulls_not_distinct: bool,
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    predicate: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    include: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    renamed_from: Option<String>,
}

impl From<IndexWire> for Index {
    fn from(wire: IndexWire) -> Self {
        let (columns, options): (Vec<String>, Vec<IndexColumnOptions>) =
            wire.columns.into_iter().map(|c| (c.name, c.options)).unzip();
        Index {
            name: wire.name,
            columns,
            column_options: index_column_options(options),
            method: wire.method,
            unique: wire.unique,
            nulls_not_distinct: wire.nulls_not_distinct,
            predicate: wire.predicate,
            include: wire.include,
            renamed_from: wire.renamed_from,
        }
    }
}

impl From<Index> for IndexWire {
    fn from(index: Index) -> Self {
        let columns = index
            .columns
            .into_iter()
            .enumerate()
            .map(|(i, name)| IndexColumnWire {
                name,
                options: index.column_options.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        IndexWire {
            name: index.name,
            columns,
            method: index.method,
            unique: index.unique,
            nulls_not_distinct: index.nulls_not_distinct,
            predicate: index.predicate,
            include: index.include,
            renamed_from: index.renamed_from,
        }
    }
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

    /// Whether a foreign key of this table (a column's or the table's) names `other`, the
    /// referenced schema defaulting to this table's own: what orders creating and dropping.
    pub fn refers_to(&self, other: &TableSchema) -> bool {
        let names_other = |schema: Option<&str>, name: &str| {
            name == other.table_name && schema.unwrap_or(self.schema_name()) == other.schema_name()
        };
        self.columns.iter().any(|c| c.references.as_ref().is_some_and(|r| names_other(r.schema.as_deref(), &r.table)))
            || self.foreign_keys.iter().any(|fk| names_other(fk.references.schema.as_deref(), &fk.references.table))
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
