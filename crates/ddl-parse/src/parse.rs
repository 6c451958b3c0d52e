//! Each statement piece parsed on its own with sqlparser's PostgreSQL dialect, so that one
//! statement sqlparser rejects never hides the others; a rejected one is named by its leading
//! keywords (`ALTER TABLE … ATTACH PARTITION`, `CREATE FUNCTION`, `DO`, ...).

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::scan::{Piece, PieceKind, Position, split};

/// How deep sqlparser may recurse into one statement (deeper input is refused, not a stack
/// overflow).
const RECURSION_LIMIT: usize = 64;

/// One statement of a file, parsed or not.
#[derive(Debug, Clone)]
pub struct ParsedStatement<'a> {
    /// Its piece of the file (text, span, comments before it).
    pub piece: Piece<'a>,
    /// Its leading keywords ([`leading_kind`]).
    pub kind: String,
    /// What it is, as far as it was understood.
    pub outcome: Outcome,
}

/// What became of one piece.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// sqlparser read it.
    Parsed(Box<Statement>),
    /// sqlparser could not: its kind by its leading keywords, and sqlparser's message.
    NotUnderstood {
        /// `CREATE FUNCTION`, `ALTER TABLE … ATTACH PARTITION`, `DO`, ...
        kind: String,
        /// Why sqlparser refused it.
        reason: String,
    },
    /// A statement that defines no table, known by its leading keywords and not parsed.
    Classified {
        /// `CREATE FUNCTION`, `GRANT`, `INSERT`, ...
        kind: String,
    },
    /// A psql meta-command, skipped.
    MetaCommand {
        /// `\set`, `\ir`, ...
        command: String,
    },
    /// The data of a `COPY … FROM stdin`, skipped.
    CopyData,
}

/// A file's statements, in order.
pub fn parse(text: &str) -> Vec<ParsedStatement<'_>> {
    parse_many(&[text]).pop().unwrap_or_default()
}

/// Several files' statements, each file's in order. The statements are parsed on as many
/// threads as the machine has (each statement is parsed on its own anyway).
pub fn parse_many<'a>(texts: &[&'a str]) -> Vec<Vec<ParsedStatement<'a>>> {
    let mut files = Vec::with_capacity(texts.len());
    parse_each(texts, |_, statements| files.push(statements));
    files
}

/// Statements parsed per chunk a thread takes at a time: small, so that a thread that met
/// the slow statements (a dump's big tables) does not hold the others up.
const CHUNK: usize = 32;

/// Hands each file's statements to `consume`, in file order, once the file is parsed
/// whole, while the later files are parsed on the other threads.
pub fn parse_each<'a>(texts: &[&'a str], consume: impl FnMut(usize, Vec<ParsedStatement<'a>>)) {
    /// Gathers each file's statements and hands them on at its end.
    struct Whole<'a, F> {
        statements: Vec<ParsedStatement<'a>>,
        consume: F,
    }
    impl<'a, F: FnMut(usize, Vec<ParsedStatement<'a>>)> Reader<'a> for Whole<'a, F> {
        fn begin_file(&mut self, _: usize, _: &[SplitPiece<'a>]) {}
        fn statement(&mut self, _: usize, statement: ParsedStatement<'a>) -> Option<Box<Statement>> {
            self.statements.push(statement);
            None
        }
        fn end_file(&mut self, file: usize) {
            (self.consume)(file, std::mem::take(&mut self.statements));
        }
    }
    parse_stream(texts, &mut Whole { statements: Vec::new(), consume });
}

/// A piece of a file as split, before it is parsed.
#[derive(Debug, Clone)]
pub struct SplitPiece<'a> {
    /// The file's number.
    pub file: usize,
    /// The piece.
    pub piece: Piece<'a>,
    /// Its kind: a statement's leading keywords ([`leading_kind`]), a psql command's name.
    pub kind: String,
}

