//! How a live table differs from what was expected: from another reading of the catalog
//! (the rehearsal's), exactly; or from the requested model, structurally.

use std::collections::{BTreeMap, BTreeSet};

use schema_model::environment::GenerationInputs;
use schema_model::objects::TableObjects;
use schema_model::request::SchemaRequest;
use schema_model::table::Identity;
use schema_model::types::ColumnType;

use crate::live::{LiveColumn, LiveTable};

/// Every way `live` differs from `expected`, both read from a catalog, each said in a
/// sentence; empty when they are the same table as PostgreSQL states it (every type,
/// default, constraint and index definition, comment and enum label).
pub fn differences(expected: &LiveTable, live: &LiveTable) -> Vec<String> {
    let mut out = Vec::new();
    let table = format!("{}.{}", live.schema, live.name);
    if expected.kind != live.kind {
        out.push(format!("{table} is of kind {} instead of {}", live.kind, expected.kind));
    }
    if expected.comment != live.comment {
        out.push(format!("{table} has the comment {:?} instead of {:?}", live.comment, expected.comment));
    }
    let names = |columns: &[LiveColumn]| columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    if names(&expected.columns) == names(&live.columns) {
        for (want, have) in expected.columns.iter().zip(&live.columns) {
            if want != have {
                out.push(format!("column {table}.{} differs: {}", have.name, describe_column_difference(want, have)));
            }
        }
    } else {
        out.push(format!(
            "{table} has the columns {:?} instead of {:?}",
            names(&live.columns),
            names(&expected.columns)
        ));
    }
    let by_name = |items: Vec<(String, String)>| items.into_iter().collect::<BTreeMap<String, String>>();
    let want = by_name(
        expected.constraints.iter().map(|c| (c.name.clone(), format!("{} {}", c.definition, c.validated))).collect(),
    );
    let have = by_name(
        live.constraints.iter().map(|c| (c.name.clone(), format!("{} {}", c.definition, c.validated))).collect(),
    );
    compare_maps(&mut out, "constraint", &want, &have);
    let want = by_name(
        expected.indexes.iter().map(|i| (i.name.clone(), format!("{} valid={}", i.definition, i.valid))).collect(),
    );
    let have =
        by_name(live.indexes.iter().map(|i| (i.name.clone(), format!("{} valid={}", i.definition, i.valid))).collect());
    compare_maps(&mut out, "index", &want, &have);
    let want =
        by_name(expected.enums.iter().map(|e| (format!("{}.{}", e.schema, e.name), e.labels.join(", "))).collect());
    let have = by_name(live.enums.iter().map(|e| (format!("{}.{}", e.schema, e.name), e.labels.join(", "))).collect());
    compare_maps(&mut out, "enum type", &want, &have);
    out
}

fn describe_column_difference(want: &LiveColumn, have: &LiveColumn) -> String {
    let mut parts = Vec::new();
    let mut field = |what: &str, want: String, have: String| {
        if want != have {
            parts.push(format!("{what} is {have} instead of {want}"));
        }
    };
    field("the type", want.type_name.clone(), have.type_name.clone());
    field("NOT NULL", want.not_null.to_string(), have.not_null.to_string());
    field("the default", format!("{:?}", want.default), format!("{:?}", have.default));
    field("identity", format!("{:?}", want.identity), format!("{:?}", have.identity));
    field("generated", format!("{:?}", want.generated), format!("{:?}", have.generated));
    field("the comment", format!("{:?}", want.comment), format!("{:?}", have.comment));
    field("the owned sequence", format!("{:?}", want.owned_sequence), format!("{:?}", have.owned_sequence));
    if parts.is_empty() { "its type details differ".to_owned() } else { parts.join("; ") }
}

fn compare_maps(out: &mut Vec<String>, what: &str, want: &BTreeMap<String, String>, have: &BTreeMap<String, String>) {
    for (name, definition) in want {
        match have.get(name) {
            None => out.push(format!("{what} {name} is missing")),
            Some(found) if found != definition => {
                out.push(format!("{what} {name} is `{found}` instead of `{definition}`"));
            }
            Some(_) => {}
        }
    }
    for (name, found) in have {
        if !want.contains_key(name) {
            out.push(format!("{what} {name} (`{found}`) was not expected"));
        }
    }
}

