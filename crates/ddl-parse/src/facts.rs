//! What each statement of a file does, as the statement rules see it
//! ([`StatementFacts`]), judged against the schema the earlier statements built.

use std::collections::BTreeSet;

use schema_model::expr::is_volatile_default;
use schema_model::statement::{StatementAction, StatementFacts};
use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnOption, GranteeName, ObjectName, ObjectType, Statement,
    TableConstraint,
};

use crate::replay::{SqlFile, State, column_type, ident, qualified};

/// What is known about the file while its statements are judged in order.
#[expect(clippy::struct_excessive_bools, reason = "independent states of one file")]
pub(crate) struct FileContext {
    in_transaction: bool,
    in_explicit_transaction: bool,
    lock_timeout_set: bool,
    changes_tables: bool,
    created: BTreeSet<String>,
    /// `table.column` pairs a `CHECK (column IS NOT NULL)` was added for in this file.
    not_null_checks: BTreeSet<String>,
}

impl FileContext {
    /// What is known of `file` before its first statement: read from its pieces' leading
    /// keywords, so that the statements can be judged while the later ones are parsed.
    pub(crate) fn new(file: &SqlFile<'_>, pieces: &[crate::parse::SplitPiece<'_>]) -> Self {
        let (mut changes_tables, mut statements) = (false, 0);
        for split in pieces.iter().filter(|p| p.piece.kind == crate::scan::PieceKind::Statement) {
            statements += 1;
            changes_tables |= split.kind.starts_with("CREATE TABLE") || split.kind.starts_with("ALTER TABLE");
        }
        Self {
            // A file sent as one query of several statements is one implicit transaction.
            in_transaction: file.in_transaction || (file.one_query && statements > 1),
            in_explicit_transaction: false,
            lock_timeout_set: false,
            changes_tables,
            created: BTreeSet::new(),
            not_null_checks: BTreeSet::new(),
        }
    }

    fn base(&self, kind: String, action: StatementAction, table: Option<String>) -> StatementFacts {
        let table_created_in_file = table.as_ref().is_some_and(|t| self.created.contains(t));
        StatementFacts {
            kind,
            action,
            table,
            table_created_in_file,
            in_transaction: self.in_transaction || self.in_explicit_transaction,
            lock_timeout_set: self.lock_timeout_set,
            file_changes_tables: self.changes_tables,
        }
    }
}

fn full_name(name: &ObjectName) -> String {
    let (schema, table) = qualified(name);
    let mut full = schema.unwrap_or_else(|| "public".to_owned());
    full.push('.');
    full.push_str(&table);
    full
}

/// Facts of a statement sqlparser could not read: its kind, and the transaction and
/// lock-timeout state it may change.
pub(crate) fn unparsed_facts(context: &mut FileContext, kind: &str, text: &str) -> StatementFacts {
    let kind = kind.to_owned();
    let action = match kind.as_str() {
        "CREATE FUNCTION" | "CREATE PROCEDURE" | "CREATE TRIGGER" => StatementAction::Routine,
        "GRANT" => StatementAction::Grant { grantees: grantees(text) },
        "INSERT" | "UPDATE" | "DELETE" => StatementAction::Data { literals: string_literals(text) },
        _ => StatementAction::Other,
    };
    context.base(kind, action, None)
}

