//! The PostgreSQL pieces sea-query does not build, written with sea-query's own quoting:
//! identifier and string quoting, the guarded `CREATE TYPE`, the transaction frame, the
//! file-name time stamp and the layout of `CREATE TABLE`.

use sea_query::extension::postgres::Type;
use sea_query::{Alias, IntoIden, PostgresQueryBuilder, QueryBuilder, QuotedBuilder, Value};

/// Quotes an identifier (`"a""b"`) with sea-query's PostgreSQL quoting.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    // An owned string makes sea-query double embedded quotes (borrowed ones are trusted).
    PostgresQueryBuilder.prepare_iden(&Alias::new(name.to_owned()).into_iden(), &mut out);
    out
}

/// `"schema"."name"`, or `"name"` when no schema is given.
pub fn qualified(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(name)),
        None => quote_ident(name),
    }
}

/// A string literal with sea-query's PostgreSQL escaping (`E'...'` when needed).
pub fn string_literal(text: &str) -> String {
    PostgresQueryBuilder.value_to_string(&Value::String(Some(text.to_owned())))
}

/// Text for a `--` comment line: control characters (new lines above all) become spaces,
/// so user text can never end the comment and start a statement.
pub fn single_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `CREATE TYPE ... AS ENUM` inside a `DO` block that ignores `duplicate_object`: PostgreSQL
/// has no `CREATE TYPE IF NOT EXISTS`. The dollar-quote tag is chosen so that it does not
/// occur in the body.
pub fn create_enum_guarded(schema: Option<&str>, name: &str, values: &[String]) -> String {
    let mut statement = Type::create();
    match schema {
        Some(schema) => statement.as_enum((Alias::new(schema.to_owned()), Alias::new(name.to_owned()))),
        None => statement.as_enum(Alias::new(name.to_owned())),
    };
    statement.values(values.iter().map(|v| Alias::new(v.clone())));
    let body = statement.to_string(PostgresQueryBuilder);
    let tag = dollar_tag(&body);
    format!("DO {tag} BEGIN\n  {body};\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND {tag}")
}

/// `ALTER TABLE … ADD CONSTRAINT name definition` inside a `DO` block that does nothing when
/// the constraint (or an index of its name) exists already, so the script can run twice.
pub fn add_constraint_guarded(table_ref: &str, name: &str, definition: &str) -> String {
    let body = format!("ALTER TABLE {table_ref} ADD CONSTRAINT {} {definition}", quote_ident(name));
    let tag = dollar_tag(&body);
    format!("DO {tag} BEGIN\n  {body};\nEXCEPTION WHEN duplicate_table OR duplicate_object THEN NULL;\nEND {tag}")
}

/// `DROP TYPE` inside a `DO` block that keeps the type when another table still uses it
/// (`dependent_objects_still_exist`): a rollback must never fail forever, nor drop what
/// another table needs.
pub fn drop_enum_unless_used(schema: Option<&str>, name: &str) -> String {
    let body = format!("DROP TYPE IF EXISTS {}", qualified(schema, name));
    let tag = dollar_tag(&body);
    format!("DO {tag} BEGIN\n  {body};\nEXCEPTION WHEN dependent_objects_still_exist THEN NULL;\nEND {tag}")
}

/// A dollar-quote tag that does not occur in `body`.
fn dollar_tag(body: &str) -> String {
    let mut tag = "$registry$".to_owned();
    let mut n = 0u32;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$registry{n}$");
    }
    tag
}

/// Wraps statements in `BEGIN; SET LOCAL lock_timeout ...; ...; COMMIT;` under a header.
///
/// The lock timeout matters even for a new table: a foreign key locks the referenced
/// table, and a migration queued behind a long transaction would block every query on it.
pub fn transaction(header: &str, direction: &str, statements: &[String]) -> String {
    let mut out = format!("{header}\n-- {direction}\nBEGIN;\nSET LOCAL lock_timeout = '5s';\n");
    for statement in statements {
        out.push_str(statement);
        out.push_str(";\n");
    }
    out.push_str("COMMIT;\n");
    out
}

