//! Two versions of a table definition → the ordered changes between them; two schemas of
//! several tables → the tables created, changed and dropped ([`diff_schemas`]).
//!
//! Both sides are compared the way PostgreSQL would store them, so that a definition
//! compared with itself, or with the live table it produced (read back through
//! `pg-introspect`), yields no change: column types as parsed types (aliases folded),
//! nullability as PostgreSQL applies it (primary key and identity columns are NOT NULL),
//! defaults, checks and index predicates in [`schema_model::expr::comparable`] form
//! (`now()` = `CURRENT_TIMESTAMP`, the casts PostgreSQL adds to literals dropped), every
//! constraint and index under its effective name from the naming convention.
//!
//! Renames are explicit (`renamedFrom` on the table, a column, an index or a constraint);
//! a column missing from the new definition is dropped. An index or constraint whose name
//! changed only because it is generated from a renamed table or column, or that kept its
//! definition under a new explicit name, is renamed rather than dropped and built again.
//!
//! The changes come in the order they can run: renames, then everything that goes away
//! (constraints and indexes before the columns they use), then what is new (types and
//! columns before the constraints and indexes that use them).

use std::collections::{BTreeMap, BTreeSet};

use schema_model::change::{Change, Constraint, Schema, SchemaChange};
use schema_model::expr::{ExprContext, comparable_renamed};
use schema_model::naming::NamingOptions;
use schema_model::objects::{CheckDef, ForeignKeyDef, IndexDef, TableObjects, UniqueDef};
use schema_model::table::{Column, EnumType, ReferentialAction, TableSchema};

