//! Statements replayed, in order, into a [`Schema`]: what CREATE TABLE / INDEX / TYPE … AS
//! ENUM, ALTER TABLE, ALTER TYPE … ADD VALUE, COMMENT ON and DROP do to tables. Whatever the
//! model cannot hold, or a statement that is not about tables, is listed in
//! [`Replay::skipped`] with where it is and why; nothing is dropped silently (only
//! transaction control and `SET`, which define nothing, pass without a word).

use std::rc::Rc;

use schema_model::change::Schema;
use schema_model::expr::{ExprContext, from_catalog_tree};
use schema_model::table::{
    CheckConstraint, Column, ColumnReference, Deferrable, EnumType, ForeignKey, ForeignKeyTarget, Identity, Index,
    IndexColumnOptions, IndexMethod, NullsOrder, ReferentialAction, TableSchema, UniqueConstraint,
    index_column_options,
};
use schema_model::types::ColumnType;
use serde::Serialize;
use sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, AlterTypeOperation, ColumnDef, ColumnOption, CommentObject,
    ConstraintCharacteristics, CreateIndex, CreateTable, DataType, Expr, GeneratedAs, Ident, IndexColumn, IndexType,
    ObjectName, ObjectNamePart, ObjectType, RenameTableNameKind, Statement, TableConstraint,
    UserDefinedTypeRepresentation,
};

use crate::parse::{Outcome, ParsedStatement, parse_one};

/// Something of the input the model does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The file.
    pub path: String,
    /// The line the statement starts on.
    pub line: u32,
    /// What it is: `CREATE FUNCTION`, `column default`, `partitioned table`, ...
    pub kind: String,
    /// Why it was not taken.
    pub reason: String,
}

/// An extension the files install (`CREATE EXTENSION`): not part of a table, but what the
/// tables' operator classes, index methods and defaults may need, so an import script
/// installs it first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Extension {
    /// Its name (`pg_trgm`, `uuid-ossp`).
    pub name: String,
    /// The schema given with `WITH SCHEMA`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

impl Extension {
    /// Reads `CREATE EXTENSION [IF NOT EXISTS] name [WITH] [SCHEMA schema] …`.
    pub fn of_statement(text: &str) -> Option<Extension> {
        let words = text.split(|c: char| c.is_whitespace() || c == ';').filter(|w| !w.is_empty());
        let mut rest = words.skip_while(|w| !w.eq_ignore_ascii_case("EXTENSION")).skip(1);
        let mut name = rest.next()?;
        if name.eq_ignore_ascii_case("IF") {
            name = rest.nth(2)?;
        }
        let schema = rest.skip_while(|w| !w.eq_ignore_ascii_case("SCHEMA")).nth(1);
        let unquote = |word: &str| match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => word.to_lowercase(),
        };
        Some(Extension { name: unquote(name), schema: schema.map(unquote) })
    }

    /// The names `DROP EXTENSION [IF EXISTS] a, b [CASCADE]` drops.
    pub fn names_dropped(text: &str) -> Vec<String> {
        text.split(|c: char| c.is_whitespace() || c == ';' || c == ',')
            .filter(|w| !w.is_empty())
            .skip_while(|w| !w.eq_ignore_ascii_case("EXTENSION"))
            .skip(1)
            .filter(|w| !["IF", "EXISTS", "CASCADE", "RESTRICT"].iter().any(|k| k.eq_ignore_ascii_case(w)))
            .map(|w| match w.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
                Some(quoted) => quoted.to_owned(),
                None => w.to_lowercase(),
            })
            .collect()
    }
}

/// The schema the files build, and what was left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Replay {
    /// The tables (with the enum types only they use) and the shared enum types.
    pub schema: Schema,
    /// What the model could not take, in file order.
    pub skipped: Vec<Skipped>,
    /// The extensions the files install, in order.
    pub extensions: Vec<Extension>,
    /// Statements read.
    pub statements: usize,
    /// Statements sqlparser could not read.
    pub not_understood: usize,
}

/// Replays `files` (path and text) in order.
pub fn replay<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Replay {
    let (paths, texts): (Vec<&str>, Vec<&str>) = files.into_iter().unzip();
    let mut state = State::default();
    crate::parse::parse_each(&texts, |at, statements| {
        for statement in &statements {
            state.statement(paths[at], statement);
        }
    });
    state.finish()
}

/// One SQL file to lint: its path, text, and whether its tool runs it in a transaction.
#[derive(Debug, Clone, Copy)]
pub struct SqlFile<'a> {
    /// Where it is (shown in findings).
    pub path: &'a str,
    /// Its SQL.
    pub text: &'a str,
    /// Whether its migration tool wraps it in a transaction.
    pub in_transaction: bool,
    /// For a migration of a folder: its version and direction. A down migration is judged
    /// against the schema as it stood right after its up migration (what it undoes), not
    /// after every later one.
    pub migration: Option<(&'a str, crate::layout::Direction)>,
    /// Whether its tool sends it as one multi-statement query (an implicit transaction).
    pub one_query: bool,
}

impl<'a> SqlFile<'a> {
    /// A file given alone: run as psql runs it, each statement on its own.
    pub fn alone(path: &'a str, text: &'a str) -> Self {
        Self { path, text, in_transaction: false, migration: None, one_query: false }
    }

    /// One migration of a folder.
    pub fn of_migration(migration: &'a crate::layout::Migration<'_>) -> Self {
        Self {
            path: &migration.path,
            text: &migration.sql,
            in_transaction: migration.in_transaction,
            migration: Some((&migration.version, migration.direction)),
            one_query: migration.one_query,
        }
    }
}

/// One statement of a linted file: where it is and what it does.
#[derive(Debug, Clone)]
pub struct LintedStatement {
    /// Its first character.
    pub start: crate::scan::Position,
    /// Its last character.
    pub end: crate::scan::Position,
    /// Its leading keywords.
    pub kind: String,
    /// What it does, for the statement rules (none for psql meta-commands and COPY data).
    pub facts: Option<schema_model::statement::StatementFacts>,
    /// Why sqlparser could not read it, when it could not.
    pub not_understood: Option<String>,
    /// The `-- registry:…` comments just before it, with their lines: those that may be
    /// suppressions (the others are not kept; a folder has many).
    pub comments_before: Vec<(u32, String)>,
}

/// One linted file: its statements, and the tables it created or changed (with the line of
/// the first statement that did), for the table rules.
#[derive(Debug, Clone)]
pub struct LintedFile {
    /// The file.
    pub path: String,
    /// Its statements, in order.
    pub statements: Vec<LintedStatement>,
    /// `(schema, table, line, definition)` of each table the file created or changed: the
    /// line of the first statement that did, the definition as it stands after the file.
    pub tables: Vec<(String, String, u32, TableSchema)>,
}

