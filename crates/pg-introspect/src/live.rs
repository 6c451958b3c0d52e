//! A table as the catalog states it, and its mapping into the request model (pure).

use std::collections::{BTreeMap, BTreeSet};

use schema_model::environment::{
    ExistingConstraint, ExistingObjects, ExistingRelation, ExistingType, RelationKind, Source,
};
use schema_model::expr::{self, ExprContext};
use schema_model::table::{
    CheckConstraint, Column, Deferrable, EnumType, ForeignKey, ForeignKeyTarget, Identity, Index, IndexColumnOptions,
    IndexMethod, NullsOrder, ReferentialAction, TableSchema, UniqueConstraint, index_column_options,
};
use schema_model::types::ColumnType;
use serde::{Deserialize, Serialize};

/// One column, as the catalog states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveColumn {
    /// Name.
    pub name: String,
    /// `format_type` of its type.
    pub type_name: String,
    /// The type's own name and schema when it is a user-defined (enum, domain, ...) type,
    /// or an array of one; with the array depth.
    pub user_type: Option<(String, String, usize)>,
    /// NOT NULL.
    pub not_null: bool,
    /// The default, as `pg_get_expr` prints it.
    pub default: Option<String>,
    /// `a` (always), `d` (by default) or empty.
    pub identity: String,
    /// `s` for a stored generated column, else empty.
    pub generated: String,
    /// The sequence a `nextval` default uses when that sequence is owned by this column
    /// (a `serial`).
    pub owned_sequence: Option<String>,
    /// `COMMENT ON COLUMN`.
    pub comment: Option<String>,
}

/// One constraint (primary key, foreign key, unique, check, exclusion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveConstraint {
    /// Name.
    pub name: String,
    /// `p`, `f`, `u`, `c`, `x`, `t`.
    pub kind: String,
    /// Constrained columns, in key order.
    pub columns: Vec<String>,
    /// `pg_get_constraintdef`.
    pub definition: String,
    /// For a foreign key: the referenced schema, table and columns.
    pub references: Option<(String, String, Vec<String>)>,
    /// For a foreign key: `confdeltype` and `confupdtype` (`a` no action, `r`, `c`, `n`, `d`).
    pub actions: Option<(String, String)>,
    /// For a check: the expression as `pg_get_expr` prints it.
    pub expression: Option<String>,
    /// Whether it was validated (a `NOT VALID` one was not).
    pub validated: bool,
    /// DEFERRABLE.
    pub deferrable: bool,
    /// INITIALLY DEFERRED.
    pub deferred: bool,
}

/// One index.
#[expect(clippy::struct_excessive_bools, reason = "independent catalog flags of an index")]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveIndex {
    /// Name.
    pub name: String,
    /// `pg_get_indexdef`.
    pub definition: String,
    /// Access method.
    pub method: String,
    /// UNIQUE.
    pub unique: bool,
    /// The constraint it backs, if any.
    pub constraint: Option<String>,
    /// Key columns; `None` for an expression in that position.
    pub key_columns: Vec<Option<String>>,
    /// INCLUDE columns.
    pub include: Vec<String>,
    /// The partial index predicate, as `pg_get_expr` prints it.
    pub predicate: Option<String>,
    /// Whether the index is valid (an interrupted CONCURRENTLY build leaves one invalid).
    pub valid: bool,
    /// Whether any key has a non-default collation.
    pub has_collation: bool,
    /// `indoption` of each key column: bit 1 DESC, bit 2 NULLS FIRST.
    pub options: Vec<i32>,
    /// The operator class of each key column when it is not its type's default.
    pub operator_classes: Vec<Option<String>>,
    /// `NULLS NOT DISTINCT`.
    pub nulls_not_distinct: bool,
}

impl LiveIndex {
    /// The ordering and operator class of each key column, as the model holds them.
    pub fn column_options(&self) -> Vec<IndexColumnOptions> {
        let options = self
            .options
            .iter()
            .enumerate()
            .map(|(i, option)| IndexColumnOptions {
                descending: option & 1 != 0,
                nulls: Some(if option & 2 != 0 { NullsOrder::First } else { NullsOrder::Last }),
                operator_class: self.operator_classes.get(i).cloned().flatten(),
            })
            .collect();
        index_column_options(options)
    }
}

