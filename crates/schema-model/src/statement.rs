//! An SQL statement of a migration file as the statement rules see it: what it does, to
//! which table, and what was known when it ran (whether the table was created in the same
//! file, whether the file runs in a transaction, whether a lock timeout was set). The SQL
//! reader (`ddl-parse`) fills it in; the rules (`policy`) never see SQL text.

/// One statement's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(clippy::struct_excessive_bools, reason = "independent facts the rules combine")]
pub struct StatementFacts {
    /// Its leading keywords: `CREATE INDEX`, `ALTER TABLE`, `GRANT`.
    pub kind: String,
    /// What it does.
    pub action: StatementAction,
    /// The table it acts on (`schema.name`), when it acts on one.
    pub table: Option<String>,
    /// Whether that table was created earlier in the same file: nobody else can hold a lock
    /// on it or read it yet, so locks and rewrites cost nothing.
    pub table_created_in_file: bool,
    /// Whether the statement runs inside a transaction (the file's, or a `BEGIN` of its own).
    pub in_transaction: bool,
    /// Whether `SET [LOCAL] lock_timeout` ran earlier in the file.
    pub lock_timeout_set: bool,
    /// Whether the file also creates or alters tables (for the rule against files that mix
    /// tables with functions, triggers and grants).
    pub file_changes_tables: bool,
}

/// What a statement does, as far as the rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementAction {
    /// `CREATE TABLE`.
    CreateTable {
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// Constraints declared without a name (PostgreSQL names them).
        unnamed_constraints: Vec<String>,
    },
    /// `CREATE [UNIQUE] INDEX`.
    CreateIndex {
        /// `CONCURRENTLY`.
        concurrently: bool,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `DROP INDEX`.
    DropIndex {
        /// `CONCURRENTLY`.
        concurrently: bool,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `ALTER TABLE … ADD COLUMN`.
    AddColumn {
        /// The column.
        column: String,
        /// Its default when that gives every row a value of its own (a rewrite).
        volatile_default: Option<String>,
        /// `NOT NULL` without a default on a table that has rows.
        not_null_without_default: bool,
    },
    /// `ALTER TABLE … ADD CONSTRAINT`.
    AddConstraint {
        /// `PRIMARY KEY`, `UNIQUE`, `FOREIGN KEY`, `CHECK`.
        kind: String,
        /// Its name, when given.
        name: Option<String>,
        /// `NOT VALID`.
        not_valid: bool,
        /// `USING INDEX` (a unique or primary key from an existing index).
        using_index: bool,
    },
    /// `ALTER TABLE … ALTER COLUMN … SET NOT NULL`.
    SetNotNull {
        /// The column.
        column: String,
        /// Whether a validated `CHECK (column IS NOT NULL)` exists, so that PostgreSQL skips
        /// the scan.
        proven_by_check: bool,
    },
    /// `ALTER TABLE … ALTER COLUMN … TYPE`.
    ChangeType {
        /// The column.
        column: String,
        /// Its type before, when known from earlier statements.
        from: Option<String>,
        /// The new type.
        to: String,
        /// Whether PostgreSQL rewrites the table for it (known only with `from`).
        rewrites: Option<bool>,
    },
    /// `DROP TABLE`.
    DropTable {
        /// `CASCADE`.
        cascade: bool,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `ALTER TABLE … DROP COLUMN`.
    DropColumn {
        /// The column.
        column: String,
        /// `CASCADE`.
        cascade: bool,
    },
    /// `TRUNCATE`.
    Truncate,
    /// `ALTER TABLE … RENAME COLUMN`.
    RenameColumn {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// `ALTER TABLE … RENAME TO`.
    RenameTable {
        /// The new name.
        to: String,
    },
    /// Another `ALTER TABLE` operation that takes the table's lock.
    OtherAlterTable,
    /// `GRANT … TO`.
    Grant {
        /// Who gets it.
        grantees: Vec<String>,
    },
    /// `CREATE FUNCTION`, `PROCEDURE` or `TRIGGER`.
    Routine,
    /// `INSERT`, `UPDATE` or `DELETE`: data in a schema file.
    Data {
        /// String literals of the statement (for placeholder data).
        literals: Vec<String>,
    },
    /// Anything else.
    Other,
}

impl StatementAction {
    /// Whether it takes a lock on an existing table that blocks its readers or writers.
    pub fn locks_table(&self) -> bool {
        match self {
            Self::CreateIndex { concurrently, .. } | Self::DropIndex { concurrently, .. } => !concurrently,
            Self::AddColumn { .. }
            | Self::AddConstraint { .. }
            | Self::SetNotNull { .. }
            | Self::ChangeType { .. }
            | Self::DropTable { .. }
            | Self::DropColumn { .. }
            | Self::Truncate
            | Self::RenameColumn { .. }
            | Self::RenameTable { .. }
            | Self::OtherAlterTable => true,
            Self::CreateTable { .. } | Self::Grant { .. } | Self::Routine | Self::Data { .. } | Self::Other => false,
        }
    }
}
