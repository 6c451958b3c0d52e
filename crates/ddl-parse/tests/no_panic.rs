//! Any text at all — quotes and dollar quotes left open, comments nested wrong, backslashes
//! before multibyte characters, psql commands mid-statement — is split, parsed, replayed and
//! judged without a panic, and every piece is a slice of the text at its stated place.

use ddl_parse::replay::{SqlFile, replay_for_lint};
use proptest::prelude::*;

/// Fragments that exercise the scanner's states, glued in random order.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("'".to_owned()),
        Just("E'\\'".to_owned()),
        Just("\"".to_owned()),
        Just("$$".to_owned()),
        Just("$tag$".to_owned()),
        Just("$1".to_owned()),
        Just("--".to_owned()),
        Just("/*".to_owned()),
        Just("*/".to_owned()),
        Just(";".to_owned()),
        Just("\n".to_owned()),
        Just("\\".to_owned()),
        Just("\\.\n".to_owned()),
        Just("é".to_owned()),
        Just("😀".to_owned()),
        Just("COPY t FROM stdin;\n".to_owned()),
        Just("CREATE TABLE t (a int PRIMARY KEY, b text REFERENCES u);".to_owned()),
        Just("ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT random();".to_owned()),
        Just("ALTER TABLE t RENAME TO u;".to_owned()),
        Just("CREATE INDEX CONCURRENTLY i ON t (a);".to_owned()),
        Just("DROP INDEX CONCURRENTLY IF EXISTS i;".to_owned()),
        Just("DO $x$ BEGIN CREATE TYPE m AS ENUM ('a'); END $x$;".to_owned()),
        Just("GRANT ALL ON t TO ".to_owned()),
        "[a-zA-Z0-9_ (),.]{0,12}".prop_map(String::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_read_without_a_panic(parts in prop::collection::vec(fragment(), 0..24)) {
        let text: String = parts.concat();
        for piece in ddl_parse::scan::split(&text) {
            prop_assert_eq!(&text[piece.bytes.clone()], piece.text);
            prop_assert!(piece.start <= piece.end);
        }
        let files = [SqlFile::alone("a.sql", &text), SqlFile::alone("b.sql", &text)];
        let (replayed, linted) = replay_for_lint(&files);
        prop_assert_eq!(linted.len(), 2);
        let _ = replayed;
    }
}
