//! The vocabulary of changes to an existing table, and the migration steps they become.
//!
//! A [`Change`] says what differs between two versions of a table in terms PostgreSQL acts
//! on (add a column, set a default, add an index ...), carrying what both directions need:
//! a dropped column keeps its old definition so that the way back can add it again. Changes
//! are computed by `schema-diff`, judged by the change rules of `policy` and turned into
//! [`Step`]s by `ddl-gen`. A migration is an ordered list of steps, each in a transaction of
//! its own or alone (`CREATE INDEX CONCURRENTLY` cannot run inside one).

use serde::{Deserialize, Serialize};

use crate::objects::{CheckDef, ForeignKeyDef, IndexDef, PrimaryKeyDef, UniqueDef};
use crate::table::{Column, EnumType, Identity, TableSchema};
use crate::types::ColumnType;

/// A constraint of any kind, with its effective name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Constraint {
    /// `PRIMARY KEY`.
    PrimaryKey(PrimaryKeyDef),
    /// `FOREIGN KEY ... REFERENCES`.
    ForeignKey(ForeignKeyDef),
    /// `UNIQUE`.
    Unique(UniqueDef),
    /// `CHECK`.
    Check(CheckDef),
}

impl Constraint {
    /// The constraint's name.
    pub fn name(&self) -> &str {
        match self {
            Self::PrimaryKey(c) => &c.name,
            Self::ForeignKey(c) => &c.name,
            Self::Unique(c) => &c.name,
            Self::Check(c) => &c.name,
        }
    }

    /// The columns it constrains (a check's: none here; see its expression).
    pub fn columns(&self) -> &[String] {
        match self {
            Self::PrimaryKey(c) => &c.columns,
            Self::ForeignKey(c) => &c.columns,
            Self::Unique(c) => &c.columns,
            Self::Check(_) => &[],
        }
    }

    /// `primary key`, `foreign key`, `unique` or `check`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::PrimaryKey(_) => "primary key",
            Self::ForeignKey(_) => "foreign key",
            Self::Unique(_) => "unique constraint",
            Self::Check(_) => "check constraint",
        }
    }
}

/// Several tables and the enum types that stand apart from them: a database schema as a
/// folder of migrations builds it or a database holds it. Each table keeps the enum types it
/// declares itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schema {
    /// The tables, in the order they were created.
    pub tables: Vec<TableSchema>,
    /// Enum types no table declares (shared ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enums: Vec<EnumType>,
}

impl Schema {
    /// The table of that schema and name.
    pub fn table(&self, schema: &str, name: &str) -> Option<&TableSchema> {
        self.tables.iter().find(|t| t.schema_name() == schema && t.table_name == name)
    }
}

/// One change to a schema of several tables. The JSON form is
/// `{"change": "alterTable", "schema": ..., "table": ..., "changes": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum SchemaChange {
    /// A table that did not exist.
    CreateTable {
        /// Its definition.
        table: TableSchema,
    },
    /// A table that goes, with its rows.
    DropTable {
        /// Its definition before.
        table: TableSchema,
    },
    /// A table that stays, changed (renamed, perhaps).
    AlterTable {
        /// Its schema.
        schema: String,
        /// Its name after the change.
        table: String,
        /// What changes, in order.
        changes: Vec<Change>,
    },
    /// Shared enum types added, changed or dropped.
    AlterTypes {
        /// `AddEnumType`, `AddEnumValue`, `RemoveEnumValue` or `DropEnumType` changes.
        changes: Vec<Change>,
    },
}

impl SchemaChange {
    /// In words, for reports: `create table public.a`, `alter table public.b: add column c`.
    pub fn describe(&self) -> String {
        let list = |changes: &[Change]| changes.iter().map(Change::describe).collect::<Vec<_>>().join(", ");
        match self {
            Self::CreateTable { table } => format!("create table {}.{}", table.schema_name(), table.table_name),
            Self::DropTable { table } => format!("drop table {}.{}", table.schema_name(), table.table_name),
            Self::AlterTable { schema, table, changes } => format!("alter table {schema}.{table}: {}", list(changes)),
            Self::AlterTypes { changes } => format!("types: {}", list(changes)),
        }
    }