/// Replays `files` in order like [`replay`], and says for each statement what it does and
/// what was known when it ran. The replay's `skipped` is left empty: the lint reports what
/// it could not read as findings of its own.
pub fn replay_for_lint(files: &[SqlFile<'_>]) -> (Replay, Vec<LintedFile>) {
    let texts: Vec<&str> = files.iter().map(|f| f.text).collect();
    // Only the versions a down migration undoes are kept.
    let undone = files
        .iter()
        .filter_map(|f| match f.migration {
            Some((version, crate::layout::Direction::Down)) => Some(version),
            _ => None,
        })
        .collect();
    let mut linting = Linting {
        files,
        state: State { unlisted: true, ..State::default() },
        linted: Vec::new(),
        after_up: std::collections::HashMap::new(),
        undone,
        latest: None,
        file: None,
    };
    crate::parse::parse_stream(&texts, &mut linting);
    let Linting { mut state, linted, latest, .. } = linting;
    // The replay's schema is the one after the ups.
    if let Some((tables, enums)) = latest {
        state.tables = tables;
        state.enums = enums;
    }
    (state.finish(), linted)
}

/// The schema's tables and enum types at one point.
type Snapshot = (Vec<Rc<TableSchema>>, Vec<EnumType>);

/// [`replay_for_lint`] as it reads the statements.
struct Linting<'f, 'a> {
    files: &'f [SqlFile<'a>],
    state: State,
    linted: Vec<LintedFile>,
    /// The schema right after each up migration, for the down migration that undoes it.
    after_up: std::collections::HashMap<&'a str, Snapshot>,
    undone: std::collections::HashSet<&'a str>,
    /// The schema after the ups, while a down migration is judged.
    latest: Option<Snapshot>,
    /// The file being read: what is known in it, what it said so far, and the tables it
    /// touched (`schema.table` → place in the file's `tables`).
    file: Option<(crate::facts::FileContext, LintedFile, std::collections::HashMap<String, usize>)>,
}

impl<'a> crate::parse::Reader<'a> for Linting<'_, 'a> {
    fn begin_file(&mut self, at: usize, pieces: &[crate::parse::SplitPiece<'a>]) {
        let file = &self.files[at];
        if let Some((version, crate::layout::Direction::Down)) = file.migration
            && let Some((tables, enums)) = self.after_up.remove(version)
        {
            if self.latest.is_none() {
                self.latest = Some((self.state.tables.clone(), self.state.enums.clone()));
            }
            self.state.tables = tables;
            self.state.enums = enums;
        }
        let context = crate::facts::FileContext::new(file, pieces);
        let out =
            LintedFile { path: file.path.to_owned(), statements: Vec::with_capacity(pieces.len()), tables: Vec::new() };
        self.file = Some((context, out, std::collections::HashMap::new()));
    }

    fn statement(&mut self, at: usize, statement: ParsedStatement<'a>) -> Option<Box<sqlparser::ast::Statement>> {
        let path = self.files[at].path;
        let (context, out, touched) = self.file.as_mut()?;
        let facts = match &statement.outcome {
            Outcome::Parsed(parsed) => {
                Some(crate::facts::facts(&self.state, context, parsed, &statement.kind, statement.piece.text))
            }
            Outcome::NotUnderstood { .. } | Outcome::Classified { .. } => {
                Some(crate::facts::unparsed_facts(context, &statement.kind, statement.piece.text))
            }
            Outcome::MetaCommand { .. } | Outcome::CopyData => None,
        };
        if let Some(facts) = &facts
            && let Some(table) = &facts.table
            && changes_table(&facts.action)
            && !touched.contains_key(table)
        {
            let (schema, name) = table.split_once('.').unwrap_or(("public", table.as_str()));
            touched.insert(table.clone(), out.tables.len());
            out.tables.push((
                schema.to_owned(),
                name.to_owned(),
                statement.piece.start.line,
                TableSchema::new(String::new()),
            ));
        }
        self.state.statement(path, &statement);
        // The file's record follows a rename the replay made: one it refused (onto a name
        // that is taken, as PostgreSQL refuses it) leaves the table under its old name.
        if let Some(facts) = &facts
            && let schema_model::statement::StatementAction::RenameTable { to } = &facts.action
            && let Some(table) = &facts.table
            && let Some(&at) = touched.get(table)
            && !self
                .state
                .tables
                .iter()
                .any(|t| t.schema_name() == out.tables[at].0 && t.table_name == out.tables[at].1)
        {
            out.tables[at].1.clone_from(to);
            let renamed = format!("{}.{to}", out.tables[at].0);
            touched.insert(renamed, at);
        }
        let (not_understood, tree) = match statement.outcome {
            Outcome::NotUnderstood { reason, .. } => (Some(reason), None),
            Outcome::Parsed(tree) => (None, Some(tree)),
            _ => (None, None),
        };
        out.statements.push(LintedStatement {
            start: statement.piece.start,
            end: statement.piece.end,
            kind: statement.kind,
            facts,
            not_understood,
            comments_before: statement
                .piece
                .comments_before
                .iter()
                .filter(|(_, comment)| comment.contains("registry:"))
                .map(|(line, comment)| (*line, (*comment).to_owned()))
                .collect(),
        });
        tree
    }

    fn end_file(&mut self, at: usize) {
        let Some((_, mut out, _)) = self.file.take() else { return };
        let state = &self.state;
        // The tables as they stand after the file, with the enum types they use; those
        // dropped again in the file are not judged.
        out.tables = out
            .tables
            .into_iter()
            .filter_map(|(schema, name, line, _)| {
                let table = state.tables.iter().find(|t| t.schema_name() == schema && t.table_name == name)?;
                let used: Vec<EnumType> = state.enums.iter().filter(|e| uses_type(table, &e.name)).cloned().collect();
                let mut table = TableSchema::clone(table);
                table.enums.extend(used);
                Some((schema, name, line, table))
            })
            .collect();
        self.linted.push(out);
        if let Some((version, crate::layout::Direction::Up)) = self.files[at].migration
            && self.undone.contains(version)
        {
            self.after_up.insert(version, (self.state.tables.clone(), self.state.enums.clone()));
        }
    }
}

fn uses_type(table: &TableSchema, type_name: &str) -> bool {
    table.columns.iter().any(|c| matches!(c.column_type.element(), ColumnType::Named(n) if n == type_name))
}

/// Whether an action creates or changes a table's definition (so the table rules judge it).
fn changes_table(action: &schema_model::statement::StatementAction) -> bool {
    use schema_model::statement::StatementAction as A;
    matches!(
        action,
        A::CreateTable { .. }
            | A::CreateIndex { .. }
            | A::AddColumn { .. }
            | A::AddConstraint { .. }
            | A::SetNotNull { .. }
            | A::ChangeType { .. }
            | A::DropColumn { .. }
            | A::RenameColumn { .. }
            | A::RenameTable { .. }
            | A::OtherAlterTable
    )
}

#[derive(Default)]
pub(crate) struct State {
    /// Shared, so that the schema after each up migration is kept for its down migration
    /// at the price of the tables that change between them (copied when written).
    pub(crate) tables: Vec<Rc<TableSchema>>,
    pub(crate) enums: Vec<EnumType>,
    skipped: Vec<Skipped>,
    /// Parts of the statement being applied that the model does not hold, though it took
    /// the rest (a table's storage parameters): listed in `skipped` with its place.
    left_out: Vec<String>,
    extensions: Vec<Extension>,
    statements: usize,
    not_understood: usize,
    /// `skipped` is not kept: the lint says what it could not read in its own findings.
    unlisted: bool,
}

/// PostgreSQL's folding: unquoted names are lower case.
pub(crate) fn ident(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        // The same folding, without the Unicode tables, for the names nearly all are.
        None if ident.value.is_ascii() => ident.value.to_ascii_lowercase(),
        None => ident.value.to_lowercase(),
    }
}