/// What [`parse_stream`] hands on, in the order of the texts and their statements.
pub trait Reader<'a> {
    /// A file begins: all its pieces as split, not parsed yet.
    fn begin_file(&mut self, file: usize, pieces: &[SplitPiece<'a>]);
    /// The file's next statement, parsed; its syntax tree back when the reader is done with
    /// it, so that a parser thread frees it (freeing trees was a tenth of the reading
    /// thread's time, and that thread is the one the others wait for).
    fn statement(&mut self, file: usize, statement: ParsedStatement<'a>) -> Option<Box<Statement>>;
    /// The file has no more statements.
    fn end_file(&mut self, file: usize);
}

/// Each file's pieces with their kinds, in order. Files are split on as many threads as
/// the machine has, the largest first, so that a folder's splitting is not a serial step.
fn split_all<'a>(texts: &[&'a str]) -> Vec<Vec<SplitPiece<'a>>> {
    let split_one = |file: usize| -> Vec<SplitPiece<'a>> {
        split(texts[file])
            .into_iter()
            .map(|piece| {
                let kind = match piece.kind {
                    PieceKind::Statement => leading_kind(piece.text),
                    PieceKind::MetaCommand => piece.text.split_whitespace().next().unwrap_or("\\").to_ascii_uppercase(),
                    PieceKind::CopyData => String::new(),
                };
                SplitPiece { file, piece, kind }
            })
            .collect()
    };
    let mut largest_first: Vec<usize> = (0..texts.len()).collect();
    largest_first.sort_by_key(|&file| std::cmp::Reverse(texts[file].len()));
    let mut by_file: Vec<Vec<SplitPiece<'a>>> = vec![Vec::new(); texts.len()];
    for (file, pieces) in crate::parallel::on_every_core(&mut largest_first, 1, |&mut file| (file, split_one(file))) {
        by_file[file] = pieces;
    }
    by_file
}

/// Hands every statement of `texts` to `reader`, in order, as soon as it and those before it
/// are parsed, while the statements after it are parsed on the other threads: reading
/// overlaps parsing, and a folder's syntax trees are never all in memory at once.
pub fn parse_stream<'a>(texts: &[&'a str], reader: &mut impl Reader<'a>) {
    let threads = crate::parallel::threads();
    let by_file = split_all(texts);
    // A chunk holds pieces of one file only.
    let chunks: Vec<&[SplitPiece<'a>]> = by_file.iter().flat_map(|pieces| pieces.chunks(CHUNK)).collect();
    let mut stream = Stream { by_file: &by_file, chunks: &chunks, current: 0, open: false, reader };
    if threads < 2 || chunks.len() < 4 {
        for (at, chunk) in chunks.iter().enumerate() {
            drop(stream.take(at, chunk.iter().map(outcome).collect()));
        }
        stream.finish();
        return;
    }
    let next_chunk = std::sync::atomic::AtomicUsize::new(0);
    let (chunk_refs, next_chunk) = (&chunks, &next_chunk);
    let take_chunk = || {
        let at = next_chunk.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        chunk_refs.get(at).map(|part| (at, part))
    };
    std::thread::scope(|scope| {
        // Bounded: the parsers wait for the reader rather than keep a folder's syntax trees
        // in memory (fresh memory is page faults, and a tree read soon is one reused).
        let (sender, receiver) = std::sync::mpsc::sync_channel::<(usize, Vec<Outcome>)>(threads * 2);
        // The trees read, back to a parser thread to be freed there (unbounded: they are
        // freed as fast as they come, and at the latest once parsing is done).
        let mut read_trees = Vec::with_capacity(threads - 1);
        // One thread per core: this one reads the statements in order, and parses too
        // whenever the next statements to read are not parsed yet.
        for _ in 1..threads {
            let sender = sender.clone();
            let (trees_sender, trees) = std::sync::mpsc::channel::<Vec<Box<Statement>>>();
            read_trees.push(trees_sender);
            scope.spawn(move || {
                while let Some((at, part)) = take_chunk() {
                    while let Ok(read) = trees.try_recv() {
                        drop(read);
                    }
                    if sender.send((at, part.iter().map(outcome).collect())).is_err() {
                        break;
                    }
                }
                drop(sender);
                for read in trees {
                    drop(read);
                }
            });
        }
        drop(sender);
        // Chunks arrive in any order; they are read in order.
        let mut arrived: std::collections::BTreeMap<usize, Vec<Outcome>> = std::collections::BTreeMap::new();
        let mut expected = 0;
        let failed = |part: &[SplitPiece<'_>]| part.iter().map(|_| parser_failed()).collect::<Vec<Outcome>>();
        while expected < chunks.len() {
            if let Some(outcomes) = arrived.remove(&expected) {
                let read = stream.take(expected, outcomes);
                // A thread that is gone leaves its trees to be freed here.
                let home = read_trees.get(expected % read_trees.len().max(1));
                if let Some(Err(std::sync::mpsc::SendError(read))) = home.map(|home| home.send(read)) {
                    drop(read);
                }
                expected += 1;
                continue;
            }
            let arrival = match receiver.try_recv() {
                Ok(chunk) => Some(chunk),
                // This thread parses ahead only a few chunks (unless the parsers are gone):
                // one slow statement elsewhere must not bring a folder's trees into memory.
                Err(error) => match (error == std::sync::mpsc::TryRecvError::Disconnected
                    || arrived.len() < threads * 4)
                    .then(take_chunk)
                    .flatten()
                {
                    // A parse that panics (a bug in the parser) is said so for each of its
                    // statements rather than losing the file.
                    Some((at, part)) => Some((
                        at,
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| part.iter().map(outcome).collect()))
                            .unwrap_or_else(|_| failed(part)),
                    )),
                    None if error == std::sync::mpsc::TryRecvError::Empty => receiver.recv().ok(),
                    None => None,
                },
            };
            match arrival {
                Some((at, outcomes)) => {
                    arrived.insert(at, outcomes);
                }
                // No thread will send more and the one expected was taken (chunks are taken
                // in order, and those after it are here): it was lost to a parser thread that
                // panicked.
                None => {
                    arrived.insert(expected, failed(chunks[expected]));
                }
            }
        }
        drop(read_trees);
        stream.finish();
    });
}

