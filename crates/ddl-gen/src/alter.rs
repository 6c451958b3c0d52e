//! Changes to an existing table as lock-safe steps, by construction.
//!
//! Each [`Change`] becomes one or more [`Step`]s, and the way back is planned from the
//! inverse changes in reverse order. What the generator writes never needs a lint's warning:
//!
//! * indexes are built and dropped `CONCURRENTLY`, each alone, outside any transaction; a
//!   build interrupted before (an INVALID index of the same name) is dropped and built again;
//! * foreign keys and checks are added `NOT VALID`, then validated in a transaction of their
//!   own (which blocks no writes);
//! * `SET NOT NULL` goes through a validated `CHECK (c IS NOT NULL)`, so PostgreSQL skips the
//!   scan under its exclusive lock; unique and primary keys are attached to an index built
//!   concurrently (`USING INDEX`);
//! * a new column gets a default only when it is not volatile (no rewrite), and NOT NULL only
//!   with such a default; a type changes in place only where PostgreSQL neither rewrites nor
//!   scans; everything else is refused with the safe path spelled out;
//! * every transactional step runs under `lock_timeout`, and every step is idempotent: run
//!   again after it finished, it changes nothing.

use schema_model::change::{Change, Constraint, Step, StepPlan, TransactionMode};
use schema_model::expr::{ExprContext, parse_safe};
use schema_model::naming::{self, NamingOptions};
use schema_model::objects::IndexDef;
use schema_model::table::{Column, Identity, IndexMethod, TableSchema};
use std::fmt::Write as _;

use crate::GenError;
use crate::pg::{self, quote_ident, single_line, string_literal};

/// Plans the steps from `old` to `new` for `changes` (as `schema-diff` computed them), and the
/// steps back.
pub fn plan(
    old: &TableSchema,
    new: &TableSchema,
    changes: &[Change],
    naming: &NamingOptions,
) -> Result<StepPlan, GenError> {
    let _ = naming;
    let mut up = Planner::new(old, false, &old.table_name);
    for change in changes {
        up.change(change)?;
    }
    let mut down = Planner::new(new, true, &new.table_name);
    let mut notes = Vec::new();
    for change in changes.iter().rev() {
        if change.loses_data() {
            notes.push(format!("{}: the way back adds the column again, without its values", change.describe()));
        }
        match change.inverse() {
            Some(inverse) => {
                if inverse.loses_data() {
                    notes.push(format!("the way back drops what \"{}\" added, with its values", change.describe()));
                }
                down.change(&inverse)?;
            }
            None => notes.push(format!("{}: PostgreSQL cannot undo this; the way back leaves it", change.describe())),
        }
    }
    notes.extend(down.notes);
    Ok(StepPlan { up: up.steps, down: down.steps, notes })
}

/// A migration script that `psql -v ON_ERROR_STOP=1 -f` runs as it is: each transactional
/// step in `BEGIN ... COMMIT` under `lock_timeout`, each step that must run alone outside any
/// transaction (an interrupted index build found by psql's `\gset` and dropped first).
pub fn render(header: &str, direction: &str, steps: &[Step]) -> String {
    let mut out = format!("{header}\n-- {direction}\n");
    if steps.is_empty() {
        out.push_str("-- nothing to change\n");
    }
    for (i, step) in steps.iter().enumerate() {
        let _ = write!(out, "\n-- step {}: {}\n", i + 1, single_line(&step.description));
        match step.mode {
            TransactionMode::Transaction => {
                out.push_str("BEGIN;\nSET LOCAL lock_timeout = '5s';\n");
                out.push_str(&step.sql);
                out.push_str("COMMIT;\n");
            }
            TransactionMode::Alone => {
                if let Some(condition) = &step.only_if {
                    let _ = write!(
                        out,
                        "SELECT ({condition}) AS registry_step_applies \\gset\n\\if :registry_step_applies\n"
                    );
                }
                if let Some((schema, index)) = &step.rebuilds_invalid_index {
                    let _ = write!(
                        out,
                        "SELECT EXISTS ({}) AS registry_invalid_index \\gset\n\\if :registry_invalid_index\n\
                         DROP INDEX CONCURRENTLY IF EXISTS {};\n\\endif\n",
                        invalid_index_query(schema, index),
                        pg::qualified(Some(schema), index)
                    );
                }
                out.push_str("SET lock_timeout = '5s';\n");
                out.push_str(&step.sql);
                out.push_str("RESET lock_timeout;\n");
                if step.only_if.is_some() {
                    out.push_str("\\endif\n");
                }
            }
        }
    }
    out
}