/// The statements between `BEGIN;` and `COMMIT;` of a script [`transaction`] wrote, so a
/// caller can run them inside a transaction of its own (next to a history row). `None`
/// for any other text.
pub fn transaction_body(script: &str) -> Option<&str> {
    const BEGIN: &str = "\nBEGIN;\n";
    let start = script.find(BEGIN)? + BEGIN.len();
    script[start..].strip_suffix("COMMIT;\n")
}

/// Lays `CREATE TABLE name (a, b, c)` out one column or constraint per line. The column
/// list starts at the first parenthesis outside quotes (a quoted table name may hold one),
/// and commas are split only outside quotes and nested parentheses.
pub fn pretty_create_table(sql: &str) -> String {
    let mut in_quotes = false;
    let Some(open) = sql.char_indices().find_map(|(i, c)| {
        match c {
            '"' => in_quotes = !in_quotes,
            '(' if !in_quotes => return Some(i),
            _ => {}
        }
        None
    }) else {
        return sql.to_owned();
    };
    let head = sql[..open].trim_end();
    let body = &sql[open + 1..];
    let Some(body) = body.trim_end().strip_suffix(')') else {
        return sql.to_owned();
    };
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in body.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            // Inside quotes, or an ordinary character: keep it.
            _ => {}
        }
        current.push(c);
    }
    parts.push(current.trim().to_owned());
    format!("{head} (\n  {}\n)", parts.join(",\n  "))
}

/// `YYYYMMDD_HHMMSS` in UTC for Unix seconds (proleptic Gregorian, no clock involved).
pub fn utc_stamp(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}{month:02}{day:02}_{:02}{:02}{:02}", in_day / 3600, in_day % 3600 / 60, in_day % 60)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(0), "19700101_000000");
        assert_eq!(utc_stamp(1_701_792_000), "20231205_160000");
        assert_eq!(utc_stamp(951_782_400), "20000229_000000");
        assert_eq!(utc_stamp(253_402_300_799), "99991231_235959");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(string_literal("it's"), "E'it\\'s'");
        assert_eq!(string_literal("plain"), "'plain'");
        assert_eq!(single_line("a\nDROP TABLE x;\r"), "a DROP TABLE x; ");
        assert_eq!(qualified(Some("app"), "t"), "\"app\".\"t\"");
    }

    #[test]
    fn body_of_a_transaction() {
        let script = transaction("-- header", "up", &["CREATE TABLE t (a int)".to_owned()]);
        assert_eq!(transaction_body(&script), Some("SET LOCAL lock_timeout = '5s';\nCREATE TABLE t (a int);\n"));
        assert_eq!(transaction_body("CREATE TABLE t (a int);"), None);
    }

    #[test]
    fn enum_guard_tag_avoids_the_body() {
        let sql = create_enum_guarded(None, "mood", &["$registry$".to_owned()]);
        assert!(sql.starts_with("DO $registry1$ BEGIN"), "{sql}");
    }

    #[test]
    fn layout_never_splits_inside_a_quoted_name() {
        let sql = r#"CREATE TABLE "a ( b"."t ( x" ( "c ( d" integer, "e" text )"#;
        assert_eq!(
            pretty_create_table(sql),
            "CREATE TABLE \"a ( b\".\"t ( x\" (\n  \"c ( d\" integer,\n  \"e\" text\n)"
        );
    }

    #[test]
    fn layout_splits_top_level_commas_only() {
        let sql =
            r#"CREATE TABLE "t" ( "a" numeric(10,2), "b,c" text DEFAULT 'x,y', CONSTRAINT "pk" PRIMARY KEY ("a") )"#;
        assert_eq!(
            pretty_create_table(sql),
            "CREATE TABLE \"t\" (\n  \"a\" numeric(10,2),\n  \"b,c\" text DEFAULT 'x,y',\n  CONSTRAINT \"pk\" PRIMARY KEY (\"a\")\n)"
        );
    }
}
