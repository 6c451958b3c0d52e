//! Convergence on a real PostgreSQL: for a random table A with rows, and B derived from A by
//! random changes, the change A → B as the registry plans it (run by `psql -f`, as it is)
//! leaves a table that reads back as B, with nothing left to change; running it again changes
//! nothing; its way back leaves a table that reads back as A (but for enum labels, which
//! PostgreSQL cannot remove), and the rows A had keep the values of every column that was
//! not dropped. The realistic evolutions of `fixtures/changes/` go through the same.

mod support;

use std::io::Write as _;

use pg_cluster::test_support::TestServer;
use policy::config::Policy;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use registry_core::change::{CheckedChange, Current, check_change};
use schema_model::change::Change;
use schema_model::environment::GenerationInputs;
use schema_model::naming::NamingOptions;
use schema_model::request::SchemaRequest;
use schema_model::table::{CheckConstraint, Column, Index, IndexMethod, TableSchema, UniqueConstraint};
use schema_model::types::ColumnType;
use support::{Db, runtime};

/// Everything may change here: these tests are about what PostgreSQL does with it.
fn lenient() -> Policy {
    Policy::from_toml(
        "[rules]\n\"change.drops-column\" = \"warning\"\n\"change.drops-constraint\" = \"warning\"\n\
         [compatibility]\ndefault = \"NONE\"\n",
    )
    .expect("policy")
}