/// A query whose one row says whether `schema.index` exists and is INVALID.
pub fn invalid_index_query(schema: &str, index: &str) -> String {
    format!(
        "SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = {} AND c.relname = {} AND NOT i.indisvalid",
        string_literal(schema),
        string_literal(index)
    )
}

/// The file name of a change: `YYYYMMDD_HHMMSS_alter_<table>`.
pub fn file_name(requested_at: Option<i64>, table: &str) -> String {
    let table: String = table
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c.to_ascii_lowercase() } else { '_' })
        .collect();
    format!("{}_alter_{table}", pg::utc_stamp(requested_at.unwrap_or(0)))
}

/// Steps for one direction, with the table's name as it is at each point.
struct Planner<'a> {
    /// The definition before this direction's changes.
    before: &'a TableSchema,
    /// Planning the way back: a type change that rewrites the table is allowed (with a note),
    /// a dropped column comes back nullable.
    down: bool,
    schema: String,
    table: String,
    steps: Vec<Step>,
    notes: Vec<String>,
}

impl<'a> Planner<'a> {
    fn new(before: &'a TableSchema, down: bool, table: &str) -> Self {
        Self {
            before,
            down,
            schema: before.schema_name().to_owned(),
            table: table.to_owned(),
            steps: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn table_ref(&self) -> String {
        pg::qualified(Some(&self.schema), &self.table)
    }

    /// `to_regclass('"schema"."table"')`: the table's oid, or NULL.
    fn regclass(&self) -> String {
        format!("to_regclass({})", string_literal(&self.table_ref()))
    }

    fn step(&mut self, description: String, sql: String) {
        self.steps.push(Step {
            description,
            mode: TransactionMode::Transaction,
            sql,
            rebuilds_invalid_index: None,
            only_if: None,
        });
    }

    /// A step outside any transaction; one that builds an index runs only while its table
    /// exists under the name it uses (a script run a second time may find it renamed).
    fn alone(&mut self, description: String, sql: String, rebuilds: Option<String>) {
        let only_if = rebuilds.is_some().then(|| self.table_exists());
        let rebuilds_invalid_index = rebuilds.map(|index| (self.schema.clone(), index));
        self.steps.push(Step { description, mode: TransactionMode::Alone, sql, rebuilds_invalid_index, only_if });
    }

    fn column_exists(&self, column: &str) -> String {
        format!(
            "EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = {} AND attname = {} AND NOT attisdropped)",
            self.regclass(),
            string_literal(column)
        )
    }

    fn table_exists(&self) -> String {
        format!("{} IS NOT NULL", self.regclass())
    }

    /// The table exists (under the name this step uses) and has no constraint `name`.
    fn constraint_absent(&self, name: &str) -> String {
        format!("{} AND NOT {}", self.table_exists(), self.constraint_exists(name, ""))
    }

    fn constraint_exists(&self, name: &str, extra: &str) -> String {
        format!(
            "EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = {} AND conname = {}{extra})",
            self.regclass(),
            string_literal(name)
        )
    }

    fn unsafe_change(change: &Change, reason: &str, suggestion: &str) -> GenError {
        GenError::UnsafeChange {
            change: change.describe(),
            reason: reason.to_owned(),
            suggestion: suggestion.to_owned(),
        }
    }

    fn change(&mut self, change: &Change) -> Result<(), GenError> {
        let t = self.table_ref();
        match change {
            Change::RenameTable { from, to } => {
                let old = pg::qualified(Some(&self.schema), from);
                let condition = format!(
                    "to_regclass({}) IS NOT NULL AND to_regclass({}) IS NULL",
                    string_literal(&old),
                    string_literal(&pg::qualified(Some(&self.schema), to))
                );
                self.step(
                    change.describe(),
                    guarded(&condition, &format!("ALTER TABLE {old} RENAME TO {}", quote_ident(to))),
                );
                self.table.clone_from(to);
            }
            Change::RenameColumn { from, to } => {
                let condition = format!("{} AND NOT {}", self.column_exists(from), self.column_exists(to));
                let sql = format!("ALTER TABLE {t} RENAME COLUMN {} TO {}", quote_ident(from), quote_ident(to));
                self.step(change.describe(), guarded(&condition, &sql));
            }
            Change::AddColumn { column, not_null } => self.add_column(change, column, *not_null)?,
            Change::DropColumn { column, .. } => {
                self.step(
                    change.describe(),
                    format!("ALTER TABLE IF EXISTS {t} DROP COLUMN IF EXISTS {};\n", quote_ident(&column.name)),
                );
            }
            Change::ChangeType { column, from, to } => {
                let type_sql = crate::type_sql(&self.schema, to);
                if from.changes_in_place_to(to) {
                    let sql = format!("ALTER TABLE {t} ALTER COLUMN {} TYPE {type_sql}", quote_ident(column));
                    self.step(change.describe(), guarded(&self.column_exists(column), &sql));
                } else if self.down {
                    self.notes.push(format!(
                        "the way back changes {column} from {from} to {to}: PostgreSQL rewrites the table under an \
                         exclusive lock, and fails if a value does not fit"
                    ));
                    let sql = format!(
                        "ALTER TABLE {t} ALTER COLUMN {} TYPE {type_sql} USING {}::{type_sql}",
                        quote_ident(column),
                        quote_ident(column)
                    );
                    self.step(change.describe(), guarded(&self.column_exists(column), &sql));
                } else {
                    return Err(Self::unsafe_change(
                        change,
                        "PostgreSQL rewrites (or scans) the whole table under an exclusive lock for this type change, \
                         blocking every read and write until it is done",
                        "add a new column of the new type, copy the values over in batches, move readers and writers \
                         to it, then drop the old column in a later change",
                    ));
                }
            }
            Change::ChangeDefault { column, to, .. } => {
                let sql = match to {
                    Some(default) => format!(
                        "ALTER TABLE {t} ALTER COLUMN {} SET DEFAULT {}",
                        quote_ident(column),
                        vetted(default, ExprContext::Default, column)?
                    ),
                    None => format!("ALTER TABLE {t} ALTER COLUMN {} DROP DEFAULT", quote_ident(column)),
                };
                self.step(change.describe(), guarded(&self.column_exists(column), &sql));
            }
            Change::ChangeNullability { column, nullable: true } => {
                let sql = format!("ALTER TABLE {t} ALTER COLUMN {} DROP NOT NULL", quote_ident(column));
                self.step(change.describe(), guarded(&self.column_exists(column), &sql));
            }
            Change::ChangeNullability { column, nullable: false } => self.set_not_null(column),
            Change::ChangeIdentity { column, from, to } => self.change_identity(column, *from, *to),
            Change::ChangeColumnComment { column, to, .. } => {
                let value = to.as_deref().map_or_else(|| "NULL".to_owned(), string_literal);
                let sql = format!("COMMENT ON COLUMN {t}.{} IS {value}", quote_ident(column));
                self.step(change.describe(), guarded(&self.column_exists(column), &sql));
            }
            Change::ChangeTableComment { to, .. } => {
                let value = to.as_deref().map_or_else(|| "NULL".to_owned(), string_literal);
                let sql = format!("COMMENT ON TABLE {t} IS {value}");
                self.step(change.describe(), guarded(&self.table_exists(), &sql));
            }
            Change::AddIndex { index } => {
                let sql = format!("{};\n", index_sql(index, &t, true)?);
                self.alone(change.describe(), sql, Some(index.name.clone()));
            }
            Change::DropIndex { index } => {
                let sql =
                    format!("DROP INDEX CONCURRENTLY IF EXISTS {};\n", pg::qualified(Some(&self.schema), &index.name));
                self.alone(change.describe(), sql, None);
            }
            Change::RenameIndex { from, to } => {
                let sql = format!(
                    "ALTER INDEX IF EXISTS {} RENAME TO {};\n",
                    pg::qualified(Some(&self.schema), from),
                    quote_ident(to)
                );
                self.step(change.describe(), sql);
            }
            Change::AddConstraint { constraint } => self.add_constraint(change, constraint)?,
            Change::DropConstraint { constraint } => {
                let sql = format!(
                    "ALTER TABLE IF EXISTS {t} DROP CONSTRAINT IF EXISTS {};\n",
                    quote_ident(constraint.name())
                );
                self.step(change.describe(), sql);
            }
            Change::RenameConstraint { from, to } => {
                let condition =
                    format!("{} AND NOT {}", self.constraint_exists(from, ""), self.constraint_exists(to, ""));
                let sql = format!("ALTER TABLE {t} RENAME CONSTRAINT {} TO {}", quote_ident(from), quote_ident(to));
                self.step(change.describe(), guarded(&condition, &sql));
            }
            Change::AddEnumType { enum_type } => {
                let sql =
                    format!("{};\n", pg::create_enum_guarded(Some(&self.schema), &enum_type.name, &enum_type.values));
                self.step(change.describe(), sql);
            }
            Change::DropEnumType { enum_type } => {
                let sql = format!("{};\n", pg::drop_enum_unless_used(Some(&self.schema), &enum_type.name));
                self.step(change.describe(), sql);
            }
            Change::AddEnumValue { type_name, value, before } => {
                let position = before.as_deref().map(|b| format!(" BEFORE {}", string_literal(b))).unwrap_or_default();
                let sql = format!(
                    "ALTER TYPE {} ADD VALUE IF NOT EXISTS {}{position};\n",
                    pg::qualified(Some(&self.schema), type_name),
                    string_literal(value)
                );
                self.step(change.describe(), sql);
            }
            Change::RemoveEnumValue { .. } => {
                return Err(Self::unsafe_change(
                    change,
                    "PostgreSQL cannot remove a label from an enum type",
                    "keep the label (and stop writing it), or move the column to a new enum type in steps",
                ));
            }
        }
        Ok(())
    }

    fn add_column(&mut self, change: &Change, column: &Column, not_null: bool) -> Result<(), GenError> {
        let t = self.table_ref();
        let mut definition =
            format!("{} {}", quote_ident(&column.name), crate::type_sql(&self.schema, &column.column_type));
        let volatile = column.column_type.is_serial()
            || column.identity.is_some()
            || column.default_value.as_deref().is_some_and(schema_model::expr::is_volatile_default);
        let mut not_null = not_null;
        let mut later_default = None;
        if self.down {
            // Its values are gone: it comes back empty (NULL in every row, so that the
            // constraints on it can be added back), with its default for new rows only, and
            // allowing NULL.
            if column.column_type.is_serial() || column.identity.is_some() {
                self.notes.push(format!(
                    "the way back adds {} again as a plain column (its sequence cannot come back without values)",
                    column.name
                ));
            } else if let Some(default) = &column.default_value {
                // SET DEFAULT after ADD COLUMN touches no row, even for a volatile default.
                later_default = Some(vetted(default, ExprContext::Default, &column.name)?);
            }
            if not_null {
                self.notes.push(format!("the way back adds {} again allowing NULL", column.name));
                not_null = false;
            }
        } else {
            if volatile {
                return Err(Self::unsafe_change(
                    change,
                    "a new column with a volatile default (a serial, an identity, a random or clock value) makes \
                     PostgreSQL rewrite the whole table under an exclusive lock",
                    "add the column without a default, set the default in the same change (it applies to new rows \
                     only), fill the existing rows in batches, then make it NOT NULL in a later change",
                ));
            }
            if not_null && column.default_value.is_none() {
                return Err(Self::unsafe_change(
                    change,
                    "a new NOT NULL column without a default fails on a table that has rows",
                    "add it with a constant default, or add it allowing NULL, fill it in batches, and require NOT \
                     NULL in a later change",
                ));
            }
            if let Some(default) = &column.default_value {
                let _ = write!(definition, " DEFAULT {}", vetted(default, ExprContext::Default, &column.name)?);
            }
        }
        if not_null {
            definition.push_str(" NOT NULL");
        }
        let mut sql = format!("ALTER TABLE IF EXISTS {t} ADD COLUMN IF NOT EXISTS {definition};\n");
        if let Some(default) = later_default {
            let statement = format!("ALTER TABLE {t} ALTER COLUMN {} SET DEFAULT {default}", quote_ident(&column.name));
            sql.push_str(&guarded(&self.column_exists(&column.name), &statement));
        }
        // The column's comment comes with it (ADD COLUMN has no place for one).
        if let Some(comment) = column.comment.as_ref().filter(|c| !c.is_empty()) {
            let statement =
                format!("COMMENT ON COLUMN {t}.{} IS {}", quote_ident(&column.name), string_literal(comment));
            sql.push_str(&guarded(&self.column_exists(&column.name), &statement));
        }
        self.step(change.describe(), sql);
        Ok(())
    }

    /// NOT NULL without a scan under the exclusive lock: a `CHECK (c IS NOT NULL) NOT VALID`,
    /// validated on its own (no writes blocked), then `SET NOT NULL` (PostgreSQL uses the
    /// valid check instead of scanning) and the check dropped.
    fn set_not_null(&mut self, column: &str) {
        let t = self.table_ref();
        let check = naming::check_name(&self.table, &format!("{column}_not_null"));
        let quoted_check = quote_ident(&check);
        let add = format!(
            "ALTER TABLE {t} ADD CONSTRAINT {quoted_check} CHECK ({} IS NOT NULL) NOT VALID",
            quote_ident(column)
        );
        let nullable = format!(
            "EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = {} AND attname = {} AND NOT attnotnull)",
            self.regclass(),
            string_literal(column)
        );
        let condition = format!("{nullable} AND NOT {}", self.constraint_exists(&check, ""));
        self.step(format!("check {column} IS NOT NULL, not yet validated"), guarded(&condition, &add));
        let validate = format!("ALTER TABLE {t} VALIDATE CONSTRAINT {quoted_check}");
        self.step(
            format!("validate that {column} holds no NULL"),
            guarded(&self.constraint_exists(&check, " AND NOT convalidated"), &validate),
        );
        let set = format!("ALTER TABLE {t} ALTER COLUMN {} SET NOT NULL", quote_ident(column));
        self.step(
            format!("make {column} NOT NULL"),
            format!(
                "{}ALTER TABLE IF EXISTS {t} DROP CONSTRAINT IF EXISTS {quoted_check};\n",
                guarded(&self.column_exists(column), &set)
            ),
        );
    }

    fn change_identity(&mut self, column: &str, from: Option<Identity>, to: Option<Identity>) {
        let t = self.table_ref();
        let kind = |identity: Identity| match identity {
            Identity::Always => "ALWAYS",
            Identity::ByDefault => "BY DEFAULT",
        };
        match (from, to) {
            (_, None) => {
                let sql = format!("ALTER TABLE {t} ALTER COLUMN {} DROP IDENTITY IF EXISTS", quote_ident(column));
                self.step(
                    format!("{column} stops being an identity column"),
                    guarded(&self.column_exists(column), &sql),
                );
            }
            (Some(_), Some(identity)) => {
                let sql =
                    format!("ALTER TABLE {t} ALTER COLUMN {} SET GENERATED {}", quote_ident(column), kind(identity));
                self.step(
                    format!("{column} becomes GENERATED {}", kind(identity)),
                    guarded(&self.column_exists(column), &sql),
                );
            }
            (None, Some(identity)) => {
                let was_not_null = self.before.column(column).is_some_and(|c| self.before.is_not_null(c));
                if !was_not_null {
                    self.set_not_null(column);
                }
                // The sequence starts after the values the column already holds.
                let not_identity = format!(
                    "EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = {} AND attname = {} AND attidentity = '')",
                    self.regclass(),
                    string_literal(column)
                );
                let statement = format!(
                    "EXECUTE format('ALTER TABLE %s ALTER COLUMN %I ADD GENERATED {} AS IDENTITY (START WITH %s)', {}, {}, \
                     (SELECT coalesce(max({}), 0) + 1 FROM {t}))",
                    kind(identity),
                    string_literal(&t),
                    string_literal(column),
                    quote_ident(column)
                );
                self.step(format!("{column} becomes an identity column"), guarded(&not_identity, &statement));
            }
        }
    }

    fn add_constraint(&mut self, change: &Change, constraint: &Constraint) -> Result<(), GenError> {
        let t = self.table_ref();
        let name = constraint.name().to_owned();
        let quoted = quote_ident(&name);
        match constraint {
            Constraint::Check(check) => {
                let expression = vetted(&check.expression, ExprContext::Check, &check.path)?;
                self.not_valid_then_validate(change, &name, &format!("CHECK ({expression})"));
            }
            Constraint::ForeignKey(fk) => {
                let definition = foreign_key_definition(fk, &self.schema);
                self.not_valid_then_validate(change, &name, &definition);
            }
            Constraint::Unique(unique) => {
                let index = IndexDef {
                    name: name.clone(),
                    explicit_name: true,
                    columns: unique.columns.clone(),
                    column_options: Vec::new(),
                    method: IndexMethod::Btree,
                    unique: true,
                    nulls_not_distinct: false,
                    predicate: None,
                    include: Vec::new(),
                    path: unique.path.clone(),
                    renamed_from: None,
                };
                let sql = format!("{};\n", index_sql(&index, &t, true)?);
                self.alone(format!("build the unique index of {name}"), sql, Some(name.clone()));
                let attach = format!("ALTER TABLE {t} ADD CONSTRAINT {quoted} UNIQUE USING INDEX {quoted}");
                self.step(change.describe(), guarded(&self.constraint_absent(&name), &attach));
            }
            Constraint::PrimaryKey(pk) => {
                let index = IndexDef {
                    name: name.clone(),
                    explicit_name: true,
                    columns: pk.columns.clone(),
                    column_options: Vec::new(),
                    method: IndexMethod::Btree,
                    unique: true,
                    nulls_not_distinct: false,
                    predicate: None,
                    include: Vec::new(),
                    path: pk.path.clone(),
                    renamed_from: None,
                };
                let sql = format!("{};\n", index_sql(&index, &t, true)?);
                self.alone(format!("build the index of primary key {name}"), sql, Some(name.clone()));
                let attach = format!("ALTER TABLE {t} ADD CONSTRAINT {quoted} PRIMARY KEY USING INDEX {quoted}");
                self.step(change.describe(), guarded(&self.constraint_absent(&name), &attach));
            }
        }
        Ok(())
    }

    /// `ADD CONSTRAINT ... NOT VALID` (a brief lock, no scan), then `VALIDATE CONSTRAINT` in
    /// a transaction of its own (it scans, but blocks no reads or writes).
    fn not_valid_then_validate(&mut self, change: &Change, name: &str, definition: &str) {
        let t = self.table_ref();
        let quoted = quote_ident(name);
        let add = format!("ALTER TABLE {t} ADD CONSTRAINT {quoted} {definition} NOT VALID");
        self.step(format!("{}, not yet validated", change.describe()), guarded(&self.constraint_absent(name), &add));
        let validate = format!("ALTER TABLE {t} VALIDATE CONSTRAINT {quoted}");
        self.step(
            format!("validate {name}"),
            guarded(&self.constraint_exists(name, " AND NOT convalidated"), &validate),
        );
    }
}

/// `DO $$ BEGIN IF <condition> THEN <statement>; END IF; END $$;`
/// `FOREIGN KEY (…) REFERENCES schema.table (…) [ON DELETE …] [ON UPDATE …]`, the referenced
/// table in `default_schema` unless the key names its schema.
pub fn foreign_key_definition(fk: &schema_model::objects::ForeignKeyDef, default_schema: &str) -> String {
    let referenced_schema = fk.referenced_schema.as_deref().unwrap_or(default_schema);
    let mut definition = format!(
        "FOREIGN KEY ({}) REFERENCES {} ({})",
        idents(&fk.columns),
        pg::qualified(Some(referenced_schema), &fk.referenced_table),
        idents(&fk.referenced_columns)
    );
    if let Some(action) = fk.on_delete {
        let _ = write!(definition, " ON DELETE {}", action.sql());
    }
    if let Some(action) = fk.on_update {
        let _ = write!(definition, " ON UPDATE {}", action.sql());
    }
    if let Some(deferrable) = fk.deferrable {
        definition.push_str(deferrable.sql());
    }
    definition
}

fn guarded(condition: &str, statement: &str) -> String {
    let body = format!("IF {condition} THEN\n    {statement};\n  END IF;");
    let mut tag = "$registry$".to_owned();
    let mut n = 0u32;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$registry{n}$");
    }
    format!("DO {tag} BEGIN\n  {body}\nEND {tag};\n")
}

fn idents(columns: &[String]) -> String {
    columns.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ")
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS ...`.
/// `CREATE [UNIQUE] INDEX [CONCURRENTLY] IF NOT EXISTS` for an index of the model: method,
/// columns with their operator classes and ordering, `INCLUDE`, `NULLS NOT DISTINCT`, and
/// the vetted predicate. The one writer of an index, for new tables and changed ones.
pub(crate) fn index_sql(index: &IndexDef, table_ref: &str, concurrently: bool) -> Result<String, GenError> {
    let mut sql = format!(
        "CREATE {}INDEX {}IF NOT EXISTS {} ON {table_ref}",
        if index.unique { "UNIQUE " } else { "" },
        if concurrently { "CONCURRENTLY " } else { "" },
        quote_ident(&index.name)
    );
    if index.method != IndexMethod::Btree {
        let _ = write!(sql, " USING {}", index.method.sql());
    }
    let _ = write!(sql, " ({})", index.columns_sql());
    if !index.include.is_empty() {
        let _ = write!(sql, " INCLUDE ({})", idents(&index.include));
    }
    if index.unique && index.nulls_not_distinct {
        sql.push_str(" NULLS NOT DISTINCT");
    }
    if let Some(predicate) = &index.predicate {
        let _ =
            write!(sql, " WHERE {}", vetted(predicate, ExprContext::IndexPredicate, &format!("{}.where", index.path))?);
    }
    Ok(sql)
}

/// An expression through the safe subset, as SQL.
fn vetted(text: &str, context: ExprContext, at: &str) -> Result<String, GenError> {
    parse_safe(text, context)
        .map(|e| e.sql)
        .map_err(|e| GenError::UnsafeExpression { path: at.to_owned(), message: e.to_string() })
}