/// Parsed statements handed on in order, with the files' beginnings and ends around them
/// (an empty file too has both).
struct Stream<'p, 'a, R> {
    by_file: &'p [Vec<SplitPiece<'a>>],
    chunks: &'p [&'p [SplitPiece<'a>]],
    current: usize,
    open: bool,
    reader: &'p mut R,
}

impl<'a, R: Reader<'a>> Stream<'_, 'a, R> {
    /// The outcomes of chunk `at`, the next one; the syntax trees the reader is done with.
    #[expect(clippy::vec_box, reason = "a tree is handed on in its box: unboxed, each would be a 3 KB copy")]
    fn take(&mut self, at: usize, outcomes: Vec<Outcome>) -> Vec<Box<Statement>> {
        let Some(chunk) = self.chunks.get(at) else { return Vec::new() };
        let mut read = Vec::with_capacity(outcomes.len());
        for (split, outcome) in chunk.iter().zip(outcomes) {
            self.open_file(split.file);
            read.extend(self.reader.statement(
                split.file,
                ParsedStatement { piece: split.piece.clone(), kind: split.kind.clone(), outcome },
            ));
        }
        read
    }

    /// Ends the files before `file` and begins `file`, unless it is open already.
    fn open_file(&mut self, file: usize) {
        while self.current < file || !self.open {
            if !self.open {
                self.reader.begin_file(self.current, &self.by_file[self.current]);
                self.open = true;
            }
            if self.current < file {
                self.reader.end_file(self.current);
                self.current += 1;
                self.open = false;
            } else {
                break;
            }
        }
    }

    /// Ends every file left (beginning those that had no piece).
    fn finish(&mut self) {
        while self.current < self.by_file.len() {
            if !self.open {
                self.reader.begin_file(self.current, &self.by_file[self.current]);
            }
            self.reader.end_file(self.current);
            self.current += 1;
            self.open = false;
        }
    }
}