/// One random change to make to a table.
#[derive(Debug, Clone)]
enum Mutation {
    AddColumn { kind: u8, default: bool },
    DropColumn(prop::sample::Index),
    RenameColumn(prop::sample::Index),
    Widen(prop::sample::Index),
    SetDefault(prop::sample::Index),
    DropDefault(prop::sample::Index),
    MakeNotNull(prop::sample::Index),
    MakeNullable(prop::sample::Index),
    AddIndex(prop::sample::Index, bool),
    DropIndex(prop::sample::Index),
    AddCheck(prop::sample::Index),
    AddUnique(prop::sample::Index),
    AddLabel,
    Comment(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    use prop::sample::Index as At;
    prop_oneof![
        (0u8..4, any::<bool>()).prop_map(|(kind, default)| Mutation::AddColumn { kind, default }),
        any::<At>().prop_map(Mutation::DropColumn),
        any::<At>().prop_map(Mutation::RenameColumn),
        any::<At>().prop_map(Mutation::Widen),
        any::<At>().prop_map(Mutation::SetDefault),
        any::<At>().prop_map(Mutation::DropDefault),
        any::<At>().prop_map(Mutation::MakeNotNull),
        any::<At>().prop_map(Mutation::MakeNullable),
        (any::<At>(), any::<bool>()).prop_map(|(at, partial)| Mutation::AddIndex(at, partial)),
        any::<At>().prop_map(Mutation::DropIndex),
        any::<At>().prop_map(Mutation::AddCheck),
        any::<At>().prop_map(Mutation::AddUnique),
        Just(Mutation::AddLabel),
        any::<At>().prop_map(Mutation::Comment),
    ]
}

/// Columns a change may touch: not the key, not a serial or identity.
fn movable(table: &TableSchema) -> Vec<usize> {
    let key = table.primary_key_columns().iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
    (0..table.columns.len())
        .filter(|&i| {
            let c = &table.columns[i];
            !key.contains(&c.name) && c.identity.is_none() && !c.column_type.is_serial()
        })
        .collect()
}

/// B: A with the mutations that make sense for it (the others are skipped).
fn mutate(a: &TableSchema, mutations: &[Mutation]) -> TableSchema {
    let mut b = a.clone();
    let mut added = 0;
    for mutation in mutations {
        let candidates = movable(&b);
        let pick = |at: &prop::sample::Index| (!candidates.is_empty()).then(|| candidates[at.index(candidates.len())]);
        match mutation {
            Mutation::AddColumn { kind, default } => {
                added += 1;
                let (column_type, value) = match kind {
                    0 => (ColumnType::Text, "'new'"),
                    1 => (ColumnType::Integer, "7"),
                    2 => (ColumnType::Boolean, "false"),
                    _ => (ColumnType::parse("timestamptz").expect("type"), "now()"),
                };
                let mut column = Column::new(format!("added_{added}"), column_type);
                if *default {
                    column.default_value = Some(value.to_owned());
                    column.nullable = Some(false);
                }
                b.columns.push(column);
            }
            Mutation::DropColumn(at) => {
                let Some(i) = pick(at) else { continue };
                // A NOT NULL column cannot come back as it was (its values are gone): the way
                // back adds it allowing NULL, as its notes say.
                let before = b.columns[i].renamed_from.clone().unwrap_or_else(|| b.columns[i].name.clone());
                if b.is_not_null(&b.columns[i]) || a.column(&before).is_some_and(|c| a.is_not_null(c)) {
                    continue;
                }
                let name = b.columns.remove(i).name;
                b.indexes.retain(|x| !x.columns.contains(&name) && !x.include.contains(&name));
                b.uniques.retain(|u| !u.columns.contains(&name));
                b.checks.retain(|c| !c.expression.contains(&name));
            }
            Mutation::RenameColumn(at) => {
                let Some(i) = pick(at) else { continue };
                let old = b.columns[i].name.clone();
                if a.column(&old).is_none() {
                    continue;
                }
                let new = format!("{old}_r");
                b.columns[i].renamed_from = Some(old.clone());
                b.columns[i].name.clone_from(&new);
                let rename = |names: &mut Vec<String>| {
                    for n in names.iter_mut().filter(|n| **n == old) {
                        n.clone_from(&new);
                    }
                };
                for index in &mut b.indexes {
                    rename(&mut index.columns);
                    rename(&mut index.include);
                    if let Some(p) = &mut index.predicate {
                        *p = p.replace(&old, &new);
                    }
                }
                for unique in &mut b.uniques {
                    rename(&mut unique.columns);
                }
                for check in &mut b.checks {
                    check.expression = check.expression.replace(&old, &new);
                }
            }
            Mutation::Widen(at) => {
                let Some(i) = pick(at) else { continue };
                if let ColumnType::Varchar(Some(n)) = b.columns[i].column_type {
                    b.columns[i].column_type = ColumnType::Varchar(Some(n * 2));
                }
            }
            Mutation::SetDefault(at) => {
                let Some(i) = pick(at) else { continue };
                if b.columns[i].column_type == ColumnType::Text {
                    b.columns[i].default_value = Some("'set'".to_owned());
                }
            }
            Mutation::DropDefault(at) => {
                let Some(i) = pick(at) else { continue };
                if !b.is_not_null(&b.columns[i]) {
                    b.columns[i].default_value = None;
                }
            }
            Mutation::MakeNotNull(at) => {
                let Some(i) = pick(at) else { continue };
                // Only a column the rows have values in (added ones are NULL there).
                let before = b.columns[i].renamed_from.clone().unwrap_or_else(|| b.columns[i].name.clone());
                if a.column(&before).is_some() {
                    b.columns[i].nullable = Some(false);
                }
            }
            Mutation::MakeNullable(at) => {
                let Some(i) = pick(at) else { continue };
                b.columns[i].nullable = Some(true);
            }
            Mutation::AddIndex(at, partial) => {
                let Some(i) = pick(at) else { continue };
                let column = &b.columns[i];
                if matches!(column.column_type, ColumnType::Json | ColumnType::Xml)
                    || b.indexes.iter().any(|x| x.columns == [column.name.clone()] && x.method == IndexMethod::Btree)
                {
                    continue;
                }
                b.indexes.push(Index {
                    predicate: partial.then(|| format!("{} IS NOT NULL", column.name)),
                    ..Index::on(&[&column.name])
                });
            }
            Mutation::DropIndex(at) => {
                if !b.indexes.is_empty() {
                    b.indexes.remove(at.index(b.indexes.len()));
                }
            }
            Mutation::AddCheck(at) => {
                let Some(i) = pick(at) else { continue };
                let column = &b.columns[i];
                if column.column_type == ColumnType::Integer
                    && !b.checks.iter().any(|c| c.expression.contains(&column.name))
                    && column.check.is_none()
                {
                    b.checks.push(CheckConstraint {
                        name: None,
                        expression: format!("{} >= 0", column.name),
                        renamed_from: None,
                    });
                }
            }
            Mutation::AddUnique(at) => {
                let Some(i) = pick(at) else { continue };
                let column = &b.columns[i];
                // Only where the rows hold distinct values (an added column holds its
                // default, or NULL, in every row).
                let before = column.renamed_from.clone().unwrap_or_else(|| column.name.clone());
                if a.column(&before).is_none() {
                    continue;
                }
                if matches!(column.column_type, ColumnType::Text | ColumnType::Integer | ColumnType::Uuid)
                    && !column.unique
                    && !b.uniques.iter().any(|u| u.columns == [column.name.clone()])
                {
                    b.uniques.push(UniqueConstraint {
                        name: None,
                        columns: vec![column.name.clone()],
                        renamed_from: None,
                    });
                }
            }
            Mutation::AddLabel => {
                if let Some(e) = b.enums.first_mut()
                    && !e.values.iter().any(|v| v == "added label")
                {
                    e.values.push("added label".to_owned());
                }
            }
            Mutation::Comment(at) => {
                let Some(i) = pick(at) else { continue };
                b.columns[i].comment = Some(format!("changed {}", b.columns[i].name));
            }
        }
    }
    b
}

/// A value for each column of `table` in row `row` (distinct per row where a type allows).
fn sample(column: &Column, table: &TableSchema, row: usize) -> Option<String> {
    if column.identity.is_some() || column.column_type.is_serial() {
        return None;
    }
    let value = match &column.column_type {
        ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt | ColumnType::Numeric { .. } => {
            format!("{}", row + 1)
        }
        ColumnType::Real | ColumnType::DoublePrecision => format!("{}.5", row + 1),
        ColumnType::Text | ColumnType::Varchar(_) => format!("'value {row}'"),
        ColumnType::Char(_) => "'abc'".to_owned(),
        ColumnType::Boolean => "true".to_owned(),
        ColumnType::Date => "'2020-01-02'".to_owned(),
        ColumnType::Timestamp { .. } => "now()".to_owned(),
        ColumnType::Time { .. } => "'12:00+00'".to_owned(),
        ColumnType::Interval => "'1 day'".to_owned(),
        ColumnType::Uuid => "gen_random_uuid()".to_owned(),
        ColumnType::Json | ColumnType::Jsonb | ColumnType::Array(_) => "'{}'".to_owned(),
        ColumnType::Bytea => "'\\x00'".to_owned(),
        ColumnType::Inet => "'127.0.0.1'".to_owned(),
        ColumnType::Cidr => "'10.0.0.0/8'".to_owned(),
        ColumnType::MacAddr => "'08:00:2b:01:02:03'".to_owned(),
        ColumnType::TsVector => "'a'".to_owned(),
        ColumnType::Xml => "'<a/>'".to_owned(),
        ColumnType::Named(name) => {
            let label = table.enums.iter().find(|e| &e.name == name).and_then(|e| e.values.first())?;
            format!("'{}'", label.replace('\'', "''"))
        }
        _ => return None,
    };
    Some(value)
}

async fn insert_rows(db: &Db, table: &TableSchema) -> Result<(), String> {
    for row in 0..3 {
        let (names, values): (Vec<String>, Vec<String>) = table
            .columns
            .iter()
            .filter_map(|c| sample(c, table, row).map(|v| (ddl_gen::pg::quote_ident(&c.name), v)))
            .unzip();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            ddl_gen::pg::qualified(Some(table.schema_name()), &table.table_name),
            names.join(", "),
            values.join(", ")
        );
        db.execute(&sql).await.map_err(|e| format!("rows: {e}\n{sql}"))?;
    }
    Ok(())
}

