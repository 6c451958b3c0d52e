//! Living tables through the real binary: a change request for a managed table goes through
//! review and apply to version N+1, a change planned against an older version is refused,
//! an out-of-band `ALTER TABLE` is reported as drift (API and `drift` command), an adopted
//! table can be changed, and `kill -9` between two steps of an apply is finished on the next
//! apply without repeating a step that already ran.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use serde_json::{Value, json};
use support::{Actors, Server, actors, cleanup, fixture};

/// The embedded server's only target (its database is `target`).
const TARGET: &str = "default";

/// Submits and approves `request`, checking it was accepted as `kind`.
fn submit_and_approve(server: &Server, who: &Actors, request: &Value, kind: &str) -> (String, Value) {
    let (id, answer) = support::submit_and_approve(server, who, request);
    assert_eq!(answer["kind"], kind, "{answer}");
    (id, answer)
}

fn apply(server: &Server, who: &Actors, id: &str) -> (u16, Value) {
    server.call("POST", &format!("/api/schema-requests/{id}/apply"), Some(&who.operator), Some(&json!({})))
}

/// Seed 001's caricatures request with extra columns and indexes.
fn caricatures_with(columns: &[Value], indexes: &[Value]) -> Value {
    let mut request = fixture("01_caricatures.json");
    let definition = &mut request["schemaJson"];
    definition["columns"].as_array_mut().unwrap().extend(columns.iter().cloned());
    definition["indexes"].as_array_mut().unwrap().extend(indexes.iter().cloned());
    request
}

fn current_version(server: &Server, who: &Actors, table: &str) -> Value {
    let (status, body) = server.call("GET", &format!("/api/tables/{table}"), Some(&who.requester), None);
    assert_eq!(status, 200, "{body}");
    body["currentVersion"].clone()
}