fn parser_failed() -> Outcome {
    Outcome::NotUnderstood { kind: String::new(), reason: "the SQL parser failed".to_owned() }
}

/// Most operators a statement handed to the parser may have. sqlparser builds operator
/// chains (`0+0+…`) in a loop, out of reach of its recursion limit, and the tree it builds is
/// printed and dropped recursively: a long enough chain would overflow the stack.
const MAX_OPERATORS: usize = 1_000;

/// Why a statement is not handed to the parser, when it has more operators than a table
/// definition needs.
fn too_complex(text: &str) -> Option<String> {
    let symbols = text.bytes().filter(|b| b"+-*/%^<>=|&".contains(b)).count();
    // Each `and` or `or` takes at least three bytes with its separator: a short statement
    // cannot have too many, and its words are not counted.
    if symbols + text.len() / 3 <= MAX_OPERATORS {
        return None;
    }
    let words = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or"))
        .count();
    (symbols + words > MAX_OPERATORS)
        .then(|| format!("more than {MAX_OPERATORS} operators, more than a table definition needs: not parsed"))
}

/// Statement kinds that define no table: read by their leading keywords only, never handed
/// to the parser (function bodies and view queries are most of a dump's bytes).
const NOT_TABLE_DEFINITIONS: &[&str] = &[
    "CREATE EXTENSION",
    "CREATE FUNCTION",
    "CREATE PROCEDURE",
    "CREATE TRIGGER",
    "CREATE VIEW",
    "CREATE MATERIALIZED",
    "CREATE RULE",
    "CREATE AGGREGATE",
    "CREATE OPERATOR",
    "CREATE POLICY",
    "CREATE EVENT",
    "CREATE PUBLICATION",
    "CREATE ROLE",
    "CREATE USER",
    "CREATE CAST",
    "CREATE COLLATION",
    "CREATE TEXT",
    "CREATE CONVERSION",
    "CREATE LANGUAGE",
    "CREATE STATISTICS",
    "CREATE SERVER",
    "ALTER FUNCTION",
    "ALTER PROCEDURE",
    "ALTER VIEW",
    "ALTER MATERIALIZED",
    "ALTER ROLE",
    "ALTER USER",
    "ALTER DEFAULT",
    "ALTER POLICY",
    "ALTER TRIGGER",
    "DROP VIEW",
    "DROP FUNCTION",
    "DROP PROCEDURE",
    "DROP TRIGGER",
    "DROP MATERIALIZED",
    "DROP RULE",
    "DROP POLICY",
    "DROP ROLE",
    "DROP USER",
    "DROP AGGREGATE",
    "DROP OPERATOR",
    "DROP EVENT",
    "GRANT",
    "REVOKE",
    "INSERT",
    "UPDATE",
    "DELETE",
    "SELECT",
    "WITH",
    "REFRESH MATERIALIZED",
    // Objects other than tables, their types and indexes: servers, languages, statistics,
    // conversions, text search, replication, roles and storage.
    "CREATE DOMAIN",
    "ALTER DOMAIN",
    "DROP DOMAIN",
    "ALTER STATISTICS",
    "DROP STATISTICS",
    "ALTER CONVERSION",
    "DROP CONVERSION",
    "ALTER LANGUAGE",
    "DROP LANGUAGE",
    "ALTER PROCEDURAL",
    "DROP PROCEDURAL",
    "ALTER OPERATOR",
    "ALTER SERVER",
    "DROP SERVER",
    "CREATE FOREIGN",
    "ALTER FOREIGN",
    "DROP FOREIGN",
    "IMPORT",
    "ALTER TEXT",
    "DROP TEXT",
    "ALTER EXTENSION",
    "ALTER SUBSCRIPTION",
    "CREATE SUBSCRIPTION",
    "DROP SUBSCRIPTION",
    "ALTER PUBLICATION",
    "DROP PUBLICATION",
    "ALTER EVENT",
    "ALTER ROUTINE",
    "DROP ROUTINE",
    "DROP CAST",
    "CREATE TRANSFORM",
    "DROP TRANSFORM",
    "CREATE ACCESS",
    "DROP ACCESS",
    "ALTER GROUP",
    "CREATE GROUP",
    "DROP GROUP",
    "DROP OWNED",
    "REASSIGN",
    "SECURITY",
    "ALTER SYSTEM",
    "ALTER DATABASE",
    "CREATE DATABASE",
    "DROP DATABASE",
    "ALTER TABLESPACE",
    "CREATE TABLESPACE",
    "DROP TABLESPACE",
    "ALTER LARGE",
    // Queries, maintenance and session commands: nothing of a table's definition.
    "REINDEX",
    "EXPLAIN",
    "SHOW",
    "VACUUM",
    "ANALYZE",
    "ANALYSE",
    "PREPARE",
    "EXECUTE",
    "DEALLOCATE",
    "DECLARE",
    "FETCH",
    "MOVE",
    "CLOSE",
    "LISTEN",
    "NOTIFY",
    "UNLISTEN",
    "DISCARD",
    "CHECKPOINT",
    "CALL",
    "MERGE",
    "TABLE",
    "VALUES",
];

