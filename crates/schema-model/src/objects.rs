//! The table's named objects (primary key, foreign keys, unique and check constraints,
//! indexes) with their effective names and JSON paths, whether they were declared on a
//! column or on the table. Rules and the SQL generator both read this one list, so the
//! name a rule checks is the name the generator emits.

use serde::{Deserialize, Serialize};

use crate::expr::{ExprContext, parse_safe};
use crate::naming::{self, NamingOptions};
use crate::request::{SchemaRequest, join_path};
use crate::table::{Deferrable, IndexColumnOptions, IndexMethod, ReferentialAction, TableSchema};

/// The primary key constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryKeyDef {
    /// `pk_<table>`.
    pub name: String,
    /// Key columns, in order.
    pub columns: Vec<String>,
    /// Where it was declared.
    pub path: String,
}

/// A foreign key constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForeignKeyDef {
    /// Effective constraint name.
    pub name: String,
    /// Whether the request named it.
    pub explicit_name: bool,
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced schema, when given.
    pub referenced_schema: Option<String>,
    /// Referenced table.
    pub referenced_table: String,
    /// Referenced columns.
    pub referenced_columns: Vec<String>,
    /// `ON DELETE`.
    pub on_delete: Option<ReferentialAction>,
    /// `ON UPDATE`.
    pub on_update: Option<ReferentialAction>,
    /// `DEFERRABLE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferrable: Option<Deferrable>,
    /// Where it was declared.
    pub path: String,
    /// Its name before a change request renamed it (see `renamedFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// A unique constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UniqueDef {
    /// Effective constraint name.
    pub name: String,
    /// Whether the request named it.
    pub explicit_name: bool,
    /// Columns unique together.
    pub columns: Vec<String>,
    /// Where it was declared.
    pub path: String,
    /// Its name before a change request renamed it (see `renamedFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// A check constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckDef {
    /// Effective constraint name.
    pub name: String,
    /// Whether the request named it.
    pub explicit_name: bool,
    /// The expression as written (vet with [`crate::expr::parse_safe`] before use).
    pub expression: String,
    /// JSON path of the expression text.
    pub path: String,
    /// Its name before a change request renamed it (see `renamedFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

