//! Migration folders as their tools see them: which files are migrations, in which order,
//! which way they run (up or down) and whether in a transaction. Pure: the caller gives the
//! folder's files (path relative to the folder, and text).
//!
//! Recognised: diesel (`<dir>/up.sql`, `down.sql`, `metadata.toml` with
//! `run_in_transaction = false`), Prisma (`<ts>_<name>/migration.sql`), gobuffalo/pop
//! (`<ts>_<name>.postgres.up.sql`), sqlx and golang-migrate (`<n>_<name>.up.sql` /
//! `.down.sql`, sqlx's `-- no-transaction`), Flyway and refinery (`V<n>__<name>.sql`,
//! `U<n>__…`), dbmate (`-- migrate:up` / `-- migrate:down`, `transaction:false`), goose
//! (`-- +goose Up` / `Down`, `-- +goose NO TRANSACTION`), and plain numbered files.

use std::borrow::Cow;
use std::cmp::Ordering;

/// The tool a folder is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Layout {
    /// `<dir>/up.sql` + `down.sql`.
    Diesel,
    /// `<dir>/migration.sql`.
    Prisma,
    /// `….postgres.up.sql` / `.down.sql`.
    Pop,
    /// `<n>_<name>.up.sql` / `.down.sql`.
    UpDownFiles,
    /// `V<n>__<name>.sql` / `U<n>__<name>.sql`.
    Flyway,
    /// One file per migration with `-- migrate:up` / `-- migrate:down`.
    Dbmate,
    /// One file per migration with `-- +goose Up` / `-- +goose Down`.
    Goose,
    /// SQL files run in name order.
    Plain,
}

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// Forward.
    Up,
    /// Back.
    Down,
}

/// One migration file, or one direction of a file that holds both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration<'a> {
    /// The file.
    pub path: String,
    /// The file's place among those given to [`migrations`].
    pub file: usize,
    /// Which way it runs.
    pub direction: Direction,
    /// Its SQL: the file's text as given (borrowed, not copied: a dump is megabytes), or with
    /// the other direction's lines blanked (line numbers stay those of the file).
    pub sql: Cow<'a, str>,
    /// Whether the tool runs it in a transaction.
    pub in_transaction: bool,
    /// The key it is ordered by (its version or folder name).
    pub version: String,
    /// Whether its tool sends it as one multi-statement query (diesel, sqlx and
    /// golang-migrate, dbmate, pop): PostgreSQL then runs it as one implicit transaction even
    /// when the tool opens none.
    pub one_query: bool,
}

