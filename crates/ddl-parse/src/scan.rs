//! SQL text → pieces: statements (up to and with their `;`), psql meta-commands (a line that
//! starts with `\`), and the data lines of `COPY … FROM stdin` (up to `\.`), each with its
//! exact 1-based span. Quotes (`'…'`, `E'…'`, `"…"`), dollar quotes (`$tag$…$tag$`) and
//! comments (`--`, nested `/* */`) are stepped over whole, so a `;` inside them never ends a
//! statement. Nothing is lost: every byte of the text that is not blank or a comment between
//! pieces belongs to exactly one piece.

/// A place in the text: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
}

/// What a piece of SQL text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceKind {
    /// An SQL statement, with its `;` when it has one.
    Statement,
    /// A psql meta-command line (`\set`, `\i`, `\echo`, ...).
    MetaCommand,
    /// The data lines of a `COPY … FROM stdin`, with the closing `\.`.
    CopyData,
}

/// One piece of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece<'a> {
    /// What it is.
    pub kind: PieceKind,
    /// Its text, exactly as in the file.
    pub text: &'a str,
    /// Where it starts (its first character).
    pub start: Position,
    /// Where it ends (its last character).
    pub end: Position,
    /// Byte offsets of `text` in the file.
    pub bytes: std::ops::Range<usize>,
    /// The `--` comments on the lines just before it (and between it and the previous
    /// piece), each with its line: where suppressions and dbmate/goose markers are written.
    pub comments_before: Vec<(u32, &'a str)>,
}

/// Byte offsets → positions, for one text. Positions asked for in increasing order on one
/// line cost only the characters between them (a megabyte on one line stays linear).
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// The last answer: `(byte offset, line index, characters before it on its line)`.
    last: std::cell::Cell<(usize, usize, usize)>,
}

impl<'a> LineIndex<'a> {
    /// The index of `text`'s lines.
    pub fn new(text: &'a str) -> Self {
        // Sized by a first count: growing it was a tenth of splitting a large file. Bytes
        // compared in plain loops (which the compiler vectorises): searching for each line
        // break on its own was a third of splitting.
        let mut starts = Vec::with_capacity(count_byte(text.as_bytes(), b'\n') + 1);
        starts.push(0);
        starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        Self { text, starts, last: std::cell::Cell::new((0, 0, 0)) }
    }

    /// The position of the character at byte `offset`.
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&start| start <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let (last_offset, last_line, last_column) = self.last.get();
        let column = match self.text.get(last_offset..offset) {
            Some(between) if last_line == line && last_offset <= offset => last_column + between.chars().count(),
            _ => self.text.get(start..offset).map_or(0, |s| s.chars().count()),
        };
        self.last.set((offset, line, column));
        Position {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}

/// How many times `byte` is in `bytes`.
#[expect(clippy::naive_bytecount, reason = "the compiler vectorises this loop; a crate for it is not worth it")]
fn count_byte(bytes: &[u8], byte: u8) -> usize {
    bytes.iter().filter(|&&b| b == byte).count()
}

/// Splits `text` into its pieces, in order.
pub fn split(text: &str) -> Vec<Piece<'_>> {
    let bytes = text.as_bytes();
    let index = LineIndex::new(text);
    // About a piece per `;`: sized once rather than grown.
    let mut pieces: Vec<Piece<'_>> = Vec::with_capacity(count_byte(bytes, b';') + 1);
    let mut comments: Vec<(u32, &str)> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        // Between pieces: blanks and comments.
        match bytes[at] {
            b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => {
                at += 1;
                continue;
            }
            b'-' if bytes.get(at + 1) == Some(&b'-') => {
                let end = line_end(bytes, at);
                let line = index.position(at).line;
                // A comment after a statement on its last line speaks of that statement.
                match pieces.last_mut() {
                    Some(previous) if previous.end.line == line && comments.is_empty() => {
                        previous.comments_before.push((line, &text[at..end]));
                    }
                    _ => comments.push((line, &text[at..end])),
                }
                at = end;
                continue;
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                at = block_comment_end(bytes, at);
                continue;
            }
            _ => {}
        }
        let (kind, end) = if bytes[at] == b'\\' && starts_line(bytes, at) {
            (PieceKind::MetaCommand, line_end(bytes, at))
        } else {
            (PieceKind::Statement, statement_end(bytes, at))
        };
        let piece_text = text[at..end].trim_end();
        let last = at + piece_text.char_indices().last().map_or(0, |(i, _)| i);
        pieces.push(Piece {
            kind,
            text: piece_text,
            start: index.position(at),
            end: index.position(last),
            bytes: at..at + piece_text.len(),
            comments_before: std::mem::take(&mut comments),
        });
        at = end;
        if kind == PieceKind::Statement && is_copy_from_stdin(piece_text) {
            // The data follows on the next line, up to a line `\.` (or the end of the text).
            let data_start = line_end(bytes, at).min(bytes.len());
            let data_start = if bytes.get(data_start) == Some(&b'\n') { data_start + 1 } else { data_start };
            let mut line_start = data_start;
            let mut data_end = bytes.len();
            while line_start < bytes.len() {
                let end_of_line = line_end(bytes, line_start);
                if text[line_start..end_of_line].trim_end() == "\\." {
                    data_end = end_of_line;
                    break;
                }
                line_start = end_of_line + 1;
            }
            if data_start < data_end {
                let data = &text[data_start..data_end];
                pieces.push(Piece {
                    kind: PieceKind::CopyData,
                    text: data,
                    start: index.position(data_start),
                    end: index.position(data_start + data.char_indices().last().map_or(0, |(i, _)| i)),
                    bytes: data_start..data_end,
                    comments_before: Vec::new(),
                });
            }
            at = data_end;
        }
    }
    pieces
}