/// Whether a statement of this kind is one of [`NOT_TABLE_DEFINITIONS`] (asked of every
/// statement: a hash lookup rather than a walk through the list).
fn is_not_table_definition(kind: &str) -> bool {
    static KINDS: std::sync::OnceLock<std::collections::HashSet<&'static str>> = std::sync::OnceLock::new();
    KINDS.get_or_init(|| NOT_TABLE_DEFINITIONS.iter().copied().collect()).contains(kind)
}

fn outcome(split: &SplitPiece<'_>) -> Outcome {
    let SplitPiece { piece, kind, .. } = split;
    match piece.kind {
        PieceKind::MetaCommand => {
            Outcome::MetaCommand { command: piece.text.split_whitespace().next().unwrap_or("\\").to_owned() }
        }
        PieceKind::CopyData => Outcome::CopyData,
        PieceKind::Statement => {
            if is_not_table_definition(kind) {
                return Outcome::Classified { kind: kind.clone() };
            }
            if let Some(reason) = too_complex(piece.text) {
                return Outcome::NotUnderstood { kind: kind.clone(), reason };
            }
            match parse_one(piece.text) {
                Ok(statement) => Outcome::Parsed(Box::new(statement)),
                Err(reason) => Outcome::NotUnderstood { kind: kind.clone(), reason },
            }
        }
    }
}

/// Parses one statement's text; `Err` with sqlparser's message (or a note when the text holds
/// more or less than one statement).
pub fn parse_one(text: &str) -> Result<Statement, String> {
    parse_with_sqlparser(text)
        .or_else(|error| enum_type(text).ok_or(error))
        .or_else(|error| drop_index_concurrently(text).ok_or(error))
}

/// `DROP INDEX CONCURRENTLY …`, which sqlparser does not read: read without the keyword (the
/// facts take it from the text).
fn drop_index_concurrently(text: &str) -> Option<Statement> {
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    let [drop, index, concurrently] = words.as_slice() else { return None };
    if !(drop.eq_ignore_ascii_case("DROP")
        && index.eq_ignore_ascii_case("INDEX")
        && concurrently.eq_ignore_ascii_case("CONCURRENTLY"))
    {
        return None;
    }
    let start = text.to_ascii_uppercase().find("CONCURRENTLY")?;
    let without = format!("{}{}", &text[..start], &text[start + "CONCURRENTLY".len()..]);
    parse_with_sqlparser(&without).ok()
}