/// The rows, as text, of the columns both definitions share (by the first one's names,
/// through renames).
async fn rows(db: &Db, table: &TableSchema, columns: &[String]) -> Result<Vec<String>, String> {
    if columns.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = columns.iter().map(|c| format!("{}::text", ddl_gen::pg::quote_ident(c))).collect();
    let sql = format!(
        "SELECT concat_ws('|', {}) FROM {} ORDER BY 1",
        list.join(", "),
        ddl_gen::pg::qualified(Some(table.schema_name()), &table.table_name)
    );
    let found = db.client().query(&sql, &[]).await.map_err(|e| format!("{e}: {sql}"))?;
    Ok(found.iter().map(|row| row.get::<_, Option<String>>(0).unwrap_or_default()).collect())
}

fn script(server: &TestServer, database: &str, sql: &str, what: &str) -> Result<(), String> {
    let mut file = tempfile(what);
    file.1.write_all(sql.as_bytes()).map_err(|e| e.to_string())?;
    drop(file.1);
    let result = server.psql_file(database, &file.0).map(|_| ()).map_err(|e| format!("{what}: {e}\n{sql}"));
    let _ = std::fs::remove_file(&file.0);
    result
}

fn tempfile(what: &str) -> (std::path::PathBuf, std::fs::File) {
    use std::os::unix::fs::PermissionsExt as _;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "registry-evolution-{}-{}-{}.sql",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        what.replace(' ', "-")
    ));
    let file = std::fs::File::create(&path).expect("temp file");
    // psql may run as the cluster's OS user.
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
    (path, file)
}