fn drift(server: &Server, who: &Actors, table: &str) -> Value {
    let (status, body) = server.call(
        "GET",
        &format!("/api/tables/{table}/drift?database={TARGET}&schema=public"),
        Some(&who.requester),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn a_change_goes_through_review_and_apply_a_stale_base_is_refused_and_drift_is_reported() {
    let server = Server::start(None, "");
    let who = actors(&server);
    let (created, answer) = submit_and_approve(&server, &who, &fixture("01_caricatures.json"), "create");
    assert!(answer["baseVersion"].is_null(), "{answer}");
    assert_eq!(apply(&server, &who, &created).0, 200);
    server.target_sql(
        "INSERT INTO caricatures (user_id, image_url) SELECT 'u' || g, 'https://x/' || g FROM generate_series(1, 50) g",
    );

    // One more column and an index: an ALTER against version 1, in lock-safe steps.
    let likes = json!({"name": "likes", "type": "integer", "nullable": false, "defaultValue": "0"});
    let likes_index = json!({"name": "idx_caricatures_likes", "columns": ["likes"]});
    let (change, answer) = submit_and_approve(&server, &who, &caricatures_with(&[likes], &[likes_index]), "alter");
    assert_eq!(answer["baseVersion"], 1, "{answer}");
    let up = answer["migrationPreview"]["upSql"].as_str().unwrap();
    assert!(up.contains(r#"ADD COLUMN IF NOT EXISTS "likes" integer DEFAULT 0 NOT NULL"#), "{up}");
    assert!(up.contains(r#"CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_caricatures_likes""#), "{up}");
    assert!(answer["migrationPreview"]["fileName"].as_str().unwrap().ends_with("_alter_caricatures"), "{answer}");

    // A second change planned against the same version 1.
    let rating = json!({"name": "rating", "type": "smallint", "nullable": true});
    let (competitor, answer) = submit_and_approve(&server, &who, &caricatures_with(&[rating], &[]), "alter");
    assert_eq!(answer["baseVersion"], 1, "{answer}");

    let (status, body) = apply(&server, &who, &change);
    assert_eq!(status, 200, "{body}");
    assert_eq!(current_version(&server, &who, "caricatures"), 2);
    assert_eq!(
        server.target_sql("SELECT count(*) FROM caricatures WHERE likes = 0"),
        "50",
        "rows kept, default filled"
    );
    assert_eq!(
        server.target_sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_caricatures_likes'::regclass"),
        "t"
    );

    let (status, body) = apply(&server, &who, &competitor);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "stale_base_version", "{body}");
    assert_eq!(
        server.target_sql(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'caricatures'::regclass AND attname = 'rating'"
        ),
        "0"
    );
    assert_eq!(current_version(&server, &who, "caricatures"), 2);

    // In sync, then changed by hand.
    let report = drift(&server, &who, "caricatures");
    assert_eq!(report["inSync"], true, "{report}");
    assert_eq!(report["differences"], json!([]), "{report}");
    let token = [("REGISTRY_TOKEN", who.requester.as_str())];
    let out = server.command_with_env(&["drift", "--target", TARGET, "--table", "caricatures"], &token);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    server.target_sql(
        "ALTER TABLE caricatures ADD COLUMN sneaky text; ALTER TABLE caricatures ALTER COLUMN likes DROP DEFAULT",
    );
    let report = drift(&server, &who, "caricatures");
    assert_eq!(report["inSync"], false, "{report}");
    assert_eq!(report["version"], 2, "{report}");
    let differences = report["differences"].as_array().unwrap();
    let sneaky = differences.iter().find(|d| d["object"] == "column sneaky").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(sneaky["expected"], "absent", "{report}");
    assert!(sneaky["live"].as_str().unwrap().contains("text"), "{report}");
    let likes = differences.iter().find(|d| d["object"] == "column likes").unwrap_or_else(|| panic!("{report}"));
    assert!(likes["expected"].as_str().unwrap().contains("DEFAULT 0"), "{report}");
    assert!(!likes["live"].as_str().unwrap().contains("DEFAULT"), "{report}");

    for args in [vec!["drift", "--target", TARGET, "--table", "caricatures"], vec!["drift", "--target", TARGET]] {
        let out = server.command_with_env(&args, &token);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            text.contains("public.caricatures on default (version 2): drifted") && text.contains("sneaky"),
            "{text}"
        );
    }
    let out =
        server.command_with_env(&["drift", "--target", TARGET, "--table", "caricatures", "--format", "json"], &token);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["inSync"], false, "the endpoint's answer: {report}");
    assert_eq!(report["differences"], drift(&server, &who, "caricatures")["differences"]);
    let out = server.command_with_env(&["drift", "--target", TARGET, "--format", "json"], &token);
    let every: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(every["inSync"], false, "{every}");
    assert_eq!(every["tables"][0]["table"], "caricatures", "{every}");

    // A change planned against the registry's version is not applied on top of a drifted table.
    let (third, _) = submit_and_approve(
        &server,
        &who,
        &caricatures_with(
            &[
                json!({"name": "likes", "type": "integer", "nullable": false, "defaultValue": "0"}),
                json!({"name": "shares", "type": "integer", "nullable": true}),
            ],
            &[json!({"name": "idx_caricatures_likes", "columns": ["likes"]})],
        ),
        "alter",
    );
    let (status, body) = apply(&server, &who, &third);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "drift", "{body}");
    assert_eq!(
        server.target_sql(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'caricatures'::regclass AND attname = 'shares'"
        ),
        "0"
    );

    // Errors of the command: an unknown table and a server that is not there.
    let out = server.command_with_env(&["drift", "--target", TARGET, "--table", "nothing"], &token);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let out = server.command_with_env(&["drift", "--server", "http://127.0.0.1:1", "--target", TARGET], &token);
    assert_eq!(out.status.code(), Some(2));
    let dir = server.stop();
    cleanup(&dir);
}

#[test]
fn an_adopted_table_can_then_be_changed() {
    let server = Server::start(None, "");
    let who = actors(&server);
    server.target_sql(
        "CREATE TABLE legacy_notes (
             id bigint GENERATED ALWAYS AS IDENTITY,
             body text NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now(),
             CONSTRAINT legacy_notes_pkey PRIMARY KEY (id)
         );
         INSERT INTO legacy_notes (body) SELECT 'note ' || g FROM generate_series(1, 20) g",
    );
    // A request for a table the registry does not manage, but which exists, cannot be applied.
    let (status, body) = server.call("GET", "/api/tables/legacy_notes/drift", Some(&who.requester), None);
    assert_eq!(status, 404, "{body}");

    let token = [("REGISTRY_TOKEN", who.requester.as_str())];
    let out = server.command_with_env(&["table", "adopt", "--target", TARGET, "--table", "legacy_notes"], &token);
    assert_eq!(out.status.code(), Some(1), "a requester may not adopt");
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"), "{}", String::from_utf8_lossy(&out.stderr));
    let operator = [("REGISTRY_TOKEN", who.operator.as_str())];
    // Created by a superuser: the registry could never ALTER it, so it is not adopted.
    let out = server.command_with_env(&["table", "adopt", "--target", TARGET, "--table", "legacy_notes"], &operator);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("409") && stderr.contains(r#"ALTER TABLE "public"."legacy_notes" OWNER TO "registry_target""#),
        "{stderr}"
    );
    let (status, _) = server.call("GET", "/api/tables/legacy_notes", Some(&who.requester), None);
    assert_eq!(status, 404, "nothing recorded");
    server.target_sql("ALTER TABLE legacy_notes OWNER TO registry_target");
    let out = server.command_with_env(&["table", "adopt", "--target", TARGET, "--table", "legacy_notes"], &operator);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(current_version(&server, &who, "legacy_notes"), 1);
    let (status, detail) = server.call("GET", "/api/tables/legacy_notes", Some(&who.requester), None);
    assert_eq!(status, 200, "{detail}");
    let version = &detail["versions"][0];
    assert_eq!(version["adoptedBy"], "olaf", "{detail}");
    assert_eq!(drift(&server, &who, "legacy_notes")["inSync"], true);
    let out = server.command_with_env(&["table", "adopt", "--target", TARGET, "--table", "legacy_notes"], &operator);
    assert_eq!(out.status.code(), Some(1), "adopting twice is refused");

    // The adopted definition plus a column is a change of version 1.
    let mut definition = version["definition"].clone();
    assert_eq!(definition["primaryKeyName"], "legacy_notes_pkey", "{definition}");
    definition["columns"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "pinned", "type": "boolean", "nullable": false, "defaultValue": "false"}));
    let request = json!({
        "tableName": "legacy_notes",
        "owner": "omega-bot",
        "schemaJson": definition,
        "requestMetadata": fixture("01_caricatures.json")["requestMetadata"],
    });
    let (change, answer) = submit_and_approve(&server, &who, &request, "alter");
    assert_eq!(answer["baseVersion"], 1, "{answer}");
    let (status, body) = apply(&server, &who, &change);
    assert_eq!(status, 200, "{body}");
    assert_eq!(current_version(&server, &who, "legacy_notes"), 2);
    assert_eq!(server.target_sql("SELECT count(*) FROM legacy_notes WHERE NOT pinned"), "20");
    assert_eq!(
        server.target_sql(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'legacy_notes'::regclass AND contype = 'p'"
        ),
        "legacy_notes_pkey"
    );
    assert_eq!(drift(&server, &who, "legacy_notes")["inSync"], true);
    let (status, audit) = server.call("GET", "/api/tables/legacy_notes/audit", Some(&who.requester), None);
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<&str> = audit["audit"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"adopt"), "adoption is audited: {actions:?}");
    let dir = server.stop();
    cleanup(&dir);
}