/// An enum type a column uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveEnum {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Labels in order.
    pub labels: Vec<String>,
}

/// A table as the catalog states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveTable {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// `r` (table) or `p` (partitioned table).
    pub kind: String,
    /// `COMMENT ON TABLE`.
    pub comment: Option<String>,
    /// Columns in order.
    pub columns: Vec<LiveColumn>,
    /// Constraints, by name.
    pub constraints: Vec<LiveConstraint>,
    /// Indexes, by name.
    pub indexes: Vec<LiveIndex>,
    /// Enum types its columns use.
    pub enums: Vec<LiveEnum>,
}

/// The table in the request model, and what the model could not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// The table definition, as a request would give it.
    pub table: TableSchema,
    /// Features of the live table the model has no place for, each said in a sentence.
    pub unsupported: Vec<String>,
}

impl LiveTable {
    /// Maps the table into the request model. Everything the model can hold is kept; the
    /// rest is listed in [`Mapped::unsupported`].
    pub fn to_model(&self) -> Mapped {
        let mut unsupported = Vec::new();
        let primary: Option<&LiveConstraint> = self.constraints.iter().find(|c| c.kind == "p");
        let primary_columns: Vec<String> = primary.map(|p| p.columns.clone()).unwrap_or_default();
        let single_primary = (primary_columns.len() == 1).then(|| primary_columns[0].clone());
        let own_types: Vec<&str> =
            self.enums.iter().filter(|e| e.schema == self.schema).map(|e| e.name.as_str()).collect();
        let readable = |text: &str, context: ExprContext| expr::from_catalog(text, context, &own_types);
        let mut columns = Vec::with_capacity(self.columns.len());
        for live in &self.columns {
            let mut default =
                live.default.as_deref().map(|d| readable(&literal_without_own_cast(d, live), ExprContext::Default));
            let column_type = match &live.user_type {
                Some((_, name, depth)) => {
                    let mut ty = ColumnType::Named(name.clone());
                    for _ in 0..*depth {
                        ty = ColumnType::Array(Box::new(ty));
                    }
                    if !self.enums.iter().any(|e| &e.name == name) {
                        unsupported.push(format!("column \"{}\" has the non-enum type {}", live.name, live.type_name));
                    }
                    ty
                }
                None => match ColumnType::parse(&live.type_name) {
                    Ok(ty) if live.owned_sequence.is_some() => {
                        default = None;
                        match ty {
                            ColumnType::SmallInt => ColumnType::SmallSerial,
                            ColumnType::BigInt => ColumnType::BigSerial,
                            _ => ColumnType::Serial,
                        }
                    }
                    Ok(ty) => ty,
                    Err(_) => {
                        unsupported.push(format!("column \"{}\" has the type {}", live.name, live.type_name));
                        ColumnType::Named(live.type_name.clone())
                    }
                },
            };
            if live.generated == "s" {
                unsupported.push(format!("column \"{}\" is a generated column", live.name));
            }
            let in_primary = primary_columns.contains(&live.name);
            let identity = match live.identity.as_str() {
                "a" => Some(Identity::Always),
                "d" => Some(Identity::ByDefault),
                _ => None,
            };
            columns.push(Column {
                name: live.name.clone(),
                column_type,
                primary_key: single_primary.as_deref() == Some(live.name.as_str()),
                nullable: (!in_primary && identity.is_none()).then_some(!live.not_null),
                default_value: default,
                unique: false,
                references: None,
                check: None,
                identity,
                comment: live.comment.clone(),
                renamed_from: None,
            });
        }
        let mut foreign_keys = Vec::new();
        let mut uniques = Vec::new();
        let mut checks = Vec::new();
        for constraint in &self.constraints {
            // A foreign key may be deferrable in the model; other constraints may not.
            if constraint.deferrable && constraint.kind != "f" {
                unsupported.push(format!("constraint \"{}\" is DEFERRABLE", constraint.name));
            }
            if !constraint.validated {
                unsupported.push(format!("constraint \"{}\" is NOT VALID", constraint.name));
            }
            match constraint.kind.as_str() {
                "p" => {}
                "f" => {
                    let Some((schema, table, referenced)) = &constraint.references else { continue };
                    let (on_delete, on_update) = constraint
                        .actions
                        .as_ref()
                        .map_or((None, None), |(delete, update)| (action(delete), action(update)));
                    foreign_keys.push(ForeignKey {
                        name: Some(constraint.name.clone()),
                        columns: constraint.columns.clone(),
                        references: ForeignKeyTarget {
                            schema: (schema != &self.schema).then(|| schema.clone()),
                            table: table.clone(),
                            columns: referenced.clone(),
                        },
                        on_delete,
                        on_update,
                        deferrable: match (constraint.deferrable, constraint.deferred) {
                            (false, _) => None,
                            (true, false) => Some(Deferrable::InitiallyImmediate),
                            (true, true) => Some(Deferrable::InitiallyDeferred),
                        },
                        renamed_from: None,
                    });
                }
                "u" => uniques.push(UniqueConstraint {
                    name: Some(constraint.name.clone()),
                    columns: constraint.columns.clone(),
                    renamed_from: None,
                }),
                "c" => match &constraint.expression {
                    Some(expression) => checks.push(CheckConstraint {
                        name: Some(constraint.name.clone()),
                        expression: readable(expression, ExprContext::Check),
                        renamed_from: None,
                    }),
                    None => unsupported.push(format!("check \"{}\" could not be read", constraint.name)),
                },
                other => {
                    unsupported.push(format!(
                        "constraint \"{}\" of kind {other} ({})",
                        constraint.name, constraint.definition
                    ));
                }
            }
        }
        let mut indexes = Vec::new();
        for index in self.indexes.iter().filter(|i| i.constraint.is_none()) {
            let Ok(method) = index.method.parse::<IndexMethod>() else {
                unsupported.push(format!("index \"{}\" uses the access method {}", index.name, index.method));
                continue;
            };
            let Some(key_columns) = index.key_columns.iter().cloned().collect::<Option<Vec<String>>>() else {
                unsupported.push(format!("index \"{}\" has an expression key ({})", index.name, index.definition));
                continue;
            };
            if index.has_collation {
                unsupported.push(format!("index \"{}\" has a key collation ({})", index.name, index.definition));
            }
            if !index.valid {
                unsupported.push(format!("index \"{}\" is invalid (an interrupted build)", index.name));
            }
            indexes.push(Index {
                name: Some(index.name.clone()),
                columns: key_columns,
                column_options: index.column_options(),
                method,
                unique: index.unique,
                nulls_not_distinct: index.nulls_not_distinct,
                predicate: index.predicate.as_deref().map(|p| readable(p, ExprContext::IndexPredicate)),
                include: index.include.clone(),
                renamed_from: None,
            });
        }
        let table = TableSchema {
            schema: (self.schema != "public").then(|| self.schema.clone()),
            table_name: self.name.clone(),
            columns,
            indexes,
            primary_key: if primary_columns.len() > 1 { primary_columns } else { Vec::new() },
            foreign_keys,
            checks,
            uniques,
            enums: self.enums.iter().map(|e| EnumType { name: e.name.clone(), values: e.labels.clone() }).collect(),
            comment: self.comment.clone(),
            renamed_from: None,
            primary_key_name: primary
                .map(|p| p.name.clone())
                .filter(|name| *name != schema_model::naming::primary_key_name(&self.name)),
        };
        if self.kind == "p" {
            unsupported.push("the table is partitioned".to_owned());
        }
        Mapped { table, unsupported }
    }
}