/// The layout of a folder, and its migrations: the ups in the order they run, then the
/// downs in the order they would undo them (newest first).
pub fn migrations<'a>(files: &[(&str, &'a str)]) -> (Layout, Vec<Migration<'a>>) {
    let layout = detect(files);
    // The folders whose diesel `metadata.toml` says `run_in_transaction = false`.
    let no_transaction: std::collections::HashSet<&str> = files
        .iter()
        .filter(|(path, text)| {
            file_name(path) == "metadata.toml"
                && text.lines().any(|l| {
                    let l: String =
                        l.split('#').next().unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
                    l == "run_in_transaction=false"
                })
        })
        .map(|(path, _)| parent(path))
        .collect();
    let metadata_no_transaction = |dir: &str| no_transaction.contains(dir);
    let mut out = Vec::new();
    for (file, (path, text)) in files.iter().enumerate().filter(|(_, (path, _))| is_sql(path)) {
        let text: &'a str = text;
        let name = file_name(path);
        let one = |direction, version: &str, in_transaction| Migration {
            path: (*path).to_owned(),
            file,
            direction,
            sql: Cow::Borrowed(text),
            in_transaction,
            version: version.to_owned(),
            one_query: matches!(layout, Layout::Diesel | Layout::UpDownFiles | Layout::Dbmate | Layout::Pop),
        };
        match layout {
            Layout::Diesel => {
                let direction = match name {
                    "up.sql" => Direction::Up,
                    "down.sql" => Direction::Down,
                    _ => continue,
                };
                out.push(one(direction, parent(path), !metadata_no_transaction(parent(path))));
            }
            Layout::Prisma => {
                if name == "migration.sql" {
                    out.push(one(Direction::Up, parent(path), true));
                }
            }
            Layout::Pop | Layout::UpDownFiles => {
                let no_transaction = first_comment_is(text, "no-transaction");
                if let Some(stem) = name.strip_suffix(".up.sql") {
                    out.push(one(Direction::Up, stem, !no_transaction));
                } else if let Some(stem) = name.strip_suffix(".down.sql") {
                    out.push(one(Direction::Down, stem, !no_transaction));
                }
            }
            Layout::Flyway => {
                // Flyway runs a migration holding CONCURRENTLY outside a transaction.
                let in_transaction = !text.to_ascii_lowercase().contains("concurrently");
                if let Some(rest) = name.strip_prefix("R__") {
                    // Repeatable migrations run after the versioned ones.
                    out.push(one(Direction::Up, &format!("~repeatable {rest}"), in_transaction));
                    continue;
                }
                if !is_flyway(name) {
                    continue;
                }
                let direction = if name.starts_with('U') { Direction::Down } else { Direction::Up };
                let version = name[1..].split("__").next().unwrap_or_default();
                out.push(one(direction, version, in_transaction));
            }
            Layout::Dbmate => {
                for (direction, marker, other) in [
                    (Direction::Up, "-- migrate:up", "-- migrate:down"),
                    (Direction::Down, "-- migrate:down", "-- migrate:up"),
                ] {
                    if let Some((sql, options)) = section(text, marker, other) {
                        let in_transaction = !options.replace(' ', "").contains("transaction:false");
                        out.push(Migration { sql: Cow::Owned(sql), ..one(direction, name, in_transaction) });
                    }
                }
            }
            Layout::Goose => {
                let in_transaction = !text.lines().any(|l| l.trim().eq_ignore_ascii_case("-- +goose NO TRANSACTION"));
                for (direction, marker, other) in [
                    (Direction::Up, "-- +goose Up", "-- +goose Down"),
                    (Direction::Down, "-- +goose Down", "-- +goose Up"),
                ] {
                    if let Some((sql, _)) = section(text, marker, other) {
                        out.push(Migration { sql: Cow::Owned(sql), ..one(direction, name, in_transaction) });
                    }
                }
            }
            // Numbered files run by psql: each statement on its own, no transaction.
            Layout::Plain => out.push(one(Direction::Up, name, false)),
        }
    }
    out.sort_by(|a, b| match (a.direction, b.direction) {
        (Direction::Up, Direction::Down) => Ordering::Less,
        (Direction::Down, Direction::Up) => Ordering::Greater,
        (Direction::Up, Direction::Up) => natural(&a.version, &b.version).then_with(|| natural(&a.path, &b.path)),
        (Direction::Down, Direction::Down) => natural(&b.version, &a.version).then_with(|| natural(&b.path, &a.path)),
    });
    (layout, out)
}

/// The layout the files are written for.
pub fn detect(files: &[(&str, &str)]) -> Layout {
    let names: Vec<&str> = files.iter().map(|(path, _)| file_name(path)).collect();
    let any = |check: &dyn Fn(&str) -> bool| names.iter().any(|n| check(n));
    if any(&|n| n == "up.sql" || n == "down.sql") {
        Layout::Diesel
    } else if any(&|n| n == "migration.sql") {
        Layout::Prisma
    } else if any(&|n| n.ends_with(".postgres.up.sql") || n.ends_with(".postgres.down.sql")) {
        Layout::Pop
    } else if any(&|n| n.ends_with(".up.sql") || n.ends_with(".down.sql")) {
        Layout::UpDownFiles
    } else if any(&|n| is_flyway(n)) {
        Layout::Flyway
    } else if files.iter().any(|(_, text)| {
        // Looked for line by line only in a file that has the marker somewhere.
        text.contains("-- migrate:up") && text.lines().any(|l| l.trim_start().starts_with("-- migrate:up"))
    }) {
        Layout::Dbmate
    } else if files
        .iter()
        .any(|(_, text)| has_goose_marker(text) && text.lines().any(|l| l.trim().eq_ignore_ascii_case("-- +goose Up")))
    {
        Layout::Goose
    } else {
        Layout::Plain
    }
}

/// Whether `+goose` is anywhere in `text`, in any case (a quick test before reading lines).
fn has_goose_marker(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(plus) = bytes[from..].iter().position(|&b| b == b'+') {
        let at = from + plus + 1;
        if bytes.get(at..at + 5).is_some_and(|word| word.eq_ignore_ascii_case(b"goose")) {
            return true;
        }
        from = at;
    }
    false
}

/// Whether a path names an SQL file (`.sql`, in any case).
pub fn is_sql(path: &str) -> bool {
    path.rsplit_once('.').is_some_and(|(_, extension)| extension.eq_ignore_ascii_case("sql"))
}