/// `(schema, name)` of a possibly qualified name; the schema is `None` when not given.
pub(crate) fn qualified(name: &ObjectName) -> (Option<String>, String) {
    // Only the last two parts are read (a database name before them is not).
    let part = |part: &ObjectNamePart| match part {
        ObjectNamePart::Identifier(i) => ident(i),
        ObjectNamePart::Function(f) => f.to_string(),
    };
    match name.0.as_slice() {
        [.., schema, name] => (Some(part(schema)), part(name)),
        [name] => (None, part(name)),
        [] => (None, String::new()),
    }
}

fn schema_of(schema: Option<&String>) -> &str {
    schema.map_or("public", String::as_str)
}

impl State {
    /// Lists what was left out, where and why (the reason is written only when listed).
    fn skip(&mut self, path: &str, line: u32, kind: &str, reason: impl std::fmt::Display) {
        if !self.unlisted {
            self.skipped.push(Skipped {
                path: path.to_owned(),
                line,
                kind: kind.to_owned(),
                reason: reason.to_string(),
            });
        }
    }

    /// Where the table `name` names is in `tables`.
    fn table_index(&self, name: &ObjectName) -> Option<usize> {
        let (schema, table) = qualified(name);
        self.tables.iter().position(|t| t.schema_name() == schema_of(schema.as_ref()) && t.table_name == table)
    }

    fn table_mut(&mut self, name: &ObjectName) -> Option<&mut TableSchema> {
        let index = self.table_index(name)?;
        self.tables.get_mut(index).map(Rc::make_mut)
    }

    fn statement(&mut self, path: &str, statement: &ParsedStatement<'_>) {
        let line = statement.piece.start.line;
        match &statement.outcome {
            Outcome::MetaCommand { command } => {
                self.skip(path, line, "psql meta-command", format_args!("{command} is a psql command, not SQL"));
            }
            Outcome::CopyData => {}
            // Parsed by sqlparser or not, read from its words.
            Outcome::Classified { .. } | Outcome::Parsed(_) if statement.kind == "CREATE EXTENSION" => {
                self.statements += 1;
                match Extension::of_statement(statement.piece.text) {
                    Some(extension) if !self.extensions.iter().any(|e| e.name == extension.name) => {
                        self.extensions.push(extension);
                    }
                    Some(_) => {}
                    None => self.skip(path, line, "CREATE EXTENSION", "an extension without a name"),
                }
            }
            Outcome::Classified { .. } | Outcome::Parsed(_) if statement.kind == "DROP EXTENSION" => {
                self.statements += 1;
                let dropped = Extension::names_dropped(statement.piece.text);
                self.extensions.retain(|e| !dropped.contains(&e.name));
            }
            Outcome::Classified { kind } => {
                self.statements += 1;
                self.skip(path, line, kind, format_args!("{kind} is not part of a table definition"));
            }
            Outcome::NotUnderstood { kind, reason } => {
                self.statements += 1;
                if kind == "DO" && self.do_block(path, line, statement.piece.text) {
                    return;
                }
                self.not_understood += 1;
                self.skip(path, line, kind, format_args!("not understood: {reason}"));
            }
            Outcome::Parsed(parsed) => {
                self.statements += 1;
                if let Err(reason) = self.apply(parsed) {
                    let reason = match reason.strip_prefix("it ") {
                        Some(rest) => format!("{} {rest}", statement.kind),
                        None => reason,
                    };
                    self.skip(path, line, &statement.kind, reason);
                }
                // What the statement said that the model left out while taking the rest.
                for reason in std::mem::take(&mut self.left_out) {
                    self.skip(path, line, &statement.kind, reason);
                }
            }
        }
    }

    /// A `DO` block that only guards DDL (`BEGIN <statements> [EXCEPTION WHEN duplicate_object
    /// THEN NULL;] END`) is read as its statements; anything else is not understood.
    fn do_block(&mut self, path: &str, line: u32, text: &str) -> bool {
        let Some(body) = dollar_body(text) else { return false };
        let upper = body.to_ascii_uppercase();
        let Some(begin) = upper.find("BEGIN") else { return false };
        // `EXCEPTION WHEN duplicate_object [OR duplicate_table] THEN NULL`: what exists already
        // is left as it is (the registry's own guarded steps write this).
        let guard = upper.find("EXCEPTION WHEN").filter(|at| {
            let rest = &upper[at + "EXCEPTION WHEN".len()..];
            rest.split_once("THEN NULL").is_some_and(|(conditions, _)| {
                conditions.split_whitespace().all(|w| ["DUPLICATE_OBJECT", "DUPLICATE_TABLE", "OR"].contains(&w))
            })
        });
        let end = guard.or_else(|| upper.rfind("END")).unwrap_or(body.len());
        let inner = body.get(begin + 5..end).unwrap_or_default();
        let statements: Vec<Result<Statement, String>> =
            crate::scan::split(inner).iter().map(|p| parse_one(p.text)).collect();
        if statements.is_empty()
            || statements.iter().any(|s| !matches!(s, Ok(Statement::CreateType { .. } | Statement::AlterTable(_))))
        {
            return false;
        }
        for statement in statements.into_iter().flatten() {
            if let Err(reason) = self.apply(&statement) {
                self.skip(path, line, "DO", reason);
            }
            for reason in std::mem::take(&mut self.left_out) {
                self.skip(path, line, "DO", reason);
            }
        }
        true
    }