/// A default `'text'::<the column's own type>` as the plain literal `'text'`: PostgreSQL adds
/// that cast itself when it stores an untyped literal default, so the two are the same
/// default, and only the plain one is valid request input for an enum column.
fn literal_without_own_cast(default: &str, column: &LiveColumn) -> String {
    let Some(rest) = default.strip_prefix('\'') else {
        return default.to_owned();
    };
    // The end of the literal: a quote not doubled.
    let bytes = rest.as_bytes();
    let mut i = 0;
    let end = loop {
        match bytes.get(i) {
            Some(b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            Some(b'\'') => break Some(i),
            Some(_) => i += 1,
            None => break None,
        }
    };
    let Some(end) = end else {
        return default.to_owned();
    };
    let literal = &default[..end + 2];
    let Some(cast) = rest[end + 1..].strip_prefix("::") else {
        return default.to_owned();
    };
    let base = column.type_name.split('(').next().unwrap_or_default();
    let own = cast == column.type_name
        || cast == base
        || column
            .user_type
            .as_ref()
            .is_some_and(|(schema, name, depth)| *depth == 0 && (cast == name || cast == format!("{schema}.{name}")));
    if own { literal.to_owned() } else { default.to_owned() }
}

fn action(code: &str) -> Option<ReferentialAction> {
    match code {
        "r" => Some(ReferentialAction::Restrict),
        "c" => Some(ReferentialAction::Cascade),
        "n" => Some(ReferentialAction::SetNull),
        "d" => Some(ReferentialAction::SetDefault),
        _ => None,
    }
}

/// One name of a schema's namespaces, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceEntry {
    /// `relation`, `constraint` or `type`.
    pub space: &'static str,
    /// The object's name.
    pub name: String,
    /// `relkind` for relations, `contype` for constraints, `typtype` for types.
    pub kind: String,
    /// The table an index or constraint is on.
    pub table: Option<String>,
    /// An enum's labels.
    pub labels: Option<Vec<String>>,
    /// Tables with a column of this type.
    pub used_by: Vec<String>,
}

