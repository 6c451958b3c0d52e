//! Replaying migrations into the model: what each statement does to the tables, and what is
//! listed as skipped instead of being dropped silently.

use ddl_parse::replay::replay;
use schema_model::table::TableSchema;

fn one(sql: &str) -> ddl_parse::replay::Replay {
    replay([("m.sql", sql)])
}

fn table<'a>(replayed: &'a ddl_parse::replay::Replay, name: &str) -> &'a TableSchema {
    replayed
        .schema
        .tables
        .iter()
        .find(|t| t.table_name == name)
        .unwrap_or_else(|| panic!("no table {name}: {replayed:#?}"))
}

#[test]
fn a_migration_history_replays_into_the_final_tables() {
    let replayed = replay([
        (
            "001_init.sql",
            "CREATE TABLE Users (id bigserial PRIMARY KEY, email varchar(100) NOT NULL UNIQUE, nick text);
             CREATE TABLE posts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                 author_id bigint REFERENCES users ON DELETE CASCADE,
                                 body text CHECK (length(body) > 0), created_at timestamptz DEFAULT now());
             CREATE INDEX posts_author ON posts (author_id) WHERE body IS NOT NULL;
             COMMENT ON TABLE posts IS 'What users write';",
        ),
        (
            "002_change.sql",
            "ALTER TABLE users RENAME COLUMN nick TO nickname;
             ALTER TABLE users ALTER COLUMN email TYPE varchar(200), ALTER COLUMN nickname SET NOT NULL;
             ALTER TABLE users DROP CONSTRAINT users_email_key;
             ALTER TABLE users RENAME TO accounts;
             ALTER TABLE posts ADD COLUMN title text DEFAULT 'untitled' NOT NULL, DROP COLUMN created_at;
             ALTER TABLE IF EXISTS ghosts ADD COLUMN x int;
             DROP INDEX IF EXISTS nothing_here;",
        ),
    ]);
    assert_eq!(replayed.skipped, [], "nothing skipped");
    let accounts = table(&replayed, "accounts");
    let names: Vec<&str> = accounts.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "email", "nickname"]);
    assert_eq!(accounts.columns[1].column_type.sql(), "character varying(200)");
    assert!(!accounts.columns[1].unique, "the unnamed unique dropped by PostgreSQL's name for it");
    assert_eq!(accounts.columns[2].nullable, Some(false));
    let posts = table(&replayed, "posts");
    let author = posts.column("author_id").expect("author_id");
    let reference = author.references.as_ref().expect("reference");
    assert_eq!(
        (reference.table.as_str(), reference.column.as_str()),
        ("accounts", "id"),
        "follows the rename, the key found"
    );
    assert_eq!(posts.column("id").and_then(|c| c.identity), Some(schema_model::table::Identity::Always));
    assert!(posts.column("body").and_then(|c| c.check.as_ref()).is_some());
    assert!(posts.column("created_at").is_none());
    assert_eq!(posts.column("title").and_then(|c| c.default_value.as_deref()), Some("'untitled'"));
    assert_eq!(posts.indexes[0].predicate.as_deref(), Some(r#""body" IS NOT NULL"#));
    assert_eq!(posts.comment.as_deref(), Some("What users write"));
    assert_eq!(replayed.statements, 11);
}

#[test]
fn what_the_model_cannot_hold_is_listed_with_file_line_and_reason() {
    let replayed = one("CREATE TABLE events (id bigint, at timestamptz) PARTITION BY RANGE (at);\n\
         CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
         \\set ON_ERROR_STOP on\n\
         CREATE TABLE t (id int PRIMARY KEY, name text COLLATE \"C\");\n\
         CREATE TABLE u (id int PRIMARY KEY, email text);\n\
         CREATE INDEX u_lower ON u (lower(email));\n\
         ALTER TABLE u ENABLE ROW LEVEL SECURITY;\n");
    let found: Vec<(u32, &str)> = replayed.skipped.iter().map(|s| (s.line, s.kind.as_str())).collect();
    assert_eq!(
        found,
        [
            (1, "CREATE TABLE"),
            (2, "CREATE FUNCTION"),
            (3, "psql meta-command"),
            (4, "CREATE TABLE"),
            (6, "CREATE INDEX"),
            (7, "ALTER TABLE")
        ]
    );
    assert!(replayed.skipped[0].reason.contains("partitioned"), "{:?}", replayed.skipped[0]);
    assert!(replayed.skipped[3].reason.contains("COLLATE"), "{:?}", replayed.skipped[3]);
    assert!(replayed.skipped[4].reason.contains("expression index"), "{:?}", replayed.skipped[4]);
    assert_eq!(replayed.schema.tables.len(), 1, "only u");
}

#[test]
fn enum_types_go_with_their_only_table_and_shared_ones_stay_apart() {
    let replayed = one(
        "DO $x$ BEGIN CREATE TYPE mood AS ENUM ('ok', E'it\\'s fine'); EXCEPTION WHEN duplicate_object THEN NULL; END $x$;
         CREATE TYPE state AS ENUM ('on');
         ALTER TYPE state ADD VALUE 'off';
         CREATE TABLE a (id int PRIMARY KEY, m mood, s state);
         CREATE TABLE b (id int PRIMARY KEY, s state[]);",
    );
    assert_eq!(replayed.skipped, []);
    let a = table(&replayed, "a");
    assert_eq!(a.enums.len(), 1);
    assert_eq!(a.enums[0].values, ["ok", "it's fine"]);
    assert_eq!(replayed.schema.enums.len(), 1);
    assert_eq!(replayed.schema.enums[0].values, ["on", "off"]);
}

#[test]
fn statements_about_missing_tables_say_so() {
    let replayed = one("ALTER TABLE nowhere ADD COLUMN x int;\nDROP TABLE nowhere;\nCREATE INDEX i ON nowhere (x);");
    assert_eq!(replayed.skipped.len(), 3);
    assert!(replayed.skipped.iter().all(|s| s.reason.contains("not created before")), "{:#?}", replayed.skipped);
}

#[test]
fn a_default_from_the_sequence_postgresql_makes_for_a_serial_is_that_serial() {
    let replayed = one(
        "CREATE TABLE public.actor (actor_id integer NOT NULL, name text, other_id bigint DEFAULT nextval('public.shared_seq'::regclass));
         CREATE SEQUENCE public.actor_actor_id_seq START WITH 1 INCREMENT BY 1;
         ALTER TABLE ONLY public.actor ALTER COLUMN actor_id SET DEFAULT nextval('public.actor_actor_id_seq'::regclass);
         CREATE TABLE film (film_id bigint DEFAULT nextval('film_film_id_seq'::regclass) PRIMARY KEY);",
    );
    let actor = table(&replayed, "actor");
    assert_eq!(actor.columns[0].column_type.sql(), "serial");
    assert_eq!((actor.columns[0].default_value.as_deref(), actor.columns[0].nullable), (None, None));
    assert!(
        actor.columns[2].default_value.as_deref().is_some_and(|d| d.contains("shared_seq")),
        "not its own sequence"
    );
    assert_eq!(table(&replayed, "film").columns[0].column_type.sql(), "bigserial");
}

#[test]
fn a_quoted_column_keeps_its_case_in_the_serial_sequence_name() {
    let replayed = one(r#"CREATE TABLE apflora._variable ("KonstId" integer NOT NULL, jahr smallint, role name);
           ALTER TABLE ONLY apflora._variable ALTER COLUMN "KonstId" SET DEFAULT nextval('apflora."_variable_KonstId_seq"'::regclass);
           ALTER TABLE ONLY apflora._variable ALTER COLUMN jahr SET DEFAULT nextval('apflora."_variable_Jahr_seq"'::regclass);"#);
    let variable = table(&replayed, "_variable");
    assert_eq!(variable.columns[0].column_type.sql(), "serial");
    assert!(variable.columns[1].default_value.is_some(), "a sequence of another name is not the column's own");
    assert_eq!(variable.columns[2].column_type.sql(), "name", "PostgreSQL's name type is built in");
}

#[test]
fn a_down_migration_is_judged_against_the_schema_it_undoes() {
    use ddl_parse::layout::migrations;
    use ddl_parse::replay::{SqlFile, replay_for_lint};
    use schema_model::statement::StatementAction;
    let files = [
        ("1_t.up.sql", "CREATE TABLE t (id int PRIMARY KEY, n integer);"),
        ("1_t.down.sql", "ALTER TABLE t ALTER COLUMN n TYPE text;"),
        ("2_wider.up.sql", "ALTER TABLE t ALTER COLUMN n TYPE bigint;"),
        ("2_wider.down.sql", "ALTER TABLE t ALTER COLUMN n TYPE integer;"),
    ];
    let (_, ordered) = migrations(&files);
    let inputs: Vec<SqlFile<'_>> = ordered.iter().map(SqlFile::of_migration).collect();
    let (replayed, linted) = replay_for_lint(&inputs);
    let from = |path: &str| {
        let file = linted.iter().find(|f| f.path == path).expect(path);
        match &file.statements[0].facts.as_ref().expect("facts").action {
            StatementAction::ChangeType { from, .. } => from.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(from("2_wider.down.sql").as_deref(), Some("bigint"), "after its own up");
    assert_eq!(from("1_t.down.sql").as_deref(), Some("integer"), "after 1's up, not after 2's");
    assert_eq!(table(&replayed, "t").columns[1].column_type.sql(), "bigint", "the replay is the schema after the ups");
}

#[test]
fn extensions_the_files_install_are_kept_for_the_import_script() {
    let replayed = one(r#"DROP EXTENSION IF EXISTS pg_trgm;
           CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
           CREATE EXTENSION "uuid-ossp";
           CREATE EXTENSION IF NOT EXISTS hstore SCHEMA extensions VERSION '1.8';
           DROP EXTENSION hstore CASCADE;
           CREATE TABLE t (id uuid, name text);
           CREATE INDEX t_name ON t USING gin (name public.gin_trgm_ops);
           CREATE INDEX t_recent ON t (id DESC NULLS LAST, name);"#);
    let names: Vec<(&str, Option<&str>)> =
        replayed.extensions.iter().map(|e| (e.name.as_str(), e.schema.as_deref())).collect();
    assert_eq!(names, [("pg_trgm", Some("public")), ("uuid-ossp", None)]);
    assert_eq!(replayed.skipped, [], "extensions are not skipped");
    let t = table(&replayed, "t");
    assert_eq!(t.indexes[0].column_options[0].operator_class.as_deref(), Some("gin_trgm_ops"));
    assert!(t.indexes[1].column_options[0].descending);
    assert_eq!(t.indexes[1].column_options[0].nulls, Some(schema_model::table::NullsOrder::Last));
    assert!(t.indexes[1].column_options[1].is_default());
}

#[test]
fn storage_parameters_and_deferred_keys_are_skipped_with_a_reason_never_dropped() {
    let replayed = one("CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE s (id int) WITH (fillfactor = 70);
         CREATE TABLE v (a int NOT NULL, CONSTRAINT v_a_key UNIQUE (a) DEFERRABLE INITIALLY DEFERRED);
         CREATE TABLE w (a int, CONSTRAINT w_a_key UNIQUE NULLS NOT DISTINCT (a));
         CREATE TABLE x (id int PRIMARY KEY DEFERRABLE);
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p NOT DEFERRABLE INITIALLY IMMEDIATE);");
    let reasons: Vec<(u32, &str)> = replayed.skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
    assert_eq!(reasons.len(), 4, "{reasons:#?}");
    assert!(
        reasons[0].1.contains("table options")
            && reasons[0].1.contains("fillfactor")
            && reasons[0].1.contains("without them"),
        "{reasons:?}"
    );
    assert!(reasons[1].1.contains("DEFERRABLE") && reasons[1].1.contains("unique"), "{reasons:?}");
    assert!(reasons[2].1.contains("NULLS NOT DISTINCT"), "{reasons:?}");
    assert!(reasons[3].1.contains("primary keys"), "{reasons:?}");
    let names: Vec<&str> = replayed.schema.tables.iter().map(|t| t.table_name.as_str()).collect();
    assert_eq!(
        names,
        ["p", "s", "c"],
        "storage parameters are left out, the table kept; NOT DEFERRABLE is the default"
    );
}

#[test]
fn deferrable_foreign_keys_keep_when_they_are_checked() {
    use schema_model::table::Deferrable;
    let replayed = one("CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p DEFERRABLE INITIALLY DEFERRED, q int, r int);
         ALTER TABLE c ADD CONSTRAINT c_q_fkey FOREIGN KEY (q) REFERENCES p (id) DEFERRABLE;
         ALTER TABLE c ADD CONSTRAINT c_r_fkey FOREIGN KEY (r) REFERENCES p (id) INITIALLY DEFERRED;
         CREATE TABLE n (p_id int REFERENCES p NOT ENFORCED);");
    let c = table(&replayed, "c");
    assert_eq!(
        c.column("p_id").and_then(|col| col.references.as_ref()).and_then(|r| r.deferrable),
        Some(Deferrable::InitiallyDeferred)
    );
    let keys: Vec<Option<Deferrable>> = c.foreign_keys.iter().map(|fk| fk.deferrable).collect();
    assert_eq!(keys, [Some(Deferrable::InitiallyImmediate), Some(Deferrable::InitiallyDeferred)]);
    let reasons: Vec<&str> = replayed.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("NOT ENFORCED") || reasons[0].contains("not understood"), "{reasons:?}");
}

#[test]
fn the_registrys_own_guarded_constraints_are_read() {
    let replayed = one(r#"CREATE TABLE "public"."t" ("id" int NOT NULL, CONSTRAINT "t_pkey" PRIMARY KEY ("id"));
DO $registry$ BEGIN
  ALTER TABLE "public"."t" ADD CONSTRAINT "t_id_key" UNIQUE ("id");
EXCEPTION WHEN duplicate_table OR duplicate_object THEN NULL;
END $registry$;
DO $registry$ BEGIN
  ALTER TABLE "public"."t" ADD CONSTRAINT "t_id_fkey" FOREIGN KEY ("id") REFERENCES "public"."t" ("id") DEFERRABLE;
EXCEPTION WHEN duplicate_object THEN NULL;
END $registry$;"#);
    assert_eq!(replayed.skipped, [], "nothing skipped");
    let t = table(&replayed, "t");
    assert_eq!(t.uniques.len(), 1, "{t:?}");
    assert_eq!(t.foreign_keys.len(), 1, "{t:?}");
}

#[test]
fn a_rename_onto_a_table_that_exists_is_refused_as_postgresql_refuses_it() {
    let replayed = one("CREATE TABLE a (id int PRIMARY KEY);
         CREATE TABLE b (id int PRIMARY KEY, note text);
         ALTER TABLE a RENAME TO b;
         ALTER TABLE b RENAME TO b;");
    let reasons: Vec<&str> = replayed.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "ALTER TABLE renames a to b, the name of a table that exists already",
            "ALTER TABLE renames b to b, the name of a table that exists already"
        ]
    );
    assert_eq!(replayed.skipped.iter().map(|s| s.line).collect::<Vec<_>>(), [3, 4]);
    // Both tables stay as they were: one `a`, one `b` with its own columns.
    assert_eq!(table(&replayed, "a").columns.len(), 1);
    assert_eq!(table(&replayed, "b").columns.len(), 2);
    assert_eq!(replayed.schema.tables.len(), 2);
}

#[test]
fn an_alter_table_with_an_operation_the_replay_refuses_changes_nothing() {
    let replayed = one("CREATE TABLE t (id int PRIMARY KEY, a int);
         ALTER TABLE t ADD COLUMN b int, RENAME COLUMN a TO c, ADD COLUMN b text;
         ALTER TABLE t ADD COLUMN d int UNIQUE, DROP COLUMN nowhere;");
    assert_eq!(replayed.skipped.len(), 2, "{:#?}", replayed.skipped);
    assert!(replayed.skipped[0].reason.contains("column b exists already"), "{:?}", replayed.skipped[0]);
    assert!(replayed.skipped[1].reason.contains("nowhere"), "{:?}", replayed.skipped[1]);
    // As in PostgreSQL, a statement that fails leaves the table as it was: no column b, c or
    // d, a not renamed, no unique constraint.
    let t = table(&replayed, "t");
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "a"]);
    assert!(t.columns.iter().all(|c| !c.unique) && t.uniques.is_empty());
}

#[test]
fn the_lint_keeps_a_tables_name_when_its_rename_is_refused() {
    let sql = "CREATE TABLE a (id int);\nCREATE TABLE b (id int PRIMARY KEY);\nALTER TABLE a RENAME TO b;\nALTER TABLE b RENAME TO c;\n";
    let (_, linted) = ddl_parse::replay::replay_for_lint(&[ddl_parse::replay::SqlFile::alone("a.sql", sql)]);
    // `a` keeps its name (the rename onto `b` is refused); `b` became `c`.
    let tables: Vec<(&str, u32, usize)> =
        linted[0].tables.iter().map(|(_, name, line, table)| (name.as_str(), *line, table.primary_key.len())).collect();
    let names: Vec<&str> = tables.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(names, ["a", "c"], "{tables:?}");
    let c = &linted[0].tables[1].3;
    assert!(c.columns.iter().any(|col| col.primary_key) || !c.primary_key.is_empty(), "{c:#?}");
    let a = &linted[0].tables[0].3;
    assert!(a.columns.iter().all(|col| !col.primary_key) && a.primary_key.is_empty(), "{a:#?}");
}