/// The roles after the last `TO` of a `GRANT` (quotes removed, `PUBLIC` and options left out).
fn grantees(text: &str) -> Vec<String> {
    let upper = text.to_ascii_uppercase();
    let Some(to) = upper.rfind(" TO ") else { return Vec::new() };
    text[to + 4..]
        .split(',')
        .filter_map(|name| {
            let name = name.trim().trim_end_matches(';').split_whitespace().next()?.trim_matches('"');
            (!name.eq_ignore_ascii_case("PUBLIC") && !name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

/// Facts of a parsed statement, before it is replayed into `state`.
pub(crate) fn facts(
    state: &State,
    context: &mut FileContext,
    statement: &Statement,
    kind: &str,
    text: &str,
) -> StatementFacts {
    let kind = kind.to_owned();
    let (action, table) = match statement {
        Statement::StartTransaction { .. } => {
            context.in_explicit_transaction = true;
            (StatementAction::Other, None)
        }
        Statement::Commit { .. } | Statement::Rollback { .. } => {
            context.in_explicit_transaction = false;
            (StatementAction::Other, None)
        }
        Statement::Set(_) => {
            let lower = text.to_ascii_lowercase();
            if lower.contains("lock_timeout") {
                // `SET lock_timeout = 0` (or `'0'`, `DEFAULT`) turns it off.
                let value = lower.split(['=', ' ']).rfind(|w| !w.is_empty()).unwrap_or_default();
                let value = value.trim_end_matches(';').trim_matches('\'');
                context.lock_timeout_set = !matches!(value, "0" | "default");
            }
            (StatementAction::Other, None)
        }
        Statement::CreateTable(create) => {
            let mut unnamed = Vec::new();
            for column in &create.columns {
                for option in column.options.iter().filter(|o| o.name.is_none()) {
                    let what = match &option.option {
                        ColumnOption::PrimaryKey(_) => "PRIMARY KEY",
                        ColumnOption::Unique(_) => "UNIQUE",
                        ColumnOption::ForeignKey(_) => "REFERENCES",
                        ColumnOption::Check(_) => "CHECK",
                        _ => continue,
                    };
                    unnamed.push(format!("{what} on {}", ident(&column.name)));
                }
            }
            for constraint in &create.constraints {
                if constraint_name(constraint).is_none() {
                    unnamed.push(constraint_kind(constraint).to_owned());
                }
            }
            let name = full_name(&create.name);
            let action =
                StatementAction::CreateTable { if_not_exists: create.if_not_exists, unnamed_constraints: unnamed };
            let facts = context.base(kind, action, Some(name.clone()));
            context.created.insert(name);
            return facts;
        }
        Statement::CreateIndex(create) => (
            StatementAction::CreateIndex { concurrently: create.concurrently, if_not_exists: create.if_not_exists },
            Some(full_name(&create.table_name)),
        ),
        Statement::Drop { object_type: ObjectType::Index, names, if_exists, .. } => {
            let table = names.first().and_then(|name| {
                let (_, index) = qualified(name);
                state
                    .tables
                    .iter()
                    .find(|t| t.indexes.iter().any(|i| i.name.as_deref() == Some(index.as_str())))
                    .map(|t| format!("{}.{}", t.schema_name(), t.table_name))
            });
            let concurrently = text.split_whitespace().nth(2).is_some_and(|w| w.eq_ignore_ascii_case("CONCURRENTLY"));
            (StatementAction::DropIndex { concurrently, if_exists: *if_exists }, table)
        }
        Statement::Drop { object_type: ObjectType::Table, names, if_exists, cascade, .. } => {
            (StatementAction::DropTable { cascade: *cascade, if_exists: *if_exists }, names.first().map(full_name))
        }
        Statement::Truncate(truncate) => {
            (StatementAction::Truncate, truncate.table_names.first().map(|t| full_name(&t.name)))
        }
        Statement::AlterTable(alter) => {
            let name = full_name(&alter.name);
            let mut action = alter_action(state, &name, alter.operations.first());
            match (&mut action, alter.operations.first()) {
                (_, Some(AlterTableOperation::AddConstraint { constraint: TableConstraint::Check(check), .. })) => {
                    if let Some(column) = not_null_column(&check.expr.to_string()) {
                        context.not_null_checks.insert(format!("{name}.{column}"));
                    }
                }
                (StatementAction::SetNotNull { column, proven_by_check }, _) => {
                    *proven_by_check |= context.not_null_checks.contains(&format!("{name}.{column}"));
                }
                _ => {}
            }
            (action, Some(name))
        }
        Statement::Grant(grant) => {
            let grantees = grant
                .grantees
                .iter()
                .filter_map(|g| match &g.name {
                    Some(GranteeName::ObjectName(name)) => Some(qualified(name).1),
                    Some(other) => Some(other.to_string()),
                    None => None,
                })
                .collect();
            (StatementAction::Grant { grantees }, None)
        }
        Statement::CreateFunction(_) | Statement::CreateProcedure { .. } | Statement::CreateTrigger(_) => {
            (StatementAction::Routine, None)
        }
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
            (StatementAction::Data { literals: string_literals(text) }, None)
        }
        _ => (StatementAction::Other, None),
    };
    context.base(kind, action, table)
}

fn constraint_name(constraint: &TableConstraint) -> Option<&sqlparser::ast::Ident> {
    match constraint {
        TableConstraint::PrimaryKey(c) => c.name.as_ref(),
        TableConstraint::Unique(c) => c.name.as_ref(),
        TableConstraint::ForeignKey(c) => c.name.as_ref(),
        TableConstraint::Check(c) => c.name.as_ref(),
        _ => None,
    }
}

fn constraint_kind(constraint: &TableConstraint) -> &'static str {
    match constraint {
        TableConstraint::PrimaryKey(_) => "PRIMARY KEY",
        TableConstraint::Unique(_) => "UNIQUE",
        TableConstraint::ForeignKey(_) => "FOREIGN KEY",
        TableConstraint::Check(_) => "CHECK",
        _ => "constraint",
    }
}

/// The action of an `ALTER TABLE`, by its first operation.
fn alter_action(state: &State, table: &str, operation: Option<&AlterTableOperation>) -> StatementAction {
    let (schema, name) = table.split_once('.').unwrap_or(("public", table));
    let current = state.tables.iter().find(|t| t.table_name == name && t.schema_name() == schema);
    match operation {
        Some(AlterTableOperation::AddColumn { column_def, .. }) => {
            let mut default = None;
            let mut not_null = false;
            let mut generated = false;
            for option in &column_def.options {
                match &option.option {
                    ColumnOption::Default(expr) => default = Some(expr.to_string()),
                    ColumnOption::NotNull => not_null = true,
                    ColumnOption::Generated { .. } | ColumnOption::Identity(_) => generated = true,
                    _ => {}
                }
            }
            let serial = column_def.data_type.to_string().to_ascii_lowercase().contains("serial");
            StatementAction::AddColumn {
                column: ident(&column_def.name),
                volatile_default: default.clone().filter(|d| is_volatile_default(d)),
                not_null_without_default: not_null && default.is_none() && !generated && !serial,
            }
        }
        Some(AlterTableOperation::AddConstraint { constraint, not_valid }) => StatementAction::AddConstraint {
            kind: constraint_kind(constraint).to_owned(),
            name: constraint_name(constraint).map(ident),
            not_valid: *not_valid,
            using_index: false,
        },
        Some(AlterTableOperation::AlterColumn { column_name, op: AlterColumnOperation::SetNotNull }) => {
            let column = ident(column_name);
            let proven_by_check = current.is_some_and(|t| {
                t.checks
                    .iter()
                    .map(|c| c.expression.as_str())
                    .chain(t.columns.iter().filter_map(|c| c.check.as_deref()))
                    .any(|e| not_null_column(e).as_deref() == Some(column.as_str()))
            });
            StatementAction::SetNotNull { column, proven_by_check }
        }
        Some(AlterTableOperation::AlterColumn {
            column_name,
            op: AlterColumnOperation::SetDataType { data_type, .. },
        }) => {
            let column = ident(column_name);
            let from = current.and_then(|t| t.column(&column)).map(|c| c.column_type.clone());
            let own_types: Vec<String> = state.enums.iter().map(|e| e.name.clone()).collect();
            let to = column_type(data_type, &own_types).ok();
            let rewrites = match (&from, &to) {
                (Some(from), Some(to)) => Some(!from.changes_in_place_to(to)),
                _ => None,
            };
            StatementAction::ChangeType {
                column,
                from: from.map(|f| f.sql()),
                to: to.map_or_else(|| data_type.to_string(), |t| t.sql()),
                rewrites,
            }
        }
        Some(AlterTableOperation::DropColumn { column_names, drop_behavior, .. }) => StatementAction::DropColumn {
            column: column_names.first().map(ident).unwrap_or_default(),
            cascade: matches!(drop_behavior, Some(sqlparser::ast::DropBehavior::Cascade)),
        },
        Some(AlterTableOperation::RenameColumn { old_column_name, new_column_name }) => {
            StatementAction::RenameColumn { from: ident(old_column_name), to: ident(new_column_name) }
        }
        Some(AlterTableOperation::RenameTable { table_name }) => {
            let (sqlparser::ast::RenameTableNameKind::As(name) | sqlparser::ast::RenameTableNameKind::To(name)) =
                table_name;
            StatementAction::RenameTable { to: qualified(name).1 }
        }
        Some(AlterTableOperation::ValidateConstraint { .. } | AlterTableOperation::OwnerTo { .. }) => {
            StatementAction::Other
        }
        _ => StatementAction::OtherAlterTable,
    }
}

/// The column of a `column IS NOT NULL` check (quotes and parentheses aside).
fn not_null_column(expression: &str) -> Option<String> {
    let plain = expression.replace(['"', '(', ')'], "");
    let lower = plain.trim().to_ascii_lowercase();
    let column = lower.strip_suffix(" is not null")?.trim();
    (!column.is_empty() && !column.contains(' ')).then(|| column.to_owned())
}

/// The single-quoted string literals of a statement's text.
fn string_literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                break;
            }
            literal.push(c);
        }
        out.push(literal);
    }
    out
}
