//! What exists around a requested table: every name of its schema that the registry's
//! catalog knows (the current versions of the tables it manages on the request's target) and
//! that the live target has. The policy checks names and shared types against it; the
//! rehearsal creates the shared types from it.

use std::collections::BTreeSet;

use schema_model::environment::{
    ExistingConstraint, ExistingObjects, ExistingRelation, ExistingType, RelationKind, Source,
};
use schema_model::table::TableSchema;
use schema_model::violation::{Severity, Violation};

use crate::error::StoreError;
use crate::store::{Store, Target};

/// The rule id of the note that the live target could not be read.
pub const TARGET_UNREACHABLE_RULE: &str = "target.unreachable";

/// The table definitions the catalog holds for the current versions of a target's tables.
pub(crate) async fn managed_tables(
    client: &impl tokio_postgres::GenericClient,
    target: &str,
) -> Result<Vec<TableSchema>, StoreError> {
    let rows = client
        .query(
            "SELECT v.definition FROM registry.tables t
             JOIN registry.databases d ON d.id = t.database_id
             JOIN registry.table_versions v ON v.table_id = t.id AND v.version = t.current_version
             WHERE d.name = $1",
            &[&target],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let definition: serde_json::Value = row.get(0);
            serde_json::from_value::<TableSchema>(definition)
                .map_err(|e| StoreError::Internal(format!("a catalog definition does not read back: {e}")))
        })
        .collect()
}

/// The catalog's half: the managed tables of `schema`, with their indexes, constraints and
/// enum types as the registry recorded them.
pub(crate) async fn from_catalog(
    client: &impl tokio_postgres::GenericClient,
    target: &str,
    schema: &str,
) -> Result<ExistingObjects, StoreError> {
    let mut objects = ExistingObjects::default();
    let rows = client
        .query(
            "SELECT t.name, i.name, 'index' FROM registry.tables t
             JOIN registry.databases d ON d.id = t.database_id
             JOIN registry.table_versions v ON v.table_id = t.id AND v.version = t.current_version
             JOIN registry.indexes i ON i.table_version_id = v.id
             WHERE d.name = $1 AND t.schema_name = $2
             UNION ALL
             SELECT t.name, c.name, c.kind FROM registry.tables t
             JOIN registry.databases d ON d.id = t.database_id
             JOIN registry.table_versions v ON v.table_id = t.id AND v.version = t.current_version
             JOIN registry.constraints c ON c.table_version_id = v.id
             WHERE d.name = $1 AND t.schema_name = $2",
            &[&target, &schema],
        )
        .await?;
    for row in rows {
        let table: String = row.get(0);
        let name: String = row.get(1);
        let kind: String = row.get(2);
        if matches!(kind.as_str(), "index" | "primary key" | "unique") {
            objects.add_relation(
                &name,
                ExistingRelation { kind: RelationKind::Index, table: Some(table.clone()), source: Source::Catalog },
            );
        }
        if kind != "index" {
            objects.add_constraint(&name, ExistingConstraint { table, source: Source::Catalog });
        }
    }
    for table in managed_tables(client, target).await? {
        if table.schema_name() != schema {
            continue;
        }
        objects.add_relation(
            &table.table_name,
            ExistingRelation { kind: RelationKind::Table, table: None, source: Source::Catalog },
        );
        for declared in &table.enums {
            let used = table.columns.iter().any(
                |c| matches!(c.column_type.element(), schema_model::types::ColumnType::Named(n) if *n == declared.name),
            );
            objects.add_type(
                &declared.name,
                ExistingType {
                    enum_values: Some(declared.values.clone()),
                    used_by: used.then(|| table.table_name.clone()).into_iter().collect::<BTreeSet<String>>(),
                    source: Source::Catalog,
                },
            );
        }
    }
    Ok(objects)
}

/// Both halves merged: the live target's names (when it answers) and the catalog's.
pub(crate) async fn existing_objects(
    client: &impl tokio_postgres::GenericClient,
    target_name: &str,
    target: &Target,
    schema: &str,
) -> Result<(ExistingObjects, Option<Violation>), StoreError> {
    let catalog = from_catalog(client, target_name, schema).await?;
    let live = async {
        let reader = target.readers.get().await?;
        let (exists, entries) =
            pg_introspect::read::namespace(&**reader, schema).await.map_err(|e| StoreError::from(e.0))?;
        Ok::<_, StoreError>(pg_introspect::live::existing_objects(exists, &entries))
    }
    .await;
    let (mut merged, note) = match live {
        Ok(live) => (live, None),
        Err(error) if error.is_unavailable() => (
            ExistingObjects::default(),
            Some(Violation {
                severity: Severity::Warning,
                message: format!(
                    "Target \"{target_name}\" could not be read ({error}); names were checked against the registry's catalog only"
                ),
                suggestion: "The apply checks the target again before it runs anything".to_owned(),
                rule: TARGET_UNREACHABLE_RULE.to_owned(),
                path: String::new(),
            }),
        ),
        Err(error) => return Err(error),
    };
    for (name, relation) in catalog.relations {
        merged.add_relation(&name, relation);
    }
    for (name, constraints) in catalog.constraints {
        for constraint in constraints {
            merged.add_constraint(&name, constraint);
        }
    }
    for (name, found) in catalog.types {
        merged.add_type(&name, found);
    }
    Ok((merged, note))
}

impl Store {
    /// The target a request is for: the one it names (which must be configured), else the
    /// configured default, else the one named `default`, else the only one; `None` when no
    /// target is configured.
    pub fn resolve_target(&self, requested: Option<&str>) -> Result<Option<String>, StoreError> {
        let targets = &self.inner.targets;
        if let Some(name) = requested {
            return if targets.contains_key(name) {
                Ok(Some(name.to_owned()))
            } else {
                Err(StoreError::Invalid(format!(
                    "unknown target \"{name}\"; the configured targets are {}",
                    targets.keys().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ")
                )))
            };
        }
        if let Some(name) = &self.inner.default_target {
            return Ok(Some(name.clone()));
        }
        if targets.contains_key("default") {
            return Ok(Some("default".to_owned()));
        }
        Ok((targets.len() == 1).then(|| targets.keys().next().cloned()).flatten())
    }
}