/// `CREATE TYPE name AS ENUM ('a', E'b', …)` read from its tokens: sqlparser reads the labels
/// as identifiers and refuses escaped strings (`E'won\'t fix'`), which PostgreSQL and our own
/// generator write.
fn enum_type(text: &str) -> Option<Statement> {
    use sqlparser::ast::{Ident, ObjectName, UserDefinedTypeRepresentation};
    use sqlparser::tokenizer::{Token, Tokenizer};
    if leading_kind(text) != "CREATE TYPE" {
        return None;
    }
    let dialect = PostgreSqlDialect {};
    let tokens: Vec<Token> = Tokenizer::new(&dialect, text)
        .tokenize()
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let word = |t: &Token, keyword: &str| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case(keyword) && w.quote_style.is_none());
    let [create, kind, rest @ ..] = tokens.as_slice() else { return None };
    if !word(create, "CREATE") || !word(kind, "TYPE") {
        return None;
    }
    let mut name = Vec::new();
    let mut at = 0;
    while let Some(Token::Word(w)) = rest.get(at) {
        if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("AS") {
            break;
        }
        name.push(Ident {
            value: w.value.clone(),
            quote_style: w.quote_style,
            span: sqlparser::tokenizer::Span::empty(),
        });
        at += 1;
        if rest.get(at) == Some(&Token::Period) {
            at += 1;
        }
    }
    if name.is_empty()
        || !rest.get(at).is_some_and(|t| word(t, "AS"))
        || !rest.get(at + 1).is_some_and(|t| word(t, "ENUM"))
    {
        return None;
    }
    let mut labels = Vec::new();
    let mut tail = rest.get(at + 2..)?.iter();
    if tail.next() != Some(&Token::LParen) {
        return None;
    }
    loop {
        match tail.next()? {
            Token::SingleQuotedString(label) | Token::EscapedStringLiteral(label) => {
                labels.push(Ident::new(label.clone()));
            }
            Token::RParen => break,
            _ => return None,
        }
        match tail.next()? {
            Token::Comma => {}
            Token::RParen => break,
            _ => return None,
        }
    }
    if !tail.all(|t| *t == Token::SemiColon) {
        return None;
    }
    Some(Statement::CreateType {
        name: ObjectName::from(name),
        representation: Some(UserDefinedTypeRepresentation::Enum { labels }),
    })
}

fn parse_with_sqlparser(text: &str) -> Result<Statement, String> {
    let dialect = PostgreSqlDialect {};
    let tokens = |text: &str| {
        // About one token per three bytes (blanks left out), one per two with sqlparser's
        // blanks: sized once instead of grown (and copied) a dozen times, which was a tenth of
        // the lint's time.
        let mut tokens = Vec::with_capacity(text.len() / 3 + 16);
        if !crate::tokens::tokenize(text, &mut tokens) {
            sqlparser::tokenizer::Tokenizer::new(&dialect, text)
                .tokenize_with_location_into_buf(&mut tokens)
                .map_err(|e| sqlparser::parser::ParserError::from(e).to_string())?;
        }
        Ok::<_, String>(tokens)
    };
    let parser = || Parser::new(&dialect).with_recursion_limit(RECURSION_LIMIT);
    // One statement and its semicolons, read without gathering a list of statements (a
    // statement is 3 KB; the list was a fresh allocation for each); anything else is read
    // again as a list, for its count or sqlparser's own message.
    let mut one = parser().with_tokens_with_locations(tokens(text)?);
    while one.consume_token(&Token::SemiColon) {}
    if one.peek_token_ref().token != Token::EOF {
        let statement = one.parse_statement().map_err(|e| e.to_string())?;
        while one.consume_token(&Token::SemiColon) {}
        if one.peek_token_ref().token == Token::EOF {
            return Ok(statement);
        }
    }
    let mut statements =
        parser().with_tokens_with_locations(tokens(text)?).parse_statements().map_err(|e| e.to_string())?;
    match statements.len() {
        1 => Ok(statements.remove(0)),
        0 => Err("no statement".to_owned()),
        n => Err(format!("{n} statements where one was expected")),
    }
}

/// Keywords that name a statement's kind together with the one after them.
const TWO_WORD_KINDS: &[&str] = &["create", "alter", "drop", "comment", "refresh", "reset"];