impl CheckDef {
    /// Where the check is declared, to point at it as a whole (its name, say): `checks[i]`
    /// for a table-level check, `columns[i].check` for a column's.
    pub fn entry_path(&self) -> &str {
        self.path.strip_suffix(".expression").unwrap_or(&self.path)
    }
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexDef {
    /// Effective index name.
    pub name: String,
    /// Whether the request named it.
    pub explicit_name: bool,
    /// Indexed columns.
    pub columns: Vec<String>,
    /// Per-column ordering and operator class (see [`crate::table::Index::column_options`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_options: Vec<IndexColumnOptions>,
    /// Access method.
    pub method: IndexMethod,
    /// Unique index.
    pub unique: bool,
    /// NULLs count as equal in a unique index.
    #[serde(default)]
    pub nulls_not_distinct: bool,
    /// Partial index predicate as written.
    pub predicate: Option<String>,
    /// Covering columns.
    pub include: Vec<String>,
    /// Where it was declared.
    pub path: String,
    /// Its name before a change request renamed it (see `renamedFrom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

impl IndexDef {
    /// The column list as SQL: each quoted name with its operator class and ordering.
    pub fn columns_sql(&self) -> String {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let options = self.column_options.get(i).map(IndexColumnOptions::sql).unwrap_or_default();
                format!("{}{options}", crate::expr::quote_identifier(column))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Every named object of a table, in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableObjects {
    /// The primary key, if any.
    pub primary_key: Option<PrimaryKeyDef>,
    /// Column references first, then table-level foreign keys.
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Column `unique` flags first, then table-level uniques.
    pub uniques: Vec<UniqueDef>,
    /// Column checks first, then table-level checks.
    pub checks: Vec<CheckDef>,
    /// Indexes.
    pub indexes: Vec<IndexDef>,
}

impl TableObjects {
    /// Collects the objects of a request's table.
    pub fn of(request: &SchemaRequest, naming_options: &NamingOptions) -> Self {
        Self::of_table(&request.schema_json, request.table_path(), naming_options)
    }

    /// Collects the objects of a table definition; paths start with `prefix` (`schemaJson`,
    /// or empty for a bare table).
    pub fn of_table(table: &TableSchema, prefix: &str, naming_options: &NamingOptions) -> Self {
        let at = |rest: String| join_path(prefix, &rest);
        let name = table.table_name.as_str();
        let mut objects = TableObjects::default();

        let pk_columns = table.primary_key_columns();
        if !pk_columns.is_empty() {
            let path = if table.primary_key.is_empty() {
                let first = table.columns.iter().position(|c| c.primary_key).unwrap_or(0);
                at(format!("columns[{first}].primaryKey"))
            } else {
                at("primaryKey".to_owned())
            };
            objects.primary_key = Some(PrimaryKeyDef {
                name: table.primary_key_name.clone().unwrap_or_else(|| naming::primary_key_name(name)),
                columns: pk_columns.iter().map(|c| (*c).to_owned()).collect(),
                path,
            });
        }

        for (i, column) in table.columns.iter().enumerate() {
            if let Some(reference) = &column.references {
                objects.foreign_keys.push(ForeignKeyDef {
                    name: reference
                        .name
                        .clone()
                        .unwrap_or_else(|| naming::foreign_key_name(name, &[&column.name], &reference.table)),
                    explicit_name: reference.name.is_some(),
                    columns: vec![column.name.clone()],
                    referenced_schema: reference.schema.clone(),
                    referenced_table: reference.table.clone(),
                    referenced_columns: vec![reference.column.clone()],
                    on_delete: reference.on_delete,
                    on_update: reference.on_update,
                    deferrable: reference.deferrable,
                    path: at(format!("columns[{i}].references")),
                    renamed_from: None,
                });
            }
            if column.unique {
                objects.uniques.push(UniqueDef {
                    name: naming::unique_name(name, &[&column.name]),
                    explicit_name: false,
                    columns: vec![column.name.clone()],
                    path: at(format!("columns[{i}].unique")),
                    renamed_from: None,
                });
            }
            if let Some(check) = &column.check {
                objects.checks.push(CheckDef {
                    name: naming::check_name(name, &column.name),
                    explicit_name: false,
                    expression: check.clone(),
                    path: at(format!("columns[{i}].check")),
                    renamed_from: None,
                });
            }
        }
        for (i, fk) in table.foreign_keys.iter().enumerate() {
            let columns: Vec<&str> = fk.columns.iter().map(String::as_str).collect();
            objects.foreign_keys.push(ForeignKeyDef {
                name: fk.name.clone().unwrap_or_else(|| naming::foreign_key_name(name, &columns, &fk.references.table)),
                explicit_name: fk.name.is_some(),
                columns: fk.columns.clone(),
                referenced_schema: fk.references.schema.clone(),
                referenced_table: fk.references.table.clone(),
                referenced_columns: fk.references.columns.clone(),
                on_delete: fk.on_delete,
                on_update: fk.on_update,
                deferrable: fk.deferrable,
                path: at(format!("foreignKeys[{i}]")),
                renamed_from: fk.renamed_from.clone(),
            });
        }
        for (i, unique) in table.uniques.iter().enumerate() {
            let columns: Vec<&str> = unique.columns.iter().map(String::as_str).collect();
            objects.uniques.push(UniqueDef {
                name: unique.name.clone().unwrap_or_else(|| naming::unique_name(name, &columns)),
                explicit_name: unique.name.is_some(),
                columns: unique.columns.clone(),
                path: at(format!("uniques[{i}]")),
                renamed_from: unique.renamed_from.clone(),
            });
        }
        for (i, check) in table.checks.iter().enumerate() {
            let generated = || {
                let label = parse_safe(&check.expression, ExprContext::Check)
                    .ok()
                    .filter(|e| !e.columns.is_empty())
                    .map_or_else(|| (i + 1).to_string(), |e| e.columns.join("_"));
                naming::check_name(name, &label)
            };
            objects.checks.push(CheckDef {
                name: check.name.clone().unwrap_or_else(generated),
                explicit_name: check.name.is_some(),
                expression: check.expression.clone(),
                path: at(format!("checks[{i}].expression")),
                renamed_from: check.renamed_from.clone(),
            });
        }
        for (i, index) in table.indexes.iter().enumerate() {
            let columns: Vec<&str> = index.columns.iter().map(String::as_str).collect();
            objects.indexes.push(IndexDef {
                name: index.name.clone().unwrap_or_else(|| {
                    naming::index_name(name, &columns, index.unique, index.method.sql(), naming_options)
                }),
                explicit_name: index.name.is_some(),
                columns: index.columns.clone(),
                column_options: index.column_options.clone(),
                method: index.method,
                unique: index.unique,
                nulls_not_distinct: index.nulls_not_distinct,
                predicate: index.predicate.clone(),
                include: index.include.clone(),
                path: at(format!("indexes[{i}]")),
                renamed_from: index.renamed_from.clone(),
            });
        }
        objects.make_generated_names_unique(name);
        // A name the definition gives is kept as given.
        if let (Some(pk), Some(explicit)) = (&mut objects.primary_key, &table.primary_key_name) {
            pk.name.clone_from(explicit);
        }
        objects
    }

    /// Two generated names can coincide (a btree and a hash index on the same column);
    /// PostgreSQL would then skip the second `CREATE INDEX IF NOT EXISTS` silently. Later
    /// generated names get a `_2`, `_3`, ... suffix. Explicit names are left as written
    /// (a clash there is the `naming.duplicate-object-name` rule's error).
    fn make_generated_names_unique(&mut self, table: &str) {
        let mut taken: std::collections::BTreeSet<String> = std::iter::once(table.to_owned()).collect();
        let explicit: std::collections::BTreeSet<String> = self
            .foreign_keys
            .iter()
            .filter(|o| o.explicit_name)
            .map(|o| o.name.clone())
            .chain(self.uniques.iter().filter(|o| o.explicit_name).map(|o| o.name.clone()))
            .chain(self.checks.iter().filter(|o| o.explicit_name).map(|o| o.name.clone()))
            .chain(self.indexes.iter().filter(|o| o.explicit_name).map(|o| o.name.clone()))
            .collect();
        taken.extend(explicit);
        let mut claim = |name: &mut String, explicit_name: bool| {
            if explicit_name {
                return;
            }
            let base = name.clone();
            let mut n = 2;
            while taken.contains(name.as_str()) {
                *name = naming::fit(format!("{base}_{n}"));
                n += 1;
            }
            taken.insert(name.clone());
        };
        if let Some(pk) = &mut self.primary_key {
            claim(&mut pk.name, false);
        }
        for o in &mut self.foreign_keys {
            claim(&mut o.name, o.explicit_name);
        }
        for o in &mut self.uniques {
            claim(&mut o.name, o.explicit_name);
        }
        for o in &mut self.checks {
            claim(&mut o.name, o.explicit_name);
        }
        for o in &mut self.indexes {
            claim(&mut o.name, o.explicit_name);
        }
    }

    /// Every constraint and index name with its path, in declaration order. A table-level
    /// check is named at its entry (`checks[i]`), like every other object, not at its
    /// expression.
    pub fn names(&self) -> Vec<(&str, &str)> {
        let mut names: Vec<(&str, &str)> = Vec::new();
        if let Some(pk) = &self.primary_key {
            names.push((&pk.name, &pk.path));
        }
        names.extend(self.foreign_keys.iter().map(|o| (o.name.as_str(), o.path.as_str())));
        names.extend(self.uniques.iter().map(|o| (o.name.as_str(), o.path.as_str())));
        names.extend(self.checks.iter().map(|o| (o.name.as_str(), o.entry_path())));
        names.extend(self.indexes.iter().map(|o| (o.name.as_str(), o.path.as_str())));
        names
    }
}