    fn apply(&mut self, statement: &Statement) -> Result<(), String> {
        match statement {
            Statement::CreateTable(create) => self.create_table(create),
            Statement::CreateIndex(create) => self.create_index(create),
            Statement::AlterTable(alter) => self.alter_table(alter),
            Statement::CreateType { name, representation } => {
                let Some(UserDefinedTypeRepresentation::Enum { labels }) = representation else {
                    return Err("only enum types are part of the model".to_owned());
                };
                let (_, type_name) = qualified(name);
                if self.enums.iter().any(|e| e.name == type_name) {
                    return Err(format!("type {type_name} exists already"));
                }
                self.enums.push(EnumType { name: type_name, values: labels.iter().map(|l| l.value.clone()).collect() });
                Ok(())
            }
            Statement::AlterType(alter) => {
                let (_, type_name) = qualified(&alter.name);
                let enum_type = self
                    .enums
                    .iter_mut()
                    .find(|e| e.name == type_name)
                    .ok_or_else(|| format!("type {type_name} is not an enum type created before"))?;
                match &alter.operation {
                    AlterTypeOperation::AddValue(add) => {
                        if !enum_type.values.contains(&add.value.value) {
                            enum_type.values.push(add.value.value.clone());
                        }
                        Ok(())
                    }
                    AlterTypeOperation::RenameValue(rename) => {
                        for value in &mut enum_type.values {
                            if *value == rename.from.value {
                                value.clone_from(&rename.to.value);
                            }
                        }
                        Ok(())
                    }
                    AlterTypeOperation::Rename(_) => Err("renaming a type is not replayed".to_owned()),
                }
            }
            Statement::Comment { object_type, object_name, comment, .. } => {
                self.comment(*object_type, object_name, comment.clone())
            }
            Statement::Drop { object_type, names, if_exists, .. } => self.drop(*object_type, names, *if_exists),
            Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Set(_) => Ok(()),
            _ => Err("it is not part of a table definition".to_owned()),
        }
    }

    fn create_table(&mut self, create: &CreateTable) -> Result<(), String> {
        let (schema, name) = qualified(&create.name);
        if create.partition_of.is_some() || create.for_values.is_some() {
            return Err(format!("{name} is a partition; partitions are not part of the model"));
        }
        if create.partition_by.is_some() {
            return Err(format!("{name} is partitioned (PARTITION BY); partitioned tables are not part of the model"));
        }
        if create.inherits.is_some() {
            return Err(format!("{name} inherits from another table; inheritance is not part of the model"));
        }
        if create.like.is_some() || create.query.is_some() || create.clone.is_some() {
            return Err(format!("{name} is made from another table or a query; only column lists are read"));
        }
        if create.temporary {
            return Err(format!("{name} is temporary"));
        }
        if create.unlogged {
            return Err(format!("{name} is UNLOGGED, which the model does not hold"));
        }
        if !matches!(create.table_options, sqlparser::ast::CreateTableOptions::None) {
            // Tuning, not structure: the table is taken, the options named as left out.
            self.left_out.push(format!(
                "{name}'s table options ({}) are not part of the model: the table is imported without them",
                create.table_options
            ));
        }
        if self.tables.iter().any(|t| t.schema_name() == schema_of(schema.as_ref()) && t.table_name == name) {
            return if create.if_not_exists { Ok(()) } else { Err(format!("table {name} exists already")) };
        }
        let own_types: Vec<String> = self.enums.iter().map(|e| e.name.clone()).collect();
        let mut table = TableSchema { schema: schema.filter(|s| s != "public"), ..TableSchema::new(name) };
        let keys = if create.columns.iter().any(references_a_key) { primary_keys(&self.tables) } else { Vec::new() };
        for column in &create.columns {
            let column = column_of(&mut table, column, &own_types, &keys)?;
            table.columns.push(column);
        }
        for constraint in &create.constraints {
            add_constraint(&mut table, constraint, &own_types)?;
        }
        normalise_primary_key(&mut table);
        self.tables.push(Rc::new(table));
        Ok(())
    }

    fn create_index(&mut self, create: &CreateIndex) -> Result<(), String> {
        let own_types: Vec<String> = self.enums.iter().map(|e| e.name.clone()).collect();
        let table = self.table_mut(&create.table_name).ok_or_else(|| {
            format!("index on {}, a table not created before (or not part of the model)", create.table_name)
        })?;
        let name = create.name.as_ref().map(|n| qualified(n).1);
        if let Some(name) = &name
            && table.indexes.iter().any(|i| i.name.as_ref() == Some(name))
        {
            return if create.if_not_exists { Ok(()) } else { Err(format!("index {name} exists already")) };
        }
        if !create.with.is_empty() {
            return Err("storage parameters (WITH …) are not part of the model".to_owned());
        }
        let method = match &create.using {
            None | Some(IndexType::BTree) => IndexMethod::Btree,
            Some(IndexType::Hash) => IndexMethod::Hash,
            Some(IndexType::GIN) => IndexMethod::Gin,
            Some(IndexType::GiST) => IndexMethod::Gist,
            Some(IndexType::BRIN) => IndexMethod::Brin,
            Some(other) => return Err(format!("index method {other} is not part of the model")),
        };
        let (columns, column_options) = index_elements(&create.columns)?;
        let predicate = create.predicate.as_ref().map(|p| expression(p, ExprContext::IndexPredicate, &own_types));
        table.indexes.push(Index {
            name,
            columns,
            column_options,
            method,
            unique: create.unique,
            nulls_not_distinct: create.nulls_distinct == Some(false),
            predicate,
            include: create.include.iter().map(ident).collect(),
            renamed_from: None,
        });
        Ok(())
    }