/// Why two definitions cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    /// The new definition lives in another schema.
    #[error(
        "the table moves from schema \"{from}\" to \"{to}\"; moving a table between schemas is not a change the registry makes"
    )]
    SchemaMoved {
        /// The old schema.
        from: String,
        /// The new schema.
        to: String,
    },
    /// The names differ and the new definition does not say it renames the old table.
    #[error("table \"{new}\" is not table \"{old}\"; to rename it, say \"renamedFrom\": \"{old}\"")]
    OtherTable {
        /// The old name.
        old: String,
        /// The new name.
        new: String,
    },
    /// A definition names one column twice.
    #[error("column \"{name}\" appears twice in the {side} definition")]
    DuplicateColumn {
        /// The column.
        name: String,
        /// `old` or `new`.
        side: &'static str,
    },
    /// A `renamedFrom` that names nothing, or something the new definition still has.
    #[error("at {path}: \"renamedFrom\": \"{from}\" {reason}")]
    BadRename {
        /// Where.
        path: String,
        /// The name given.
        from: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The changes from `old` to `new`, in the order they can run. Object names follow
/// `naming` (the options the table was generated with).
pub fn diff(old: &TableSchema, new: &TableSchema, naming: &NamingOptions) -> Result<Vec<Change>, DiffError> {
    if old.schema_name() != new.schema_name() {
        return Err(DiffError::SchemaMoved { from: old.schema_name().to_owned(), to: new.schema_name().to_owned() });
    }
    let mut out = Plan::default();
    if old.table_name != new.table_name {
        if new.renamed_from.as_deref() != Some(old.table_name.as_str()) {
            return Err(DiffError::OtherTable { old: old.table_name.clone(), new: new.table_name.clone() });
        }
        out.renames.push(Change::RenameTable { from: old.table_name.clone(), to: new.table_name.clone() });
    }
    let columns = match_columns(old, new)?;
    let renames: Vec<(String, String)> =
        columns.pairs.iter().filter(|(o, n)| o.name != n.name).map(|(o, n)| (o.name.clone(), n.name.clone())).collect();
    for (from, to) in &renames {
        out.renames.push(Change::RenameColumn { from: from.clone(), to: to.clone() });
    }
    let context = Context { old, new, renames: &renames };

    // Enum types first among the additions: columns may use them.
    diff_enums(old, new, &mut out);

    for column in &columns.dropped {
        out.drop_columns.push(Change::DropColumn { column: (*column).clone(), not_null: old.is_not_null(column) });
    }
    for column in &columns.added {
        out.add_columns.push(Change::AddColumn { column: (*column).clone(), not_null: new.is_not_null(column) });
    }
    for (before, after) in &columns.pairs {
        diff_column(&context, before, after, &mut out);
    }
    if normal_comment(old.comment.as_ref()) != normal_comment(new.comment.as_ref()) {
        out.alter_columns.push(Change::ChangeTableComment {
            from: normal_comment(old.comment.as_ref()),
            to: normal_comment(new.comment.as_ref()),
        });
    }

    let old_objects = TableObjects::of_table(old, "", naming);
    let new_objects = TableObjects::of_table(new, "", naming);
    diff_objects(&context, &constraints_of(&old_objects), &constraints_of(&new_objects), &mut out, Kind::Constraint);
    diff_objects(&context, &indexes_of(&old_objects), &indexes_of(&new_objects), &mut out, Kind::Index);
    Ok(out.into_changes())
}

/// The changes from one schema of several tables to another, in the order they can run:
/// types the tables may use, tables created, tables changed (each as [`diff`] says), tables
/// dropped (those that refer to others first), then types no longer used. A table of `new`
/// continues the table of `old` with the same schema and name, or the one its `renamedFrom`
/// names in its schema; every other table of `old` is dropped.
pub fn diff_schemas(old: &Schema, new: &Schema, naming: &NamingOptions) -> Result<Vec<SchemaChange>, DiffError> {
    let mut types = Plan::default();
    enum_changes(&old.enums.iter().collect::<Vec<_>>(), &new.enums.iter().collect::<Vec<_>>(), &mut types);
    let mut created = Vec::new();
    let mut altered = Vec::new();
    let mut continued = BTreeSet::new();
    for table in &new.tables {
        let before = old
            .table(table.schema_name(), &table.table_name)
            .or_else(|| table.renamed_from.as_deref().and_then(|from| old.table(table.schema_name(), from)));
        let Some(before) = before else {
            created.push(SchemaChange::CreateTable { table: table.clone() });
            continue;
        };
        if !continued.insert((before.schema_name().to_owned(), before.table_name.clone())) {
            return Err(DiffError::BadRename {
                path: format!("{}.{}", table.schema_name(), table.table_name),
                from: before.table_name.clone(),
                reason: "is continued by two tables of the new schema",
            });
        }
        let changes = diff(before, table, naming)?;
        if !changes.is_empty() {
            altered.push(SchemaChange::AlterTable {
                schema: table.schema_name().to_owned(),
                table: table.table_name.clone(),
                changes,
            });
        }
    }
    let dropped: Vec<&TableSchema> = old
        .tables
        .iter()
        .filter(|t| !continued.contains(&(t.schema_name().to_owned(), t.table_name.clone())))
        .collect();
    let dropped = table_drop_order(dropped);
    let mut changes = Vec::new();
    if !types.add_types.is_empty() {
        changes.push(SchemaChange::AlterTypes { changes: types.add_types });
    }
    changes.extend(created);
    changes.extend(altered);
    changes.extend(dropped.into_iter().map(|table| SchemaChange::DropTable { table: table.clone() }));
    if !types.drop_types.is_empty() {
        changes.push(SchemaChange::AlterTypes { changes: types.drop_types });
    }
    Ok(changes)
}

/// Tables in an order they can be dropped: one that refers to another before it (ties in
/// reverse creation order).
fn table_drop_order(mut left: Vec<&TableSchema>) -> Vec<&TableSchema> {
    let refers_to = |table: &TableSchema, other: &TableSchema| !std::ptr::eq(table, other) && table.refers_to(other);
    left.reverse();
    let mut ordered = Vec::with_capacity(left.len());
    while !left.is_empty() {
        // The first table no other remaining one refers to; in a cycle, the first one.
        let next = left.iter().position(|t| !left.iter().any(|o| refers_to(o, t))).unwrap_or(0);
        ordered.push(left.remove(next));
    }
    ordered
}

/// The changes, grouped by when they can run.
#[derive(Default)]
struct Plan {
    renames: Vec<Change>,
    drop_objects: Vec<Change>,
    drop_columns: Vec<Change>,
    add_types: Vec<Change>,
    add_columns: Vec<Change>,
    alter_columns: Vec<Change>,
    add_objects: Vec<Change>,
    drop_types: Vec<Change>,
}

impl Plan {
    fn into_changes(self) -> Vec<Change> {
        // Indexes and constraints that go, first: their definitions name the columns as
        // they are before any rename (and the way back, reversed, adds them after the
        // renames are undone). Foreign keys before the unique keys they reference.
        let mut changes = self.drop_objects;
        changes.sort_by_key(drop_order);
        changes.extend(self.renames);
        changes.extend(self.drop_columns);
        changes.extend(self.add_types);
        changes.extend(self.add_columns);
        changes.extend(self.alter_columns);
        let mut adds = self.add_objects;
        adds.sort_by_key(add_order);
        changes.extend(adds);
        changes.extend(self.drop_types);
        changes
    }
}

fn drop_order(change: &Change) -> u8 {
    match change {
        Change::DropConstraint { constraint: Constraint::ForeignKey(_) } => 0,
        Change::DropConstraint { constraint: Constraint::Check(_) } => 1,
        Change::DropIndex { .. } => 2,
        Change::DropConstraint { constraint: Constraint::Unique(_) } => 3,
        Change::DropConstraint { constraint: Constraint::PrimaryKey(_) } => 4,
        _ => 5,
    }
}

fn add_order(change: &Change) -> u8 {
    match change {
        Change::AddConstraint { constraint: Constraint::PrimaryKey(_) } => 0,
        Change::AddConstraint { constraint: Constraint::Unique(_) } => 1,
        Change::AddIndex { .. } => 2,
        Change::AddConstraint { constraint: Constraint::Check(_) } => 3,
        Change::AddConstraint { constraint: Constraint::ForeignKey(_) } => 4,
        _ => 5,
    }
}

/// What both sides and the column renames are.
struct Context<'a> {
    old: &'a TableSchema,
    new: &'a TableSchema,
    renames: &'a [(String, String)],
}