    /// Whether it destroys stored values: a table dropped, or a change of a table that does.
    pub fn loses_data(&self) -> bool {
        match self {
            Self::DropTable { .. } => true,
            Self::AlterTable { changes, .. } => changes.iter().any(Change::loses_data),
            Self::CreateTable { .. } | Self::AlterTypes { .. } => false,
        }
    }
}

/// One change to a table. The JSON form is `{"change": "addColumn", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Change {
    /// `ALTER TABLE ... RENAME TO`.
    RenameTable {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A new column, with everything the new definition says about it.
    AddColumn {
        /// Its definition.
        column: Column,
        /// Whether it is NOT NULL.
        not_null: bool,
    },
    /// A column that is gone; its old definition, for the way back (without its data).
    DropColumn {
        /// Its definition before.
        column: Column,
        /// Whether it was NOT NULL.
        not_null: bool,
    },
    /// `ALTER TABLE ... RENAME COLUMN`.
    RenameColumn {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A column's type.
    ChangeType {
        /// The column (by its new name).
        column: String,
        /// The type before.
        from: ColumnType,
        /// The type after.
        to: ColumnType,
    },
    /// A column's default (`None`: no default).
    ChangeDefault {
        /// The column.
        column: String,
        /// Before (normalised).
        from: Option<String>,
        /// After (normalised).
        to: Option<String>,
    },
    /// A column's nullability.
    ChangeNullability {
        /// The column.
        column: String,
        /// Whether it may hold NULL afterwards.
        nullable: bool,
    },
    /// A column's identity (`None`: not an identity column).
    ChangeIdentity {
        /// The column.
        column: String,
        /// Before.
        from: Option<Identity>,
        /// After.
        to: Option<Identity>,
    },
    /// `COMMENT ON COLUMN` (`None`: no comment).
    ChangeColumnComment {
        /// The column.
        column: String,
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// `COMMENT ON TABLE`.
    ChangeTableComment {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// A new index.
    AddIndex {
        /// Its definition.
        index: IndexDef,
    },
    /// An index that is gone (or changed: dropped, then added again).
    DropIndex {
        /// Its definition before.
        index: IndexDef,
    },
    /// `ALTER INDEX ... RENAME TO`.
    RenameIndex {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A new constraint.
    AddConstraint {
        /// Its definition.
        constraint: Constraint,
    },
    /// A constraint that is gone (or changed).
    DropConstraint {
        /// Its definition before.
        constraint: Constraint,
    },
    /// `ALTER TABLE ... RENAME CONSTRAINT` (and the index behind it, for a primary key or
    /// unique constraint, which PostgreSQL renames with it).
    RenameConstraint {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A new enum type the table uses.
    AddEnumType {
        /// The type.
        enum_type: EnumType,
    },
    /// An enum type the table no longer declares.
    DropEnumType {
        /// The type before.
        enum_type: EnumType,
    },
    /// `ALTER TYPE ... ADD VALUE`.
    AddEnumValue {
        /// The type.
        type_name: String,
        /// The new label.
        value: String,
        /// The label it goes before (`None`: at the end).
        before: Option<String>,
    },
    /// A label an enum type loses: PostgreSQL cannot remove one, so no migration does this.
    RemoveEnumValue {
        /// The type.
        type_name: String,
        /// The label.
        value: String,
    },
}

impl Change {
    /// A short description, for step names and change lists.
    pub fn describe(&self) -> String {
        match self {
            Self::RenameTable { from, to } => format!("rename table {from} to {to}"),
            Self::AddColumn { column, .. } => format!("add column {}", column.name),
            Self::DropColumn { column, .. } => format!("drop column {}", column.name),
            Self::RenameColumn { from, to } => format!("rename column {from} to {to}"),
            Self::ChangeType { column, from, to } => format!("change the type of {column} from {from} to {to}"),
            Self::ChangeDefault { column, to: Some(_), .. } => format!("set the default of {column}"),
            Self::ChangeDefault { column, to: None, .. } => format!("drop the default of {column}"),
            Self::ChangeNullability { column, nullable: false } => format!("make {column} NOT NULL"),
            Self::ChangeNullability { column, nullable: true } => format!("allow NULL in {column}"),
            Self::ChangeIdentity { column, .. } => format!("change the identity of {column}"),
            Self::ChangeColumnComment { column, .. } => format!("comment on column {column}"),
            Self::ChangeTableComment { .. } => "comment on the table".to_owned(),
            Self::AddIndex { index } => format!("add index {}", index.name),
            Self::DropIndex { index } => format!("drop index {}", index.name),
            Self::RenameIndex { from, to } => format!("rename index {from} to {to}"),
            Self::AddConstraint { constraint } => format!("add {} {}", constraint.word(), constraint.name()),
            Self::DropConstraint { constraint } => format!("drop {} {}", constraint.word(), constraint.name()),
            Self::RenameConstraint { from, to } => format!("rename constraint {from} to {to}"),
            Self::AddEnumType { enum_type } => format!("create type {}", enum_type.name),
            Self::DropEnumType { enum_type } => format!("drop type {}", enum_type.name),
            Self::AddEnumValue { type_name, value, .. } => format!("add value '{value}' to type {type_name}"),
            Self::RemoveEnumValue { type_name, value } => format!("remove value '{value}' from type {type_name}"),
        }
    }

    /// The change that undoes this one, when there is one. Dropping what was added loses
    /// nothing the change made; adding back what was dropped restores the structure, not the
    /// data (see [`Change::loses_data`]). A label added to an enum type cannot be removed.
    pub fn inverse(&self) -> Option<Change> {
        Some(match self.clone() {
            Self::RenameTable { from, to } => Self::RenameTable { from: to, to: from },
            Self::AddColumn { column, not_null } => Self::DropColumn { column, not_null },
            Self::DropColumn { column, not_null } => Self::AddColumn { column, not_null },
            Self::RenameColumn { from, to } => Self::RenameColumn { from: to, to: from },
            Self::ChangeType { column, from, to } => Self::ChangeType { column, from: to, to: from },
            Self::ChangeDefault { column, from, to } => Self::ChangeDefault { column, from: to, to: from },
            Self::ChangeNullability { column, nullable } => Self::ChangeNullability { column, nullable: !nullable },
            Self::ChangeIdentity { column, from, to } => Self::ChangeIdentity { column, from: to, to: from },
            Self::ChangeColumnComment { column, from, to } => Self::ChangeColumnComment { column, from: to, to: from },
            Self::ChangeTableComment { from, to } => Self::ChangeTableComment { from: to, to: from },
            Self::AddIndex { index } => Self::DropIndex { index },
            Self::DropIndex { index } => Self::AddIndex { index },
            Self::RenameIndex { from, to } => Self::RenameIndex { from: to, to: from },
            Self::AddConstraint { constraint } => Self::DropConstraint { constraint },
            Self::DropConstraint { constraint } => Self::AddConstraint { constraint },
            Self::RenameConstraint { from, to } => Self::RenameConstraint { from: to, to: from },
            Self::AddEnumType { enum_type } => Self::DropEnumType { enum_type },
            Self::DropEnumType { enum_type } => Self::AddEnumType { enum_type },
            Self::AddEnumValue { .. } | Self::RemoveEnumValue { .. } => return None,
        })
    }

    /// Whether applying this change destroys data the table held: a dropped column's
    /// values. (A dropped table is not a change to it.)
    pub fn loses_data(&self) -> bool {
        matches!(self, Self::DropColumn { .. })
    }
}

/// How far a table's changes must keep applications working, after the compatibility
/// modes of Confluent's schema registry. The level is set per table in the policy file
/// (`BACKWARD` unless it says otherwise) or by a request (which is reviewed like any change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Compatibility {
    /// Any change.
    None,
    /// The application version that ran before the change keeps working after it: only
    /// additive changes (new nullable or defaulted columns, indexes, enum labels, comments,
    /// wider types, relaxed constraints).
    #[default]
    Backward,
    /// The application version after the change also works with the definition before it
    /// (so code can be deployed first): the way back must be a backward-compatible change.
    Forward,
    /// Both.
    Full,
}

impl Compatibility {
    /// `NONE`, `BACKWARD`, `FORWARD` or `FULL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::Forward => "FORWARD",
            Self::Full => "FULL",
        }
    }
}

impl std::str::FromStr for Compatibility {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_uppercase().as_str() {
            "NONE" => Ok(Self::None),
            "BACKWARD" => Ok(Self::Backward),
            "FORWARD" => Ok(Self::Forward),
            "FULL" => Ok(Self::Full),
            _ => Err(format!("unknown compatibility level \"{text}\"; expected NONE, BACKWARD, FORWARD or FULL")),
        }
    }
}

impl Change {
    /// Why the application version that ran before this change may fail after it, if it
    /// may: it reads or writes what is gone or renamed, or writes what is now refused.
    pub fn breaks_old_applications(&self) -> Option<&'static str> {
        match self {
            Self::DropColumn { .. } => Some("the column is gone, and queries that name it fail"),
            Self::RenameColumn { .. } => Some("queries that use the old column name fail"),
            Self::RenameTable { .. } => Some("queries that use the old table name fail"),
            Self::ChangeType { from, to, .. } if !from.changes_in_place_to(to) => {
                Some("values the old type held or accepted may not fit, and clients may not read the new type")
            }
            Self::ChangeNullability { nullable: false, .. } => Some("writes that leave the column NULL are refused"),
            Self::AddColumn { column, not_null: true } if column.default_value.is_none() => {
                Some("inserts that do not name the new column are refused")
            }
            Self::AddConstraint {
                constraint:
                    Constraint::Check(_) | Constraint::Unique(_) | Constraint::ForeignKey(_) | Constraint::PrimaryKey(_),
            } => Some("writes that satisfied the definition before may now be refused"),
            Self::RemoveEnumValue { .. } => Some("the label may be written and read by the old application"),
            Self::ChangeIdentity { to: Some(Identity::Always), .. } => {
                Some("inserts that give the column a value are refused (GENERATED ALWAYS)")
            }
            Self::ChangeDefault { to: None, .. } => {
                Some("inserts that relied on the default get NULL (or are refused)")
            }
            _ => None,
        }
    }

    /// Why this change is not allowed at `level`, if it is not.
    pub fn incompatible_at(&self, level: Compatibility) -> Option<String> {
        let backward = || self.breaks_old_applications().map(|why| format!("not backward compatible: {why}"));
        let forward = || {
            match self.inverse() {
            Some(inverse) => inverse
                .breaks_old_applications()
                .map(|_| "not forward compatible: the new application version would rely on it, so it cannot run against the definition before".to_owned()),
            None => Some("not forward compatible: it cannot be undone".to_owned()),
        }
        };
        match level {
            Compatibility::None => None,
            Compatibility::Backward => backward(),
            Compatibility::Forward => forward(),
            Compatibility::Full => backward().or_else(forward),
        }
    }
}