    fn alter_table(&mut self, alter: &AlterTable) -> Result<(), String> {
        let own_types: Vec<String> = self.enums.iter().map(|e| e.name.clone()).collect();
        let needs_keys = alter
            .operations
            .iter()
            .any(|op| matches!(op, AlterTableOperation::AddColumn { column_def, .. } if references_a_key(column_def)));
        let keys = if needs_keys { primary_keys(&self.tables) } else { Vec::new() };
        let Some(index) = self.table_index(&alter.name) else {
            if alter.if_exists {
                return Ok(());
            }
            return Err(format!(
                "ALTER TABLE of {}, a table not created before (or not part of the model)",
                alter.name
            ));
        };
        // PostgreSQL refuses a new name that a table of the schema has already (this one too).
        let (schema, name) = (self.tables[index].schema_name(), &self.tables[index].table_name);
        for operation in &alter.operations {
            if let AlterTableOperation::RenameTable { table_name } = operation {
                let (RenameTableNameKind::As(to) | RenameTableNameKind::To(to)) = table_name;
                let to = qualified(to).1;
                if self.tables.iter().any(|t| t.schema_name() == schema && t.table_name == to) {
                    return Err(format!("it renames {name} to {to}, the name of a table that exists already"));
                }
            }
        }
        // All or nothing, as in PostgreSQL: the operations change a copy, which takes the
        // table's place only when every one of them was replayed.
        let mut altered = TableSchema::clone(&self.tables[index]);
        let table = &mut altered;
        let mut rename_to = None;
        for operation in &alter.operations {
            match operation {
                AlterTableOperation::AddColumn { column_def, if_not_exists, .. } => {
                    if table.column(&ident(&column_def.name)).is_some() {
                        if *if_not_exists {
                            continue;
                        }
                        return Err(format!("column {} exists already", column_def.name));
                    }
                    let column = column_of(table, column_def, &own_types, &keys)?;
                    table.columns.push(column);
                }
                AlterTableOperation::DropColumn { column_names, if_exists, .. } => {
                    for name in column_names.iter().map(ident) {
                        if table.column(&name).is_none() && !*if_exists {
                            return Err(format!("column {name} does not exist"));
                        }
                        drop_column(table, &name);
                    }
                }
                AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
                    let (from, to) = (ident(old_column_name), ident(new_column_name));
                    rename_column(table, &from, &to)?;
                }
                AlterTableOperation::RenameTable { table_name } => {
                    let (RenameTableNameKind::As(name) | RenameTableNameKind::To(name)) = table_name;
                    rename_to = Some(qualified(name).1);
                }
                AlterTableOperation::AlterColumn { column_name, op } => {
                    let name = ident(column_name);
                    alter_column(table, &name, op, &own_types)?;
                }
                AlterTableOperation::AddConstraint { constraint, .. } => add_constraint(table, constraint, &own_types)?,
                AlterTableOperation::DropConstraint { name, if_exists, .. } => {
                    if !drop_constraint(table, &ident(name)) && !*if_exists {
                        return Err(format!("constraint {name} is not one the model holds"));
                    }
                }
                AlterTableOperation::ValidateConstraint { .. } | AlterTableOperation::OwnerTo { .. } => {}
                AlterTableOperation::RenameConstraint { old_name, new_name } => {
                    rename_constraint(table, &ident(old_name), &ident(new_name))?;
                }
                other => return Err(format!("ALTER TABLE … {other} is not replayed")),
            }
        }
        normalise_primary_key(table);
        let old_name = rename_to.as_ref().map(|new_name| std::mem::replace(&mut table.table_name, new_name.clone()));
        let schema = table.schema_name().to_owned();
        self.tables[index] = Rc::new(altered);
        if let (Some(new_name), Some(old_name)) = (rename_to, old_name) {
            // Foreign keys follow the table they refer to, as in PostgreSQL.
            for other in &mut self.tables {
                let own_schema = other.schema_name().to_owned();
                let same = |s: Option<&String>, t: &str| {
                    t == old_name && s.map_or(own_schema.as_str(), String::as_str) == schema
                };
                let refers = other
                    .columns
                    .iter()
                    .any(|c| c.references.as_ref().is_some_and(|r| same(r.schema.as_ref(), &r.table)))
                    || other.foreign_keys.iter().any(|fk| same(fk.references.schema.as_ref(), &fk.references.table));
                if !refers {
                    continue;
                }
                let other = Rc::make_mut(other);
                for column in &mut other.columns {
                    if let Some(reference) = column.references.as_mut()
                        && same(reference.schema.as_ref(), &reference.table)
                    {
                        reference.table.clone_from(&new_name);
                    }
                }
                for fk in &mut other.foreign_keys {
                    if same(fk.references.schema.as_ref(), &fk.references.table) {
                        fk.references.table.clone_from(&new_name);
                    }
                }
            }
        }
        Ok(())
    }

    fn comment(&mut self, object: CommentObject, name: &ObjectName, comment: Option<String>) -> Result<(), String> {
        let comment = comment.filter(|c| !c.is_empty());
        match object {
            CommentObject::Table => {
                let table =
                    self.table_mut(name).ok_or_else(|| format!("comment on {name}, a table not created before"))?;
                table.comment = comment;
                Ok(())
            }
            CommentObject::Column => {
                let mut parts = name.0.clone();
                let column = parts.pop().map(|p| match p {
                    ObjectNamePart::Identifier(i) => ident(&i),
                    ObjectNamePart::Function(f) => f.to_string(),
                });
                let table_name = ObjectName(parts);
                let table = self
                    .table_mut(&table_name)
                    .ok_or_else(|| format!("comment on {name}, a column of no table created before"))?;
                let column = column.and_then(|c| table.columns.iter_mut().find(|x| x.name == c));
                let column = column.ok_or_else(|| format!("comment on {name}, a column that does not exist"))?;
                column.comment = comment;
                Ok(())
            }
            other => Err(format!("comments on a {other} are not part of the model")),
        }
    }

    fn drop(&mut self, object: ObjectType, names: &[ObjectName], if_exists: bool) -> Result<(), String> {
        for name in names {
            let (schema, object_name) = qualified(name);
            let found = match object {
                ObjectType::Table => {
                    let before = self.tables.len();
                    self.tables
                        .retain(|t| !(t.schema_name() == schema_of(schema.as_ref()) && t.table_name == object_name));
                    before != self.tables.len()
                }
                ObjectType::Index => {
                    let mut found = false;
                    for table in &mut self.tables {
                        if table.indexes.iter().any(|i| i.name.as_deref() == Some(object_name.as_str())) {
                            Rc::make_mut(table).indexes.retain(|i| i.name.as_deref() != Some(object_name.as_str()));
                            found = true;
                        }
                    }
                    found
                }
                ObjectType::Type => {
                    let before = self.enums.len();
                    self.enums.retain(|e| e.name != object_name);
                    before != self.enums.len()
                }
                other => return Err(format!("DROP {other} is not part of a table definition")),
            };
            if !found && !if_exists {
                return Err(format!("{name} was not created before (or is not part of the model)"));
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Replay {
        // An enum type only one table uses is created with that table, as a request does.
        let mut shared = Vec::new();
        for enum_type in std::mem::take(&mut self.enums) {
            let users: Vec<usize> = self
                .tables
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    t.columns
                        .iter()
                        .any(|c| matches!(c.column_type.element(), ColumnType::Named(n) if *n == enum_type.name))
                })
                .map(|(i, _)| i)
                .collect();
            match users.as_slice() {
                [only] => Rc::make_mut(&mut self.tables[*only]).enums.push(enum_type),
                _ => shared.push(enum_type),
            }
        }
        Replay {
            schema: Schema { tables: self.tables.into_iter().map(Rc::unwrap_or_clone).collect(), enums: shared },
            skipped: self.skipped,
            extensions: self.extensions,
            statements: self.statements,
            not_understood: self.not_understood,
        }
    }
}