/// Every DDL command the target runs, with the statement text it came from, as an event
/// trigger sees it (commands on the registry's own `schema_registry` objects left out).
const COMMAND_LOG: &str = "
    CREATE TABLE public.ddl_log (id bigserial PRIMARY KEY, tag text NOT NULL, statement text NOT NULL);
    CREATE FUNCTION public.log_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    DECLARE command record;
    BEGIN
        FOR command IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
            IF command.schema_name IS DISTINCT FROM 'schema_registry' THEN
                INSERT INTO public.ddl_log (tag, statement) VALUES (command.command_tag, current_query());
            END IF;
        END LOOP;
    END $$;
    CREATE EVENT TRIGGER log_ddl ON ddl_command_end EXECUTE FUNCTION public.log_ddl();";

/// The logged commands with id in `range` (SQL), one `TAG: statement` per line.
fn logged(server: &Server, range: &str) -> String {
    server.target_sql(&format!(
        "SELECT coalesce(string_agg(tag || ': ' || statement, E'\\n' ORDER BY id), '') FROM public.ddl_log WHERE statement LIKE '%\"caricatures\"%' AND {range}"
    ))
}

#[test]
fn kill_9_between_two_steps_then_apply_again_runs_the_remaining_steps_once() {
    let mut server = Server::start(None, "");
    let who = actors(&server);
    let (created, _) = submit_and_approve(&server, &who, &fixture("01_caricatures.json"), "create");
    assert_eq!(apply(&server, &who, &created).0, 200);
    server.target_sql(
        "INSERT INTO caricatures (user_id, image_url) SELECT 'u' || g, 'https://x/' || g FROM generate_series(1, 50) g",
    );

    // A column, an index built concurrently, a check added NOT VALID and validated apart.
    let mut request = caricatures_with(
        &[json!({"name": "likes", "type": "integer", "nullable": true})],
        &[json!({"name": "idx_caricatures_likes", "columns": ["likes"]})],
    );
    request["schemaJson"]["checks"] = json!([{"name": "ck_caricatures_likes", "expression": "likes >= 0"}]);
    request["compatibility"] = json!("NONE");
    let (change, answer) = submit_and_approve(&server, &who, &request, "alter");
    let up = answer["migrationPreview"]["upSql"].as_str().unwrap();
    let steps = up.lines().filter(|line| line.starts_with("-- step ")).count();
    assert_eq!(steps, 4, "{up}");
    server.target_sql(COMMAND_LOG);

    let dir = server.stop();
    server = Server::start_with_env(Some(dir), "", &[("SCHEMA_REGISTRY_CRASH_AT", "apply:step-2-done")]);
    let died =
        server.try_call("POST", &format!("/api/schema-requests/{change}/apply"), Some(&who.operator), Some(&json!({})));
    assert!(died.is_err(), "the server died under the call: {died:?}");
    let (clean, dir) = server.wait_for_exit();
    assert!(!clean, "killed");

    server = Server::start(Some(dir), "");
    assert_eq!(server.sql("registry", "SELECT count(*) FROM registry.operations"), "0", "settled at start");
    let finished = "SELECT string_agg(step::text, ',' ORDER BY step) FROM schema_registry.applied_steps";
    assert_eq!(server.target_sql(finished), "1,2", "two steps finished before the kill");
    let (status, body) = server.call("GET", &format!("/api/schema-requests/{change}"), Some(&who.requester), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved", "unfinished: still to apply");
    assert_eq!(current_version(&server, &who, "caricatures"), 1);
    let first_run = logged(&server, "true");
    assert!(first_run.contains("ADD COLUMN") && first_run.contains("CREATE INDEX CONCURRENTLY"), "{first_run}");
    assert!(!first_run.contains("ADD CONSTRAINT"), "{first_run}");
    let last_of_first_run = server.target_sql("SELECT max(id) FROM public.ddl_log");

    let (status, body) = apply(&server, &who, &change);
    assert_eq!(status, 200, "{body}");
    assert_eq!(current_version(&server, &who, "caricatures"), 2);
    assert_eq!(server.target_sql(finished), "1,2,3,4");
    let second_run = logged(&server, &format!("id > {last_of_first_run}"));
    assert!(second_run.contains("ADD CONSTRAINT") && second_run.contains("VALIDATE CONSTRAINT"), "{second_run}");
    assert!(
        !second_run.contains("ADD COLUMN") && !second_run.contains("CREATE INDEX"),
        "finished steps ran again:\n{second_run}"
    );
    let repeated = server
        .target_sql("SELECT count(*) FROM (SELECT statement FROM public.ddl_log WHERE statement LIKE '%\"caricatures\"%' GROUP BY 1 HAVING count(*) > 1) r");
    assert_eq!(repeated, "0", "{}", logged(&server, "true"));
    assert_eq!(server.target_sql("SELECT convalidated FROM pg_constraint WHERE conname = 'ck_caricatures_likes'"), "t");
    assert_eq!(
        server.target_sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_caricatures_likes'::regclass"),
        "t"
    );
    assert_eq!(server.target_sql("SELECT count(*) FROM caricatures"), "50");
    assert_eq!(drift(&server, &who, "caricatures")["inSync"], true);
    let dir = server.stop();
    cleanup(&dir);
}