/// Every way `live` differs from the table `request` asks for (with the names and shared
/// types `inputs` gave its migration): columns, types, nullability, identity, the presence
/// of defaults, comments, the constraints and indexes with their names, kinds, columns and
/// methods, and enum labels. Expressions are compared by presence only; their exact form
/// is [`differences`]' business.
pub fn conformance(request: &SchemaRequest, inputs: &GenerationInputs, live: &LiveTable) -> Vec<String> {
    let table = &request.schema_json;
    let schema = table.schema_name();
    let name = format!("{schema}.{}", table.table_name);
    let mut out = Vec::new();
    let wanted: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let found: Vec<&str> = live.columns.iter().map(|c| c.name.as_str()).collect();
    if wanted == found {
        for (model, live_column) in table.columns.iter().zip(&live.columns) {
            let column = format!("column {name}.{}", model.name);
            if let ColumnType::Named(type_name) = model.column_type.element() {
                let depth = model.column_type.sql().matches("[]").count();
                let expected = Some((schema.to_owned(), type_name.clone(), depth));
                if live_column.user_type != expected {
                    out.push(format!(
                        "{column} has the type {} instead of {schema}.{type_name}",
                        live_column.type_name
                    ));
                }
            } else {
                let expected = model.column_type.catalog_name();
                if live_column.type_name != expected || live_column.user_type.is_some() {
                    out.push(format!("{column} has the type {} instead of {expected}", live_column.type_name));
                }
            }
            if live_column.not_null != table.is_not_null(model) {
                out.push(format!("{column} is {}", if live_column.not_null { "NOT NULL" } else { "nullable" }));
            }
            let has_default = model.default_value.is_some() || model.column_type.is_serial();
            if live_column.default.is_some() != has_default {
                out.push(format!("{column} {} a default", if live_column.default.is_some() { "has" } else { "lacks" }));
            }
            let identity = match model.identity {
                Some(Identity::Always) => "a",
                Some(Identity::ByDefault) => "d",
                None => "",
            };
            if live_column.identity != identity {
                out.push(format!("{column} has identity {:?} instead of {identity:?}", live_column.identity));
            }
            let comment = model.comment.clone().filter(|c| !c.is_empty());
            if live_column.comment != comment {
                out.push(format!("{column} has the comment {:?} instead of {comment:?}", live_column.comment));
            }
        }
    } else {
        out.push(format!("{name} has the columns {found:?} instead of {wanted:?}"));
    }
    let comment = table.comment.clone().filter(|c| !c.is_empty());
    if live.comment != comment {
        out.push(format!("{name} has the comment {:?} instead of {comment:?}", live.comment));
    }

    let objects = TableObjects::of(request, &inputs.naming);
    let mut expected: BTreeSet<(String, String, Vec<String>)> = BTreeSet::new();
    if let Some(pk) = &objects.primary_key {
        expected.insert((pk.name.clone(), "p".to_owned(), pk.columns.clone()));
    }
    expected.extend(objects.foreign_keys.iter().map(|o| (o.name.clone(), "f".to_owned(), o.columns.clone())));
    expected.extend(objects.uniques.iter().map(|o| (o.name.clone(), "u".to_owned(), o.columns.clone())));
    expected.extend(objects.checks.iter().map(|o| (o.name.clone(), "c".to_owned(), Vec::new())));
    let found: BTreeSet<(String, String, Vec<String>)> = live
        .constraints
        .iter()
        .map(|c| (c.name.clone(), c.kind.clone(), if c.kind == "c" { Vec::new() } else { c.columns.clone() }))
        .collect();
    for missing in expected.difference(&found) {
        out.push(format!(
            "constraint {} ({} on {:?}) is missing or different",
            missing.0,
            kind_word(&missing.1),
            missing.2
        ));
    }
    for extra in found.difference(&expected) {
        out.push(format!("constraint {} ({} on {:?}) was not requested", extra.0, kind_word(&extra.1), extra.2));
    }

    let expected: BTreeSet<IndexShape> = objects
        .indexes
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                i.method.sql().to_owned(),
                i.unique,
                i.columns.iter().cloned().map(Some).collect(),
                i.column_options.clone(),
                i.unique && i.nulls_not_distinct,
                i.include.clone(),
                i.predicate.is_some(),
            )
        })
        .collect();
    let found: BTreeSet<IndexShape> = live
        .indexes
        .iter()
        .filter(|i| i.constraint.is_none())
        .map(|i| {
            (
                i.name.clone(),
                i.method.clone(),
                i.unique,
                i.key_columns.clone(),
                i.column_options(),
                i.nulls_not_distinct,
                i.include.clone(),
                i.predicate.is_some(),
            )
        })
        .collect();
    for missing in expected.difference(&found) {
        out.push(format!("index {} ({} on {:?}) is missing or different", missing.0, missing.1, missing.3));
    }
    for extra in found.difference(&expected) {
        out.push(format!("index {} ({} on {:?}) was not requested", extra.0, extra.1, extra.3));
    }
    for invalid in live.indexes.iter().filter(|i| !i.valid) {
        out.push(format!("index {} is invalid", invalid.name));
    }

    for declared in &table.enums {
        let live_enum = live.enums.iter().find(|e| e.schema == schema && e.name == declared.name);
        match live_enum {
            Some(found) if found.labels == declared.values => {}
            Some(found) => out.push(format!(
                "enum type {schema}.{} has the labels {:?} instead of {:?}{}",
                declared.name,
                found.labels,
                declared.values,
                if inputs.shared_enums.contains(&declared.name) { " (it is shared)" } else { "" }
            )),
            // Declared but not used by a column: it exists apart from the table.
            None => {}
        }
    }
    out
}

/// Name, method, unique, key columns, include columns, partial.
type IndexShape =
    (String, String, bool, Vec<Option<String>>, Vec<schema_model::table::IndexColumnOptions>, bool, Vec<String>, bool);

fn kind_word(kind: &str) -> &'static str {
    match kind {
        "p" => "primary key",
        "f" => "foreign key",
        "u" => "unique",
        "c" => "check",
        "x" => "exclusion",
        _ => "constraint",
    }
}