/// The body of the first dollar-quoted string of `text`.
fn dollar_body(text: &str) -> Option<&str> {
    let open = text.find('$')?;
    let close_of_tag = text[open + 1..].find('$')? + open + 1;
    let tag = &text[open..=close_of_tag];
    let body_start = close_of_tag + 1;
    let body_end = text[body_start..].find(tag)? + body_start;
    Some(&text[body_start..body_end])
}

pub(crate) fn column_type(data_type: &DataType, own_types: &[String]) -> Result<ColumnType, String> {
    match data_type {
        DataType::Custom(name, modifiers) if modifiers.is_empty() => {
            let (_, type_name) = qualified(name);
            if own_types.contains(&type_name) {
                return Ok(ColumnType::Named(type_name));
            }
        }
        DataType::Array(sqlparser::ast::ArrayElemTypeDef::SquareBracket(inner, None)) => {
            if let DataType::Custom(..) = inner.as_ref() {
                return Ok(ColumnType::Array(Box::new(column_type(inner, own_types)?)));
            }
        }
        _ => {}
    }
    let text = data_type.to_string();
    ColumnType::parse(&text).map_err(|e| format!("type {text}: {e}"))
}

/// An expression in request form; casts to the schema's own enum types (as pg_dump writes
/// them, qualified or not) are PostgreSQL's own and go.
fn expression(expr: &Expr, context: ExprContext, own_types: &[String]) -> String {
    let qualified: Vec<String> = own_types.iter().map(|t| format!("public.{t}")).collect();
    let own: Vec<&str> = own_types.iter().chain(&qualified).map(String::as_str).collect();
    from_catalog_tree(expr.clone(), context, &own).unwrap_or_else(|| expr.to_string())
}

fn action(action: Option<&sqlparser::ast::ReferentialAction>) -> Result<Option<ReferentialAction>, String> {
    action.map(|a| a.to_string().parse::<ReferentialAction>().map_err(|e| format!("{a}: {e}"))).transpose()
}

/// The primary key columns of the tables replayed so far, by `(schema, table)`.
type Keys = Vec<((String, String), Vec<String>)>;

/// Whether a column refers to a table without naming the column (its primary key is meant).
fn references_a_key(column: &ColumnDef) -> bool {
    column.options.iter().any(|o| matches!(&o.option, ColumnOption::ForeignKey(fk) if fk.referred_columns.is_empty()))
}

fn primary_keys(tables: &[Rc<TableSchema>]) -> Keys {
    tables
        .iter()
        .map(|t| {
            let mut key = t.primary_key.clone();
            if key.is_empty() {
                key = t.columns.iter().filter(|c| c.primary_key).map(|c| c.name.clone()).collect();
            }
            ((t.schema_name().to_owned(), t.table_name.clone()), key)
        })
        .collect()
}

fn column_of(table: &mut TableSchema, def: &ColumnDef, own_types: &[String], keys: &Keys) -> Result<Column, String> {
    let name = ident(&def.name);
    let mut column = Column::new(name.clone(), column_type(&def.data_type, own_types)?);
    for option in &def.options {
        let constraint_name = option.name.as_ref().map(ident);
        match &option.option {
            ColumnOption::Null => column.nullable = Some(true),
            ColumnOption::NotNull => column.nullable = Some(false),
            ColumnOption::Default(expr) => {
                column.default_value = Some(expression(expr, ExprContext::Default, own_types));
            }
            ColumnOption::PrimaryKey(key) => {
                plain_primary_key(key).map_err(|e| format!("column {name}: {e}"))?;
                column.primary_key = true;
                table.primary_key_name = constraint_name;
            }
            ColumnOption::Unique(unique) => {
                match plain_unique(unique).map_err(|e| format!("column {name}: {e}")).map(|()| constraint_name)? {
                    Some(name) => table.uniques.push(UniqueConstraint {
                        name: Some(name),
                        columns: vec![column.name.clone()],
                        renamed_from: None,
                    }),
                    None => column.unique = true,
                }
            }
            ColumnOption::ForeignKey(fk) => {
                let deferrable = deferrable(fk.characteristics.as_ref()).map_err(|e| format!("column {name}: {e}"))?;
                let (schema, referenced) = qualified(&fk.foreign_table);
                let referenced_column = match fk.referred_columns.as_slice() {
                    [one] => ident(one),
                    // The referenced table's primary key, as PostgreSQL takes it.
                    [] => {
                        let target = (schema.clone().unwrap_or_else(|| "public".to_owned()), referenced.clone());
                        match keys.iter().find(|(t, _)| *t == target).map(|(_, key)| key.as_slice()) {
                            Some([only]) => only.clone(),
                            Some(_) => {
                                return Err(format!(
                                    "column {name}: REFERENCES {referenced}, whose primary key is not one column"
                                ));
                            }
                            None => {
                                return Err(format!(
                                    "column {name}: REFERENCES {referenced} without a column, and {referenced} was not created before"
                                ));
                            }
                        }
                    }
                    _ => return Err(format!("column {name}: a one-column foreign key names several columns")),
                };
                column.references = Some(ColumnReference {
                    schema: referenced_schema(table, schema),
                    table: referenced,
                    column: referenced_column,
                    on_delete: action(fk.on_delete.as_ref())?,
                    on_update: action(fk.on_update.as_ref())?,
                    name: constraint_name,
                    deferrable,
                });
            }
            ColumnOption::Check(check) => {
                let text = expression(&check.expr, ExprContext::Check, own_types);
                match constraint_name.or_else(|| check.name.as_ref().map(ident)) {
                    Some(name) => {
                        table.checks.push(CheckConstraint { name: Some(name), expression: text, renamed_from: None });
                    }
                    None => column.check = Some(text),
                }
            }
            ColumnOption::Generated { generated_as, generation_expr: None, .. } => {
                column.identity = Some(match generated_as {
                    GeneratedAs::Always => Identity::Always,
                    GeneratedAs::ByDefault => Identity::ByDefault,
                    GeneratedAs::ExpStored => {
                        return Err(format!("column {name}: generated columns are not part of the model"));
                    }
                });
            }
            ColumnOption::Generated { .. } => {
                return Err(format!("column {name}: generated columns are not part of the model"));
            }
            ColumnOption::Collation(collation) => {
                return Err(format!("column {name}: COLLATE {collation} is not part of the model"));
            }
            other => return Err(format!("column {name}: {other} is not part of the model")),
        }
    }
    as_serial(&table.table_name, &mut column);
    Ok(column)
}