impl Context<'_> {
    /// An old column name as the new definition calls it.
    fn renamed(&self, name: &str) -> String {
        self.renames.iter().find(|(from, _)| from == name).map_or_else(|| name.to_owned(), |(_, to)| to.clone())
    }

    fn renamed_all(&self, names: &[String]) -> Vec<String> {
        names.iter().map(|n| self.renamed(n)).collect()
    }

    fn old_types(&self) -> Vec<&str> {
        self.old.enums.iter().map(|e| e.name.as_str()).collect()
    }

    fn new_types(&self) -> Vec<&str> {
        self.new.enums.iter().map(|e| e.name.as_str()).collect()
    }
}

/// Columns matched across the versions.
struct Columns<'a> {
    pairs: Vec<(&'a Column, &'a Column)>,
    added: Vec<&'a Column>,
    dropped: Vec<&'a Column>,
}

fn match_columns<'a>(old: &'a TableSchema, new: &'a TableSchema) -> Result<Columns<'a>, DiffError> {
    for (side, table) in [("old", old), ("new", new)] {
        let mut seen = BTreeSet::new();
        if let Some(twice) = table.columns.iter().find(|c| !seen.insert(c.name.as_str())) {
            return Err(DiffError::DuplicateColumn { name: twice.name.clone(), side });
        }
    }
    let mut pairs = Vec::new();
    let mut added = Vec::new();
    let mut taken = BTreeSet::new();
    for (i, column) in new.columns.iter().enumerate() {
        let path = format!("columns[{i}].renamedFrom");
        let source = match &column.renamed_from {
            Some(from) if from == &column.name => old.column(from),
            Some(from) => {
                if new.column(from).is_some() {
                    return Err(DiffError::BadRename {
                        path,
                        from: from.clone(),
                        reason: "is still a column of the new definition",
                    });
                }
                let Some(found) = old.column(from) else {
                    return Err(DiffError::BadRename { path, from: from.clone(), reason: "is no column of the table" });
                };
                if old.column(&column.name).is_some() {
                    return Err(DiffError::BadRename {
                        path,
                        from: from.clone(),
                        reason: "cannot take the name of a column the table still has",
                    });
                }
                Some(found)
            }
            None => old.column(&column.name),
        };
        match source {
            Some(before) => {
                if !taken.insert(before.name.as_str()) {
                    return Err(DiffError::BadRename { path, from: before.name.clone(), reason: "is renamed twice" });
                }
                pairs.push((before, column));
            }
            None => added.push(column),
        }
    }
    let dropped = old.columns.iter().filter(|c| !taken.contains(c.name.as_str())).collect();
    Ok(Columns { pairs, added, dropped })
}