fn starts_line(bytes: &[u8], at: usize) -> bool {
    bytes[..at].iter().rev().take_while(|&&b| b != b'\n').all(|&b| b == b' ' || b == b'\t')
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| from + i)
}

/// The end of a nested `/* … */` comment that starts at `from`.
fn block_comment_end(bytes: &[u8], from: usize) -> usize {
    let mut depth = 0_usize;
    let mut at = from;
    while at < bytes.len() {
        if bytes[at] == b'/' && bytes.get(at + 1) == Some(&b'*') {
            depth += 1;
            at += 2;
        } else if bytes[at] == b'*' && bytes.get(at + 1) == Some(&b'/') {
            depth -= 1;
            at += 2;
            if depth == 0 {
                return at;
            }
        } else {
            at += 1;
        }
    }
    bytes.len()
}

/// The byte just after the statement that starts at `from`: after its `;`, or the end of the
/// text.
fn statement_end(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while at < bytes.len() {
        // Most bytes open nothing: stepped over in a tight loop.
        while at < bytes.len() && !OPENS[usize::from(bytes[at])] {
            at += 1;
        }
        let Some(&byte) = bytes.get(at) else { break };
        match byte {
            b';' => return at + 1,
            b'\'' => {
                let escapes =
                    at > from && matches!(bytes[at - 1], b'E' | b'e') && !is_word(bytes.get(at.wrapping_sub(2)));
                at = quoted_end(bytes, at, b'\'', escapes);
            }
            b'"' => at = quoted_end(bytes, at, b'"', false),
            b'-' if bytes.get(at + 1) == Some(&b'-') => at = line_end(bytes, at),
            b'/' if bytes.get(at + 1) == Some(&b'*') => at = block_comment_end(bytes, at),
            b'$' if !is_word(at.checked_sub(1).and_then(|i| bytes.get(i))) => {
                at = dollar_quoted_end(bytes, at).unwrap_or(at + 1);
            }
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Bytes that end a statement or may open a quote, a comment or a dollar quote.
const OPENS: [bool; 256] = {
    let mut table = [false; 256];
    let mut at = 0;
    let opening = b";'\"-/$";
    while at < opening.len() {
        table[opening[at] as usize] = true;
        at += 1;
    }
    table
};

fn is_word(byte: Option<&u8>) -> bool {
    byte.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80)
}

/// The byte after a quoted run that starts at `from` (a doubled quote stays inside; with
/// `escapes`, a backslash escapes the next byte).
fn quoted_end(bytes: &[u8], from: usize, quote: u8, escapes: bool) -> usize {
    let mut at = from + 1;
    while at < bytes.len() {
        if escapes && bytes[at] == b'\\' {
            at += 2;
            continue;
        }
        if bytes[at] == quote {
            if bytes.get(at + 1) == Some(&quote) {
                at += 2;
                continue;
            }
            return at + 1;
        }
        at += 1;
    }
    bytes.len()
}

/// The byte after a dollar-quoted string that starts at `from` (`$tag$ … $tag$`), or `None`
/// when `$` does not open one (a parameter such as `$1`).
fn dollar_quoted_end(bytes: &[u8], from: usize) -> Option<usize> {
    let tag_len = bytes[from + 1..].iter().position(|&b| b == b'$')?;
    let tag = &bytes[from..=from + 1 + tag_len];
    let inner = &tag[1..tag.len() - 1];
    if inner.first().is_some_and(u8::is_ascii_digit)
        || !inner.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b >= 0x80)
    {
        return None;
    }
    let body = from + tag.len();
    // Never closed: the rest of the text is inside it (as PostgreSQL reads it).
    let mut at = body;
    while let Some(dollar) = bytes[at..].iter().position(|&b| b == b'$') {
        let candidate = at + dollar;
        if bytes[candidate..].starts_with(tag) {
            return Some(candidate + tag.len());
        }
        at = candidate + 1;
    }
    Some(bytes.len())
}

fn is_copy_from_stdin(statement: &str) -> bool {
    // Every statement is asked: look past the first word only for a COPY.
    let mut words =
        statement.split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == ')').filter(|w| !w.is_empty());
    if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("copy")) {
        return false;
    }
    let mut after_from = false;
    for word in words {
        if after_from && word.eq_ignore_ascii_case("stdin") {
            return true;
        }
        after_from = word.eq_ignore_ascii_case("from");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_and_texts(sql: &str) -> Vec<(PieceKind, String)> {
        split(sql).into_iter().map(|p| (p.kind, p.text.to_owned())).collect()
    }

    #[test]
    fn line_starts_are_found_wherever_the_breaks_are() {
        for length in 0..70 {
            for step in [1, 2, 3, 7, 15, 16, 17, 40] {
                let text: String = (0..length).map(|i| if i % step == step - 1 { '\n' } else { 'é' }).collect();
                let naive: Vec<usize> =
                    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
                assert_eq!(LineIndex::new(&text).starts, naive, "length {length}, a break every {step}");
            }
        }
    }

    #[test]
    fn statements_end_at_semicolons_outside_quotes_comments_and_dollar_quotes() {
        let sql = "CREATE TABLE a (b text DEFAULT ';');\n\
                   -- a comment; not a statement\n\
                   CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
                   /* block; /* nested; */ still */ SELECT \"odd;name\" FROM t; SELECT E'it\\'s;'; SELECT $1";
        let texts: Vec<String> = kinds_and_texts(sql).into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            texts,
            [
                "CREATE TABLE a (b text DEFAULT ';');",
                "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;",
                "SELECT \"odd;name\" FROM t;",
                "SELECT E'it\\'s;';",
                "SELECT $1",
            ]
        );
    }

    #[test]
    fn spans_are_exact_and_one_based() {
        let sql = "\n  CREATE TABLE é (x int);\nSELECT 'ü';";
        let pieces = split(sql);
        assert_eq!(
            (pieces[0].start, pieces[0].end),
            (Position { line: 2, column: 3 }, Position { line: 2, column: 25 })
        );
        assert_eq!(
            (pieces[1].start, pieces[1].end),
            (Position { line: 3, column: 1 }, Position { line: 3, column: 11 })
        );
        assert_eq!(&sql[pieces[1].bytes.clone()], "SELECT 'ü';");
    }

    #[test]
    fn meta_commands_and_copy_data_are_pieces_of_their_own() {
        let sql = "\\set ON_ERROR_STOP on\nCOPY t (a, b) FROM stdin;\n1\tx;y\n2\tz\n\\.\nSELECT 1;\n";
        assert_eq!(
            kinds_and_texts(sql),
            [
                (PieceKind::MetaCommand, "\\set ON_ERROR_STOP on".to_owned()),
                (PieceKind::Statement, "COPY t (a, b) FROM stdin;".to_owned()),
                (PieceKind::CopyData, "1\tx;y\n2\tz\n\\.".to_owned()),
                (PieceKind::Statement, "SELECT 1;".to_owned()),
            ]
        );
    }

    #[test]
    fn comments_before_a_statement_are_kept_with_their_lines() {
        let sql = "-- migrate:up\n-- registry:ignore column.x because\nCREATE TABLE t (a int);\n";
        let pieces = split(sql);
        assert_eq!(pieces[0].comments_before, [(1, "-- migrate:up"), (2, "-- registry:ignore column.x because")]);
    }

    #[test]
    fn unterminated_input_is_one_last_piece_and_never_panics() {
        for sql in
            ["SELECT 'open", "SELECT $a$ open", "/* open", "SELECT \"open", "COPY t FROM stdin;\n1", "$", "E'", "\\"]
        {
            let pieces = split(sql);
            let covered: usize = pieces.iter().map(|p| p.text.len()).sum();
            assert!(covered <= sql.len(), "{sql}");
        }
    }
}