/// The columns of an index with their operator classes and ordering.
fn index_elements(columns: &[IndexColumn]) -> Result<(Vec<String>, Vec<IndexColumnOptions>), String> {
    let mut names = Vec::with_capacity(columns.len());
    let mut options = Vec::with_capacity(columns.len());
    for column in columns {
        // `public.gin_trgm_ops` is how pg_dump (search_path empty) names an extension's
        // class; the model holds the name as the catalog does, found through the path.
        let operator_class = match column.operator_class.as_ref().map(|class| class.0.as_slice()) {
            None => None,
            Some([.., ObjectNamePart::Identifier(class)]) => Some(ident(class)),
            Some(_) => {
                return Err(format!(
                    "the operator class {} is not part of the model",
                    column.operator_class.as_ref().map(ToString::to_string).unwrap_or_default()
                ));
            }
        };
        let descending = match &column.column.options.sort {
            None | Some(sqlparser::ast::OrderBySort::Asc) => false,
            Some(sqlparser::ast::OrderBySort::Desc) => true,
            Some(_) => return Err("index ordering USING an operator is not part of the model".to_owned()),
        };
        let nulls =
            column.column.options.nulls_first.map(|first| if first { NullsOrder::First } else { NullsOrder::Last });
        match &column.column.expr {
            Expr::Identifier(name) => names.push(ident(name)),
            other => return Err(format!("expression index element ({other}) is not part of the model")),
        }
        options.push(IndexColumnOptions { descending, nulls, operator_class });
    }
    Ok((names, index_column_options(options)))
}

/// The plain columns of a constraint (no ordering or operator class there).
fn column_names(columns: &[IndexColumn]) -> Result<Vec<String>, String> {
    let (names, options) = index_elements(columns)?;
    if options.is_empty() {
        Ok(names)
    } else {
        Err("ordering or an operator class in a constraint's columns is not part of the model".to_owned())
    }
}

/// A constraint checked at once and enforced, as the model's are: `DEFERRABLE`, `INITIALLY
/// DEFERRED` and `NOT ENFORCED` are not part of the model (`NOT DEFERRABLE` is the default).
fn immediate(characteristics: Option<&ConstraintCharacteristics>, what: &str) -> Result<(), String> {
    match deferrable(characteristics) {
        Ok(None) => Ok(()),
        Ok(Some(_)) | Err(_) => Err(format!("DEFERRABLE (or NOT ENFORCED) {what} are not part of the model")),
    }
}

/// A foreign key's `DEFERRABLE [INITIALLY …]` as the model holds it; `NOT ENFORCED` is not
/// part of the model (`INITIALLY DEFERRED` alone implies `DEFERRABLE`, as in PostgreSQL).
fn deferrable(characteristics: Option<&ConstraintCharacteristics>) -> Result<Option<Deferrable>, String> {
    let Some(c) = characteristics else { return Ok(None) };
    if c.enforced == Some(false) {
        return Err("NOT ENFORCED foreign keys are not part of the model".to_owned());
    }
    let deferred = c.initially == Some(sqlparser::ast::DeferrableInitial::Deferred);
    Ok(match (c.deferrable, deferred) {
        (_, true) => Some(Deferrable::InitiallyDeferred),
        (Some(true), false) => Some(Deferrable::InitiallyImmediate),
        _ => None,
    })
}

/// A primary key as the model holds one: immediate, without INCLUDE or index options.
fn plain_primary_key(key: &sqlparser::ast::PrimaryKeyConstraint) -> Result<(), String> {
    immediate(key.characteristics.as_ref(), "primary keys")?;
    if !key.include.is_empty() || !key.index_options.is_empty() {
        return Err("a primary key with INCLUDE or index options is not part of the model".to_owned());
    }
    Ok(())
}

/// A unique constraint as the model holds one: immediate, NULLs distinct, without INCLUDE
/// or index options.
fn plain_unique(unique: &sqlparser::ast::UniqueConstraint) -> Result<(), String> {
    immediate(unique.characteristics.as_ref(), "unique constraints")?;
    if !unique.include.is_empty() || !unique.index_options.is_empty() {
        return Err("UNIQUE … INCLUDE or index options are not part of the model".to_owned());
    }
    if unique.nulls_distinct == sqlparser::ast::NullsDistinctOption::NotDistinct {
        return Err(
            "a UNIQUE NULLS NOT DISTINCT constraint is not part of the model (a unique index with nullsNotDistinct is)"
                .to_owned(),
        );
    }
    Ok(())
}

fn add_constraint(table: &mut TableSchema, constraint: &TableConstraint, own_types: &[String]) -> Result<(), String> {
    match constraint {
        TableConstraint::PrimaryKey(pk) => {
            plain_primary_key(pk)?;
            if !table.primary_key.is_empty() || table.columns.iter().any(|c| c.primary_key) {
                return Err("a second primary key".to_owned());
            }
            table.primary_key = column_names(&pk.columns)?;
            table.primary_key_name = pk.name.as_ref().map(ident);
            Ok(())
        }
        TableConstraint::Unique(unique) => {
            plain_unique(unique)?;
            table.uniques.push(UniqueConstraint {
                name: unique.name.as_ref().map(ident),
                columns: column_names(&unique.columns)?,
                renamed_from: None,
            });
            Ok(())
        }
        TableConstraint::ForeignKey(fk) => {
            let deferrable = deferrable(fk.characteristics.as_ref())?;
            let (schema, referenced) = qualified(&fk.foreign_table);
            table.foreign_keys.push(ForeignKey {
                name: fk.name.as_ref().map(ident),
                columns: fk.columns.iter().map(ident).collect(),
                references: ForeignKeyTarget {
                    schema: referenced_schema(table, schema),
                    table: referenced,
                    columns: fk.referred_columns.iter().map(ident).collect(),
                },
                on_delete: action(fk.on_delete.as_ref())?,
                on_update: action(fk.on_update.as_ref())?,
                deferrable,
                renamed_from: None,
            });
            Ok(())
        }
        TableConstraint::Check(check) => {
            table.checks.push(CheckConstraint {
                name: check.name.as_ref().map(ident),
                expression: expression(&check.expr, ExprContext::Check, own_types),
                renamed_from: None,
            });
            Ok(())
        }
        other => Err(format!("constraint {other} is not part of the model")),
    }
}

/// The schema of a referenced table as the model writes it: `None` for the table's own
/// schema. An unqualified name is PostgreSQL's `public` (the default search path).
fn referenced_schema(table: &TableSchema, schema: Option<String>) -> Option<String> {
    let schema = schema.unwrap_or_else(|| "public".to_owned());
    (schema != table.schema_name()).then_some(schema)
}

/// A primary key of one column given as a table constraint reads as the column's
/// `primaryKey`, as requests write it.
fn normalise_primary_key(table: &mut TableSchema) {
    if let [only] = table.primary_key.as_slice()
        && let Some(column) = table.columns.iter_mut().find(|c| c.name == *only)
    {
        column.primary_key = true;
        table.primary_key.clear();
    }
}