/// The whole round: create A with rows, change to B, again, back, again.
async fn round(
    server: &TestServer,
    database: &str,
    db: &Db,
    a: &SchemaRequest,
    b: &SchemaRequest,
) -> Result<CheckedChange, String> {
    let naming = NamingOptions::default();
    db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public").await?;
    let create = ddl_gen::generate(a, &naming).map_err(|e| format!("create: {e}"))?;
    db.execute(&create.up_sql).await.map_err(|e| format!("create: {e}\n{}", create.up_sql))?;
    insert_rows(db, &a.schema_json).await?;
    let inputs = GenerationInputs::with_naming(&naming);
    let checked = check_change(b, Current { table: &a.schema_json, inputs: &inputs, level: None }, &lenient(), None);
    let Some(preview) = checked.answer.migration_preview.clone() else {
        return Err(format!("no migration: {:#?}", checked.answer.violations));
    };
    let (old, new) = (&a.schema_json, &b.schema_json);
    // The columns A and B share, by A's and B's names, for the rows.
    let shared: Vec<(String, String)> = new
        .columns
        .iter()
        .filter_map(|c| {
            let before = c.renamed_from.clone().unwrap_or_else(|| c.name.clone());
            old.column(&before).map(|_| (before, c.name.clone()))
        })
        .collect();
    let old_names: Vec<String> = shared.iter().map(|(o, _)| o.clone()).collect();
    let new_names: Vec<String> = shared.iter().map(|(_, n)| n.clone()).collect();
    let before_rows = rows(db, old, &old_names).await?;

    for pass in ["up", "up again"] {
        script(server, database, &preview.up_sql, pass)?;
        let found = db.live(new.schema_name(), &new.table_name).await?;
        let left = schema_diff::diff(new, &found, &naming).map_err(|e| format!("{pass}: {e}"))?;
        if !left.is_empty() {
            return Err(format!("{pass}: the table is not B, left: {left:#?}\nfound: {found:#?}\n{}", preview.up_sql));
        }
        let after_rows = rows(db, new, &new_names).await?;
        if after_rows != before_rows {
            return Err(format!("{pass}: rows changed: {before_rows:?} -> {after_rows:?}"));
        }
    }
    for pass in ["down", "down again"] {
        script(server, database, &preview.down_sql, pass)?;
        let found = db.live(old.schema_name(), &old.table_name).await?;
        let left: Vec<Change> = schema_diff::diff(old, &found, &naming)
            .map_err(|e| format!("{pass}: {e}"))?
            .into_iter()
            // PostgreSQL cannot remove enum labels: the ones the change added stay.
            .filter(|c| !matches!(c, Change::AddEnumValue { .. }))
            .collect();
        if !left.is_empty() {
            return Err(format!("{pass}: the table is not A, left: {left:#?}\n{}", preview.down_sql));
        }
        let back_rows = rows(db, old, &old_names).await?;
        if back_rows != before_rows {
            return Err(format!("{pass}: rows changed: {before_rows:?} -> {back_rows:?}"));
        }
    }
    Ok(checked)
}

#[test]
fn random_changes_converge_on_postgresql_both_ways() {
    let server = support::server();
    let rt = runtime();
    let database = server.create_unique_database("evolve").expect("database");
    let db = rt.block_on(support::connect_to(&server, &database));
    let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
    let changed = std::cell::Cell::new(0_usize);
    let strategy = (support::arbitrary::table(), prop::collection::vec(mutation(), 2..9));
    let result = runner.run(&strategy, |(a, mutations)| {
        let b_table = mutate(&a.schema_json, &mutations);
        let b = SchemaRequest { schema_json: b_table.clone(), table_name: b_table.table_name.clone(), ..a.clone() };
        let checked = rt.block_on(round(&server, &database, &db, &a, &b)).map_err(TestCaseError::fail)?;
        if !checked.changes.is_empty() {
            changed.set(changed.get() + 1);
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    assert!(changed.get() >= 40, "only {} of 64 pairs changed anything", changed.get());
}

#[test]
fn the_realistic_evolutions_converge_too() {
    let server = support::server();
    let rt = runtime();
    let database = server.create_unique_database("evolve_fixtures").expect("database");
    let db = rt.block_on(support::connect_to(&server, &database));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/changes");
    let mut ran = 0;
    let mut paths: Vec<_> =
        std::fs::read_dir(&dir).expect("fixtures/changes").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.contains("_bad_") {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
        let a = SchemaRequest::from_value(value["before"].clone()).expect("before");
        let b = SchemaRequest::from_value(value["after"].clone()).expect("after");
        rt.block_on(round(&server, &database, &db, &a, &b)).unwrap_or_else(|e| panic!("{name}: {e}"));
        ran += 1;
    }
    assert!(ran >= 4, "{ran}");
}