/// A statement's kind by its leading keywords: `CREATE FUNCTION`, `CREATE UNIQUE INDEX`,
/// `ALTER TABLE … ATTACH PARTITION`, `DO`, `COPY`; `OR REPLACE`, `TEMPORARY` and the like are
/// left out.
pub fn leading_kind(text: &str) -> String {
    const MODIFIERS: &[&str] = &["OR", "REPLACE", "TEMPORARY", "TEMP", "UNLOGGED", "GLOBAL", "LOCAL"];
    let push_upper = |kind: &mut String, word: &str| kind.extend(word.chars().map(|c| c.to_ascii_uppercase()));
    let mut words = text.split(|c: char| c.is_whitespace() || c == '(' || c == ';').filter(|w| !w.is_empty()).take(12);
    let Some(first) = words.next() else { return String::new() };
    let mut kind = String::with_capacity(first.len() + 24);
    push_upper(&mut kind, first);
    if !TWO_WORD_KINDS.iter().any(|k| k.eq_ignore_ascii_case(first)) {
        return kind;
    }
    let mut rest = words.filter(|w| !MODIFIERS.iter().any(|m| m.eq_ignore_ascii_case(w)));
    if let Some(second) = rest.next() {
        kind.push(' ');
        push_upper(&mut kind, second);
        if second.eq_ignore_ascii_case("UNIQUE")
            && let Some(third) = rest.next()
        {
            kind.push(' ');
            push_upper(&mut kind, third);
        }
    }
    if kind == "ALTER TABLE" {
        let (mut attach, mut detach) = (false, false);
        for word in rest {
            attach |= word.eq_ignore_ascii_case("ATTACH");
            detach |= word.eq_ignore_ascii_case("DETACH");
        }
        for (found, marker) in [(attach, "ATTACH"), (detach, "DETACH")] {
            if found {
                kind.push_str(" … ");
                kind.push_str(marker);
                kind.push_str(" PARTITION");
            }
        }
    }
    kind
}