fn normal_comment(comment: Option<&String>) -> Option<String> {
    comment.filter(|c| !c.is_empty()).cloned()
}

/// A default as it compares (none for serial columns, whose default is their sequence).
fn normal_default(column: &Column, own_types: &[&str]) -> Option<String> {
    if column.column_type.is_serial() || column.identity.is_some() {
        return None;
    }
    column.default_value.as_deref().map(|text| comparable_renamed(text, ExprContext::Default, own_types, &[]))
}

fn diff_column(context: &Context<'_>, before: &Column, after: &Column, out: &mut Plan) {
    let name = after.name.clone();
    if before.column_type.canonical() != after.column_type.canonical() {
        out.alter_columns.push(Change::ChangeType {
            column: name.clone(),
            from: before.column_type.clone(),
            to: after.column_type.clone(),
        });
    }
    if before.identity != after.identity {
        out.alter_columns.push(Change::ChangeIdentity {
            column: name.clone(),
            from: before.identity,
            to: after.identity,
        });
    }
    let (old_default, new_default) =
        (normal_default(before, &context.old_types()), normal_default(after, &context.new_types()));
    if old_default != new_default {
        out.alter_columns.push(Change::ChangeDefault {
            column: name.clone(),
            from: before.default_value.clone().filter(|_| old_default.is_some()),
            to: after.default_value.clone().filter(|_| new_default.is_some()),
        });
    }
    let (was, is) = (context.old.is_not_null(before), context.new.is_not_null(after));
    // A column becoming an identity column becomes NOT NULL with it (the identity change
    // says so); one that stops being one stays NOT NULL unless it is told otherwise.
    if was != is && after.identity.is_none() {
        out.alter_columns.push(Change::ChangeNullability { column: name.clone(), nullable: !is });
    }
    let (old_comment, new_comment) = (normal_comment(before.comment.as_ref()), normal_comment(after.comment.as_ref()));
    if old_comment != new_comment {
        out.alter_columns.push(Change::ChangeColumnComment { column: name, from: old_comment, to: new_comment });
    }
}

/// The enum types a table's columns use: a declared type no column uses is not part of the
/// table as PostgreSQL sees it.
fn used_enums(table: &TableSchema) -> Vec<&EnumType> {
    table
        .enums
        .iter()
        .filter(|e| {
            table
                .columns
                .iter()
                .any(|c| matches!(c.column_type.element(), schema_model::types::ColumnType::Named(n) if *n == e.name))
        })
        .collect()
}

fn diff_enums(old: &TableSchema, new: &TableSchema, out: &mut Plan) {
    enum_changes(&used_enums(old), &used_enums(new), out);
}