fn is_flyway(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(['V', 'U']) else { return false };
    let Some((version, _)) = rest.split_once("__") else { return false };
    !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '_')
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn parent(path: &str) -> &str {
    path.rfind(['/', '\\']).map_or("", |i| &path[..i])
}

/// sqlx's marker: the file starts with exactly `-- no-transaction`.
fn first_comment_is(text: &str, word: &str) -> bool {
    text.strip_prefix("-- ").is_some_and(|rest| rest.starts_with(word))
}

/// The lines of `text` from the line with `marker` up to the line with `other` (or the
/// end), all other lines blanked; `None` without the marker. Also the rest of the marker's
/// line (its options).
fn section(text: &str, marker: &str, other: &str) -> Option<(String, String)> {
    let mut inside = false;
    let mut found = None;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let starts = |prefix: &str| trimmed.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix));
        if starts(marker) {
            inside = true;
            found = Some(trimmed.get(marker.len()..).unwrap_or_default().to_owned());
        } else if starts(other) {
            inside = false;
        } else if inside || trimmed.contains("registry:ignore-file") {
            // A file's suppressions (often written above the first marker) hold for both.
            out.push_str(line);
            continue;
        }
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    found.map(|options| (out, options))
}

/// Names compared with their runs of digits as numbers (`2_a` before `10_a`).
pub fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order != Ordering::Equal {
                    return order;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&d| d == b'0').count();
    &digits[zeros.min(digits.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ups(files: &[(&str, &str)]) -> (Layout, Vec<String>) {
        let (layout, migrations) = migrations(files);
        (layout, migrations.iter().filter(|m| m.direction == Direction::Up).map(|m| m.path.clone()).collect())
    }

    #[test]
    fn each_tool_is_recognised_and_ordered_as_it_orders() {
        let diesel = [
            ("2020-01-10-000000_b/up.sql", "b"),
            ("2020-01-02-000000_a/up.sql", "a"),
            ("2020-01-02-000000_a/down.sql", "-a"),
            ("2020-01-10-000000_b/metadata.toml", "run_in_transaction = false\n"),
        ];
        let (layout, migrations) = migrations(&diesel);
        assert_eq!(layout, Layout::Diesel);
        assert_eq!(
            migrations.iter().map(|m| (m.path.as_str(), m.direction, m.in_transaction)).collect::<Vec<_>>(),
            [
                ("2020-01-02-000000_a/up.sql", Direction::Up, true),
                ("2020-01-10-000000_b/up.sql", Direction::Up, false),
                ("2020-01-02-000000_a/down.sql", Direction::Down, true),
            ]
        );
        assert_eq!(
            ups(&[("10_b.up.sql", ""), ("2_a.up.sql", "-- no-transaction\n"), ("2_a.down.sql", "")]).1,
            ["2_a.up.sql", "10_b.up.sql"]
        );
        assert_eq!(
            ups(&[("V10__b.sql", ""), ("V2__a.sql", ""), ("U2__a.sql", "")]),
            (Layout::Flyway, vec!["V2__a.sql".to_owned(), "V10__b.sql".to_owned()])
        );
        assert_eq!(ups(&[("1_x.postgres.up.sql", ""), ("1_x.postgres.down.sql", "")]).0, Layout::Pop);
        assert_eq!(ups(&[("20240101_init/migration.sql", "")]).0, Layout::Prisma);
        assert_eq!(
            ups(&[("b.sql", ""), ("a10.sql", ""), ("a9.sql", "")]),
            (Layout::Plain, vec!["a9.sql".to_owned(), "a10.sql".to_owned(), "b.sql".to_owned()])
        );
    }

    #[test]
    fn one_file_of_both_directions_is_split_keeping_its_line_numbers() {
        let dbmate = "-- migrate:up transaction:false\nCREATE TABLE t (a int);\n\n-- migrate:down\nDROP TABLE t;\n";
        let (layout, found) = migrations(&[("20240101_t.sql", dbmate)]);
        assert_eq!(layout, Layout::Dbmate);
        assert_eq!(found[0].sql, "\nCREATE TABLE t (a int);\n\n\n\n");
        assert!(!found[0].in_transaction);
        assert_eq!(found[1].sql, "\n\n\n\nDROP TABLE t;\n");
        let goose = "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE t (a int);\n-- +goose StatementEnd\n-- +goose Down\nDROP TABLE t;\n";
        let (layout, found) = migrations(&[("001_t.sql", goose)]);
        assert_eq!(layout, Layout::Goose);
        assert!(found[0].sql.contains("CREATE TABLE") && !found[0].sql.contains("DROP"));
        assert_eq!(found[0].sql.lines().count(), goose.lines().count());
    }
}