/// How a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TransactionMode {
    /// In a transaction of its own, under `lock_timeout`.
    Transaction,
    /// Alone, outside any transaction (`CREATE INDEX CONCURRENTLY` and its kind).
    Alone,
}

/// One step of a migration: statements that run together, or one that runs alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// What it does, in words.
    pub description: String,
    /// How it runs.
    pub mode: TransactionMode,
    /// The statements, each ending with `;`; idempotent: running the step again after it
    /// finished changes nothing.
    pub sql: String,
    /// For a step that builds an index concurrently: the index (schema, name). A build that
    /// was interrupted leaves an INVALID index of that name behind, which `IF NOT EXISTS`
    /// would keep; it is dropped first, and the step builds it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuilds_invalid_index: Option<(String, String)>,
    /// For a step that runs alone (and so cannot guard itself in a `DO` block): a condition
    /// (an SQL boolean expression) without which it has nothing to do, such as its table
    /// existing under the name it uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_if: Option<String>,
}

/// A migration of an existing table: the steps up, the steps back down, and what the way
/// back cannot restore.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepPlan {
    /// The steps of the change, in order.
    pub up: Vec<Step>,
    /// The steps that undo it, in order.
    pub down: Vec<Step>,
    /// What the down steps cannot give back (a dropped column's values, an enum label that
    /// stays), one sentence each.
    pub notes: Vec<String>,
}