/// Folds a schema's names into the live half of an [`ExistingObjects`].
pub fn existing_objects(schema_exists: bool, entries: &[NamespaceEntry]) -> ExistingObjects {
    let mut objects = ExistingObjects { schema_exists: Some(schema_exists), live: true, ..ExistingObjects::default() };
    for entry in entries {
        match entry.space {
            "relation" => {
                let kind = match entry.kind.as_str() {
                    "r" | "p" => RelationKind::Table,
                    "i" | "I" => RelationKind::Index,
                    "S" => RelationKind::Sequence,
                    "v" | "m" => RelationKind::View,
                    _ => RelationKind::Other,
                };
                objects.add_relation(
                    &entry.name,
                    ExistingRelation { kind, table: entry.table.clone(), source: Source::Live },
                );
            }
            "constraint" => objects.add_constraint(
                &entry.name,
                ExistingConstraint { table: entry.table.clone().unwrap_or_default(), source: Source::Live },
            ),
            _ => objects.add_type(
                &entry.name,
                ExistingType {
                    enum_values: entry.labels.clone(),
                    used_by: entry.used_by.iter().cloned().collect::<BTreeSet<String>>(),
                    source: Source::Live,
                },
            ),
        }
    }
    objects
}

/// The enums of `tables` by name (for tests and callers that hold several tables).
pub fn enums_by_name(tables: &[LiveTable]) -> BTreeMap<String, Vec<String>> {
    tables.iter().flat_map(|t| t.enums.iter()).map(|e| (e.name.clone(), e.labels.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(type_name: &str, user_type: Option<(&str, &str)>) -> LiveColumn {
        LiveColumn {
            name: "c".to_owned(),
            type_name: type_name.to_owned(),
            user_type: user_type.map(|(s, n)| (s.to_owned(), n.to_owned(), 0)),
            not_null: false,
            default: None,
            identity: String::new(),
            generated: String::new(),
            owned_sequence: None,
            comment: None,
        }
    }

    #[test]
    fn only_the_columns_own_cast_is_dropped() {
        let text = column("text", None);
        assert_eq!(literal_without_own_cast("'it''s'::text", &text), "'it''s'");
        assert_eq!(literal_without_own_cast("'{}'::jsonb", &text), "'{}'::jsonb");
        assert_eq!(literal_without_own_cast("now()", &text), "now()");
        let varchar = column("character varying(20)", None);
        assert_eq!(literal_without_own_cast("'x'::character varying", &varchar), "'x'");
        let mood = column("billing.mood", Some(("billing", "mood")));
        assert_eq!(literal_without_own_cast("'happy'::billing.mood", &mood), "'happy'");
        assert_eq!(literal_without_own_cast("'happy'::mood", &mood), "'happy'");
        assert_eq!(literal_without_own_cast("'unterminated", &mood), "'unterminated");
    }
}