/// Types added, labels added and removed (first among the additions), types dropped (last).
fn enum_changes(old_enums: &[&EnumType], new_enums: &[&EnumType], out: &mut Plan) {
    for enum_type in new_enums {
        let Some(before) = old_enums.iter().find(|e| e.name == enum_type.name) else {
            out.add_types.push(Change::AddEnumType { enum_type: (*enum_type).clone() });
            continue;
        };
        // Labels that go, or whose order among the kept ones changes: PostgreSQL can do
        // neither, the change rules refuse both.
        let kept: Vec<&String> = before.values.iter().filter(|v| enum_type.values.contains(v)).collect();
        let kept_in_new_order: Vec<&String> = enum_type.values.iter().filter(|v| before.values.contains(v)).collect();
        for value in &before.values {
            let position = |labels: &[&String]| labels.iter().position(|v| *v == value);
            let moved = position(&kept) != position(&kept_in_new_order);
            if !enum_type.values.contains(value) || moved {
                out.add_types.push(Change::RemoveEnumValue { type_name: enum_type.name.clone(), value: value.clone() });
            }
        }
        for (i, value) in enum_type.values.iter().enumerate() {
            if before.values.contains(value) {
                continue;
            }
            let before_label = enum_type.values[i + 1..].iter().find(|v| before.values.contains(v)).cloned();
            out.add_types.push(Change::AddEnumValue {
                type_name: enum_type.name.clone(),
                value: value.clone(),
                before: before_label,
            });
        }
    }
    for enum_type in old_enums {
        if !new_enums.iter().any(|e| e.name == enum_type.name) {
            out.drop_types.push(Change::DropEnumType { enum_type: (*enum_type).clone() });
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Constraint,
    Index,
}

/// An index or constraint, with what makes it the same object across versions.
struct Object {
    name: String,
    renamed_from: Option<String>,
    change: ObjectDef,
}

enum ObjectDef {
    Constraint(Constraint),
    Index(IndexDef),
}

fn constraints_of(objects: &TableObjects) -> Vec<Object> {
    let mut out = Vec::new();
    if let Some(pk) = &objects.primary_key {
        out.push(Object {
            name: pk.name.clone(),
            renamed_from: None,
            change: ObjectDef::Constraint(Constraint::PrimaryKey(pk.clone())),
        });
    }
    out.extend(objects.foreign_keys.iter().map(|fk| Object {
        name: fk.name.clone(),
        renamed_from: fk.renamed_from.clone(),
        change: ObjectDef::Constraint(Constraint::ForeignKey(fk.clone())),
    }));
    out.extend(objects.uniques.iter().map(|unique| Object {
        name: unique.name.clone(),
        renamed_from: unique.renamed_from.clone(),
        change: ObjectDef::Constraint(Constraint::Unique(unique.clone())),
    }));
    out.extend(objects.checks.iter().map(|check| Object {
        name: check.name.clone(),
        renamed_from: check.renamed_from.clone(),
        change: ObjectDef::Constraint(Constraint::Check(check.clone())),
    }));
    out
}

fn indexes_of(objects: &TableObjects) -> Vec<Object> {
    objects
        .indexes
        .iter()
        .map(|index| Object {
            name: index.name.clone(),
            renamed_from: index.renamed_from.clone(),
            change: ObjectDef::Index(index.clone()),
        })
        .collect()
}

/// What an object is, apart from its name, in the new definition's terms: two objects with
/// the same signature are the same object.
fn signature(context: &Context<'_>, def: &ObjectDef, old_side: bool) -> String {
    let table = if old_side { context.old } else { context.new };
    let own: Vec<&str> = table.enums.iter().map(|e| e.name.as_str()).collect();
    let names = |columns: &[String]| if old_side { context.renamed_all(columns) } else { columns.to_vec() };
    let renames: &[(String, String)] = if old_side { context.renames } else { &[] };
    let expression = |text: &str, expr_context| comparable_renamed(text, expr_context, &own, renames);
    match def {
        ObjectDef::Constraint(Constraint::PrimaryKey(pk)) => format!("pk {:?}", names(&pk.columns)),
        ObjectDef::Constraint(Constraint::ForeignKey(fk)) => {
            foreign_key_signature(context, fk, old_side, &names(&fk.columns))
        }
        ObjectDef::Constraint(Constraint::Unique(UniqueDef { columns, .. })) => format!("unique {:?}", names(columns)),
        ObjectDef::Constraint(Constraint::Check(CheckDef { expression: text, .. })) => {
            format!("check {}", expression(text, ExprContext::Check))
        }
        ObjectDef::Index(index) => format!(
            "index {} {:?} {:?} unique={} nulls_not_distinct={} include={:?} where={:?}",
            index.method.sql(),
            names(&index.columns),
            index.column_options,
            index.unique,
            index.unique && index.nulls_not_distinct,
            names(&index.include),
            index.predicate.as_deref().map(|p| expression(p, ExprContext::IndexPredicate)),
        ),
    }
}

fn foreign_key_signature(context: &Context<'_>, fk: &ForeignKeyDef, old_side: bool, columns: &[String]) -> String {
    let table = if old_side { context.old } else { context.new };
    let schema = fk.referenced_schema.clone().unwrap_or_else(|| table.schema_name().to_owned());
    let self_reference = schema == table.schema_name() && fk.referenced_table == table.table_name;
    let (referenced_table, referenced_columns) = if self_reference {
        let columns =
            if old_side { context.renamed_all(&fk.referenced_columns) } else { fk.referenced_columns.clone() };
        (context.new.table_name.clone(), columns)
    } else {
        (fk.referenced_table.clone(), fk.referenced_columns.clone())
    };
    let action = |a: Option<ReferentialAction>| a.unwrap_or(ReferentialAction::NoAction).sql();
    format!(
        "fk {columns:?} -> {schema}.{referenced_table} {referenced_columns:?} on delete {} on update {}{}",
        action(fk.on_delete),
        action(fk.on_update),
        fk.deferrable.map_or("", schema_model::table::Deferrable::sql)
    )
}

fn diff_objects(context: &Context<'_>, old: &[Object], new: &[Object], out: &mut Plan, kind: Kind) {
    let old_signatures: Vec<String> = old.iter().map(|o| signature(context, &o.change, true)).collect();
    let new_signatures: Vec<String> = new.iter().map(|o| signature(context, &o.change, false)).collect();
    let mut old_matched = vec![false; old.len()];
    let mut new_matched = vec![false; new.len()];
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    // By an explicit rename, then by name, then by definition.
    for (n, object) in new.iter().enumerate() {
        if let Some(from) = &object.renamed_from
            && let Some(o) = old.iter().position(|o| &o.name == from)
            && !old_matched[o]
        {
            old_matched[o] = true;
            new_matched[n] = true;
            pairs.push((o, n));
        }
    }
    for (n, object) in new.iter().enumerate() {
        if new_matched[n] {
            continue;
        }
        if let Some(o) = old.iter().position(|o| o.name == object.name)
            && !old_matched[o]
        {
            old_matched[o] = true;
            new_matched[n] = true;
            pairs.push((o, n));
        }
    }
    for (n, signature) in new_signatures.iter().enumerate() {
        if new_matched[n] {
            continue;
        }
        if let Some(o) = (0..old.len()).find(|&o| !old_matched[o] && &old_signatures[o] == signature) {
            old_matched[o] = true;
            new_matched[n] = true;
            pairs.push((o, n));
        }
    }
    let by_index: BTreeMap<usize, usize> = pairs.iter().copied().collect();
    for (o, object) in old.iter().enumerate() {
        match by_index.get(&o) {
            Some(&n) if old_signatures[o] == new_signatures[n] => {
                if object.name != new[n].name {
                    let (from, to) = (object.name.clone(), new[n].name.clone());
                    out.renames.push(match kind {
                        Kind::Constraint => Change::RenameConstraint { from, to },
                        Kind::Index => Change::RenameIndex { from, to },
                    });
                }
            }
            // Changed (or gone): dropped, and added again below when it changed.
            _ => out.drop_objects.push(drop_change(&object.change)),
        }
    }
    for (n, object) in new.iter().enumerate() {
        let unchanged = pairs.iter().any(|&(o, m)| m == n && old_signatures[o] == new_signatures[n]);
        if !unchanged {
            out.add_objects.push(add_change(&object.change));
        }
    }
}

fn drop_change(def: &ObjectDef) -> Change {
    match def {
        ObjectDef::Constraint(constraint) => Change::DropConstraint { constraint: constraint.clone() },
        ObjectDef::Index(index) => Change::DropIndex { index: index.clone() },
    }
}

fn add_change(def: &ObjectDef) -> Change {
    match def {
        ObjectDef::Constraint(constraint) => Change::AddConstraint { constraint: constraint.clone() },
        ObjectDef::Index(index) => Change::AddIndex { index: index.clone() },
    }
}

#[cfg(test)]
mod tests;