fn drop_column(table: &mut TableSchema, name: &str) {
    table.columns.retain(|c| c.name != name);
    table.primary_key.retain(|c| c != name);
    table.indexes.retain(|i| !i.columns.iter().any(|c| c == name));
    table.uniques.retain(|u| !u.columns.iter().any(|c| c == name));
    table.foreign_keys.retain(|f| !f.columns.iter().any(|c| c == name));
}

fn rename_column(table: &mut TableSchema, from: &str, to: &str) -> Result<(), String> {
    let column =
        table.columns.iter_mut().find(|c| c.name == from).ok_or_else(|| format!("column {from} does not exist"))?;
    to.clone_into(&mut column.name);
    let rename = |names: &mut Vec<String>| {
        for name in names.iter_mut().filter(|n| *n == from) {
            to.clone_into(name);
        }
    };
    rename(&mut table.primary_key);
    for index in &mut table.indexes {
        rename(&mut index.columns);
        rename(&mut index.include);
    }
    for unique in &mut table.uniques {
        rename(&mut unique.columns);
    }
    for fk in &mut table.foreign_keys {
        rename(&mut fk.columns);
    }
    Ok(())
}

/// A column whose default takes the next value of the sequence PostgreSQL names for a
/// serial column of it (`<table>_<column>_seq`) is that serial column: `smallserial`,
/// `serial` or `bigserial`, which creates the sequence, owns it and sets the default.
fn as_serial(table: &str, column: &mut Column) {
    const NEXTVAL: &str = "nextval('";
    let Some(default) = column.default_value.as_deref() else { return };
    if !default.get(..NEXTVAL.len()).is_some_and(|head| head.eq_ignore_ascii_case(NEXTVAL)) {
        return;
    }
    let Some(sequence) = default[NEXTVAL.len()..].split('\'').next() else { return };
    let sequence = sequence.rsplit('.').next().unwrap_or(sequence);
    // An unquoted name is folded to lower case, a quoted one kept as written.
    let sequence = match sequence.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => sequence.to_lowercase(),
    };
    if sequence != format!("{table}_{}_seq", column.name) {
        return;
    }
    let serial = match column.column_type {
        ColumnType::SmallInt => ColumnType::SmallSerial,
        ColumnType::Integer => ColumnType::Serial,
        ColumnType::BigInt => ColumnType::BigSerial,
        _ => return,
    };
    column.column_type = serial;
    column.default_value = None;
    // A serial is NOT NULL already.
    if column.nullable == Some(false) {
        column.nullable = None;
    }
}

fn alter_column(
    table: &mut TableSchema,
    name: &str,
    op: &AlterColumnOperation,
    own_types: &[String],
) -> Result<(), String> {
    let table_name = table.table_name.clone();
    let column =
        table.columns.iter_mut().find(|c| c.name == name).ok_or_else(|| format!("column {name} does not exist"))?;
    match op {
        AlterColumnOperation::SetNotNull => column.nullable = Some(false),
        AlterColumnOperation::DropNotNull => column.nullable = Some(true),
        AlterColumnOperation::SetDefault { value } => {
            column.default_value = Some(expression(value, ExprContext::Default, own_types));
            as_serial(&table_name, column);
        }
        AlterColumnOperation::DropDefault => column.default_value = None,
        AlterColumnOperation::SetDataType { data_type, .. } => column.column_type = column_type(data_type, own_types)?,
        AlterColumnOperation::AddGenerated { generated_as, .. } => {
            column.identity = Some(match generated_as {
                Some(GeneratedAs::ByDefault) => Identity::ByDefault,
                _ => Identity::Always,
            });
        }
    }
    Ok(())
}

fn drop_constraint(table: &mut TableSchema, name: &str) -> bool {
    drop_named_constraint(table, name) || drop_default_named_constraint(table, name)
}

/// A constraint declared without a name, dropped by the name PostgreSQL gave it:
/// `<table>_pkey`, `<table>_<column>_key`, `<table>_<column>_fkey`, `<table>_<column>_check`.
fn drop_default_named_constraint(table: &mut TableSchema, name: &str) -> bool {
    let table_name = table.table_name.clone();
    if name == format!("{table_name}_pkey") && table.primary_key_name.is_none() {
        table.primary_key.clear();
        for column in &mut table.columns {
            column.primary_key = false;
        }
        return true;
    }
    for column in &mut table.columns {
        let stem = format!("{table_name}_{}", column.name);
        if name == format!("{stem}_key") && column.unique {
            column.unique = false;
            return true;
        }
        if name == format!("{stem}_fkey") && column.references.as_ref().is_some_and(|r| r.name.is_none()) {
            column.references = None;
            return true;
        }
        if name == format!("{stem}_check") && column.check.is_some() {
            column.check = None;
            return true;
        }
    }
    let before = table.uniques.len() + table.foreign_keys.len();
    table.uniques.retain(|u| !(u.name.is_none() && name == format!("{table_name}_{}_key", u.columns.join("_"))));
    table.foreign_keys.retain(|f| !(f.name.is_none() && name == format!("{table_name}_{}_fkey", f.columns.join("_"))));
    before != table.uniques.len() + table.foreign_keys.len()
}

fn drop_named_constraint(table: &mut TableSchema, name: &str) -> bool {
    let mut found = false;
    if table.primary_key_name.as_deref() == Some(name) {
        table.primary_key.clear();
        table.primary_key_name = None;
        for column in &mut table.columns {
            column.primary_key = false;
        }
        found = true;
    }
    let before = table.uniques.len() + table.checks.len() + table.foreign_keys.len();
    table.uniques.retain(|u| u.name.as_deref() != Some(name));
    table.checks.retain(|c| c.name.as_deref() != Some(name));
    table.foreign_keys.retain(|f| f.name.as_deref() != Some(name));
    for column in &mut table.columns {
        if column.references.as_ref().is_some_and(|r| r.name.as_deref() == Some(name)) {
            column.references = None;
            found = true;
        }
    }
    found || before != table.uniques.len() + table.checks.len() + table.foreign_keys.len()
}

fn rename_constraint(table: &mut TableSchema, from: &str, to: &str) -> Result<(), String> {
    let to = Some(to.to_owned());
    if table.primary_key_name.as_deref() == Some(from) {
        table.primary_key_name = to;
        return Ok(());
    }
    for name in table
        .uniques
        .iter_mut()
        .map(|u| &mut u.name)
        .chain(table.checks.iter_mut().map(|c| &mut c.name))
        .chain(table.foreign_keys.iter_mut().map(|f| &mut f.name))
    {
        if name.as_deref() == Some(from) {
            name.clone_from(&to);
            return Ok(());
        }
    }
    Err(format!("constraint {from} is not one the model holds under that name"))
}