/// Where a statement is, for messages: `line 3, column 1`.
pub fn at(position: Position) -> String {
    format!("line {}, column {}", position.line, position.column)
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn one_statement_sqlparser_rejects_does_not_hide_the_others() {
        let sql = "CREATE TABLE a (id int);\nALTER TABLE ONLY p ATTACH PARTITION p1 FOR VALUES FROM (1) TO (2);\n\
                   CREATE OR REPLACE FUNCTION f() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql;\n\
                   \\set x 1\nCREATE TABLE b (id int);";
        let parsed = parse(sql);
        assert_eq!(parsed.len(), 5);
        assert!(matches!(parsed[0].outcome, Outcome::Parsed(_)));
        assert!(matches!(parsed[4].outcome, Outcome::Parsed(_)));
        assert!(matches!(&parsed[3].outcome, Outcome::MetaCommand { command } if command == "\\set"));
        for statement in &parsed[1..3] {
            if let Outcome::NotUnderstood { kind, .. } = &statement.outcome {
                assert!(["ALTER TABLE … ATTACH PARTITION", "CREATE FUNCTION"].contains(&kind.as_str()), "{kind}");
            }
        }
    }

    #[test]
    fn files_come_out_whole_and_in_order_whatever_thread_parsed_them() {
        // Files of 0 to 40 statements (empty ones and ones spanning several chunks), far
        // more statements than one chunk, so that the threads share the work.
        let texts: Vec<String> = (0..60_usize)
            .map(|file| {
                let mut text = String::new();
                for n in 0..(file * 7) % 41 {
                    let _ = writeln!(text, "CREATE TABLE t{file}_{n} (id int);\nSELECT {n};");
                }
                text
            })
            .collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut seen = Vec::new();
        parse_each(&texts, |at, statements| seen.push((at, statements)));
        assert_eq!(seen.iter().map(|(at, _)| *at).collect::<Vec<_>>(), (0..60).collect::<Vec<_>>());
        for (at, statements) in &seen {
            let one_by_one = parse(texts[*at]);
            assert_eq!(statements.len(), one_by_one.len(), "file {at}");
            for (statement, alone) in statements.iter().zip(&one_by_one) {
                assert_eq!((statement.piece.text, &statement.kind), (alone.piece.text, &alone.kind), "file {at}");
                assert_eq!(
                    matches!(statement.outcome, Outcome::Parsed(_)),
                    matches!(alone.outcome, Outcome::Parsed(_)),
                    "file {at}"
                );
            }
        }
    }

    /// The first way kinds were read (words gathered, then compared), kept to check the
    /// quicker one against.
    fn leading_kind_reference(text: &str) -> String {
        const MODIFIERS: &[&str] = &["OR", "REPLACE", "TEMPORARY", "TEMP", "UNLOGGED", "GLOBAL", "LOCAL"];
        let mut words =
            text.split(|c: char| c.is_whitespace() || c == '(' || c == ';').filter(|w| !w.is_empty()).take(12);
        let Some(first) = words.next() else { return String::new() };
        let mut kind = first.to_ascii_uppercase();
        if !TWO_WORD_KINDS.iter().any(|k| k.eq_ignore_ascii_case(first)) {
            return kind;
        }
        let mut rest = words.filter(|w| !MODIFIERS.iter().any(|m| m.eq_ignore_ascii_case(w)));
        if let Some(second) = rest.next() {
            kind.push(' ');
            kind.push_str(&second.to_ascii_uppercase());
            if second.eq_ignore_ascii_case("UNIQUE")
                && let Some(third) = rest.next()
            {
                kind.push(' ');
                kind.push_str(&third.to_ascii_uppercase());
            }
        }
        if kind == "ALTER TABLE" {
            let later: Vec<&str> = rest.collect();
            for marker in ["ATTACH", "DETACH"] {
                if later.iter().any(|w| w.eq_ignore_ascii_case(marker)) {
                    kind.push_str(" … ");
                    kind.push_str(marker);
                    kind.push_str(" PARTITION");
                }
            }
        }
        kind
    }

    proptest::proptest! {
        #[test]
        fn kinds_are_read_as_before(words in proptest::collection::vec(proptest::sample::select(vec![
            "create", "ALTER", "drop", "Table", "unique", "index", "or", "replace", "temp", "attach", "DETACH",
            "partition", "x", "é", "(", ";", " ", "\u{a0}", "\n", "comment", "on", "only",
        ]), 0..16)) {
            let text = words.join(" ");
            proptest::prop_assert_eq!(leading_kind(&text), leading_kind_reference(&text));
        }
    }

    #[test]
    fn kinds_read_the_leading_keywords() {
        assert_eq!(leading_kind("create unique index concurrently x on t (a)"), "CREATE UNIQUE INDEX");
        assert_eq!(leading_kind("CREATE OR REPLACE TEMP VIEW v AS SELECT 1"), "CREATE VIEW");
        assert_eq!(leading_kind("DO $$ BEGIN END $$"), "DO");
        assert_eq!(leading_kind("  "), "");
    }
}

#[cfg(test)]
mod enum_tests {
    use sqlparser::ast::{Statement, UserDefinedTypeRepresentation};

    #[test]
    fn enum_labels_may_be_escaped_strings() {
        let statement =
            super::parse_one(r#"CREATE TYPE "public"."resolution" AS ENUM ('fixed', E'won\'t fix', 'it''s done');"#)
                .expect("read");
        let Statement::CreateType { name, representation: Some(UserDefinedTypeRepresentation::Enum { labels }) } =
            statement
        else {
            panic!("not an enum type")
        };
        assert_eq!(name.to_string(), r#""public"."resolution""#);
        let labels: Vec<&str> = labels.iter().map(|l| l.value.as_str()).collect();
        assert_eq!(labels, ["fixed", "won't fix", "it's done"]);
        assert!(super::parse_one("CREATE TYPE t AS ENUM ('a' 'b')").is_err());
    }
}
