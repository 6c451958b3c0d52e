//! The generator's SQL read back: for every request fixture, the CREATE script ddl-gen
//! writes, imported, is the fixture's table again (no change between them in PostgreSQL's
//! terms, the columns in the same order) and nothing of it is skipped.

use ddl_parse::replay::replay;
use schema_model::naming::NamingOptions;
use schema_model::request::SchemaRequest;

#[test]
fn every_request_fixture_survives_generate_then_import() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/requests");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).expect("fixtures").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    let naming = NamingOptions::default();
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(path).expect("fixture");
        let Ok(request) = SchemaRequest::from_json(&text) else { continue };
        // Bad fixtures (two columns of one name, an index without columns) make SQL that
        // PostgreSQL itself refuses.
        if policy::has_errors(&policy::check(&request, &policy::config::Policy::standard())) {
            continue;
        }
        let Ok(preview) = ddl_gen::generate(&request, &naming) else { continue };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let imported = replay([(name.as_str(), preview.up_sql.as_str())]);
        checked += 1;
        if !imported.skipped.is_empty() {
            failures.push(format!("{name}: skipped {:#?}", imported.skipped));
            continue;
        }
        let [table] = imported.schema.tables.as_slice() else {
            failures.push(format!("{name}: {} tables", imported.schema.tables.len()));
            continue;
        };
        let expected = &request.schema_json;
        match schema_diff::diff(expected, table, &naming) {
            Ok(changes) if changes.is_empty() => {}
            Ok(changes) => {
                let described: Vec<String> = changes.iter().map(schema_model::change::Change::describe).collect();
                failures.push(format!("{name}: {described:?}"));
            }
            Err(error) => failures.push(format!("{name}: {error}")),
        }
        let order = |t: &schema_model::table::TableSchema| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        if order(expected) != order(table) {
            failures.push(format!("{name}: column order {:?}", order(table)));
        }
    }
    assert!(checked >= 22, "only {checked} fixtures generate");
    assert!(failures.is_empty(), "{} of {checked}:\n{}", failures.len(), failures.join("\n"));
}
