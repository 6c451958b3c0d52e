//! sqlparser's tokens for a statement, read by a byte scanner for the SQL that migration files
//! are made of (ASCII words, quoted names, plain strings and integers, punctuation, the
//! common operators, comments). Anything else (a non-ASCII character, `E'…'`, a dollar quote,
//! a decimal number, an operator sqlparser reads as a custom one, ...) is left to sqlparser's
//! own tokenizer, so the tokens handed to the parser are always exactly sqlparser's, but for
//! blanks.
//!
//! Blanks (spaces, tabs, line breaks) are left out: sqlparser's parser steps over them, and
//! the parse of the tokens without them is checked to be the parse with them (in the tests,
//! and on every statement of the corpus run).
//!
//! sqlparser's tokenizer walks characters one by one through a peekable iterator and finds
//! keywords by binary search; it was a sixth of the lint's time. Here a keyword is one hash
//! lookup and a token a few byte comparisons.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use sqlparser::keywords::{ALL_KEYWORDS, ALL_KEYWORDS_INDEX, Keyword};
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Whitespace, Word};

/// FNV-1a: keywords are short, and the table is built once.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

type Keywords = HashMap<&'static [u8], Keyword, BuildHasherDefault<Fnv>>;

/// Every keyword sqlparser knows, upper case, with the longest one's length.
fn keywords() -> &'static (Keywords, usize) {
    static KEYWORDS: OnceLock<(Keywords, usize)> = OnceLock::new();
    KEYWORDS.get_or_init(|| {
        let table = ALL_KEYWORDS.iter().zip(ALL_KEYWORDS_INDEX).map(|(word, keyword)| (word.as_bytes(), *keyword));
        let longest = ALL_KEYWORDS.iter().map(|w| w.len()).max().unwrap_or(0);
        (table.collect(), longest)
    })
}

/// The keyword an unquoted word is, as sqlparser finds it (case-insensitively).
fn keyword(word: &str) -> Keyword {
    let (table, longest) = keywords();
    let mut upper = [0_u8; 64];
    if word.len() > *longest || word.len() > upper.len() {
        return Keyword::NoKeyword;
    }
    for (to, from) in upper.iter_mut().zip(word.bytes()) {
        *to = from.to_ascii_uppercase();
    }
    table.get(&upper[..word.len()]).copied().unwrap_or(Keyword::NoKeyword)
}

/// Bytes sqlparser's PostgreSQL dialect reads as part of a custom operator.
fn is_operator_part(byte: Option<u8>) -> bool {
    byte.is_some_and(|b| b"+-*/<>=~!@#%^&|`?".contains(&b))
}

fn is_identifier_part(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$'
}

/// Appends the tokens of `text` but its blanks to `out` as sqlparser's tokenizer (PostgreSQL
/// dialect, with unescaping) would, and says `true`; says `false`, with `out` left as it was,
/// when the text has anything this scanner does not read exactly as sqlparser does.
pub fn tokenize(text: &str, out: &mut Vec<TokenWithSpan>) -> bool {
    let kept = out.len();
    let read = Scanner { bytes: text.as_bytes(), text, at: 0, line: 1, column: 1 }.run(out);
    if !read {
        out.truncate(kept);
    }
    read
}

struct Scanner<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    line: u64,
    column: u64,
}

impl Scanner<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    /// Steps over `count` bytes, none of them a line break.
    fn advance(&mut self, count: usize) {
        self.at += count;
        self.column += count as u64;
    }

    /// `token`, stepping over its `length` bytes (none of them a line break).
    #[expect(clippy::unnecessary_wraps, reason = "the answer of a `next_token` arm, which may be `None`")]
    fn token(&mut self, length: usize, token: Token) -> Option<Token> {
        self.advance(length);
        Some(token)
    }

    fn location(&self) -> Location {
        Location { line: self.line, column: self.column }
    }

    fn run(mut self, out: &mut Vec<TokenWithSpan>) -> bool {
        if !self.text.is_ascii() {
            return false;
        }
        while let Some(&byte) = self.bytes.get(self.at) {
            // Blanks are stepped over here, without the token `next_token` would make of
            // them and this loop would drop: they are half of all tokens.
            match byte {
                b' ' | b'\t' => {
                    self.advance(1);
                    continue;
                }
                b'\n' | b'\r' => {
                    let length = if byte == b'\r' && self.peek(1) == Some(b'\n') { 2 } else { 1 };
                    self.step_over(self.at + length);
                    continue;
                }
                _ => {}
            }
            let start = self.location();
            let Some(token) = self.next_token() else { return false };
            // The parser steps over blanks wherever PostgreSQL's grammar is read (it looks at
            // them only for other dialects, for `:name` placeholders, which are left to
            // sqlparser here, and for COPY data, which is never part of a statement's text):
            // leaving them out halves the tokens it steps through.
            if !matches!(token, Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)) {
                out.push(TokenWithSpan { token, span: Span { start, end: self.location() } });
            }
        }
        true
    }

    /// The next token, or `None` where sqlparser's tokenizer is needed.
    fn next_token(&mut self) -> Option<Token> {
        let byte = self.peek(0)?;
        let next = self.peek(1);
        match byte {
            b' ' => self.token(1, Token::Whitespace(Whitespace::Space)),
            b'\t' => self.token(1, Token::Whitespace(Whitespace::Tab)),
            b'\n' | b'\r' => {
                // `\r\n` is one line break.
                let length = if byte == b'\r' && next == Some(b'\n') { 2 } else { 1 };
                self.step_over(self.at + length);
                Some(Token::Whitespace(Whitespace::Newline))
            }
            // B'…', E'…', N'…', X'…', U&'…' are literals of their own.
            b'b' | b'B' | b'e' | b'E' | b'n' | b'N' | b'x' | b'X' | b'u' | b'U'
                if matches!(next, Some(b'\'' | b'"' | b'&')) =>
            {
                None
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let from = self.at;
                let length = self.bytes[from..].iter().take_while(|&&b| is_identifier_part(b)).count();
                self.advance(length);
                let value = &self.text[from..from + length];
                Some(Token::Word(Word { value: value.to_owned(), quote_style: None, keyword: keyword(value) }))
            }
            b'0'..=b'9' => {
                let from = self.at;
                let length = self.bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
                // Decimals, exponents, `0x…`, `1_000`, `10L` and digits run into a word are
                // sqlparser's to read.
                if self.peek(length).is_some_and(|b| is_identifier_part(b) || b == b'.') {
                    return None;
                }
                self.advance(length);
                Some(Token::Number(self.text[from..from + length].to_owned(), false))
            }
            b'.' if next.is_some_and(|b| b.is_ascii_digit() || b == b'_') => None,
            b'.' => self.token(1, Token::Period),
            b'(' => self.token(1, Token::LParen),
            b')' => self.token(1, Token::RParen),
            b',' => self.token(1, Token::Comma),
            b';' => self.token(1, Token::SemiColon),
            b'[' => self.token(1, Token::LBracket),
            b']' => self.token(1, Token::RBracket),
            b'+' => self.token(1, Token::Plus),
            b'*' => self.token(1, Token::Mul),
            b'/' if next == Some(b'*') => self.block_comment(),
            b'/' => self.token(1, Token::Div),
            b'-' if next == Some(b'-') => {
                let from = self.at + 2;
                let length = self.bytes[from..].iter().take_while(|&&b| b != b'\n' && b != b'\r').count();
                self.advance(2 + length);
                Some(Token::Whitespace(Whitespace::SingleLineComment {
                    comment: self.text[from..from + length].to_owned(),
                    prefix: "--".to_owned(),
                }))
            }
            // Custom operators (`-|-`, `%>`) and `=>`, `==` are sqlparser's to read.
            b'-' | b'%' if is_operator_part(next) => None,
            b'=' if matches!(next, Some(b'>' | b'=')) => None,
            b'-' => self.token(1, Token::Minus),
            b'%' => self.token(1, Token::Mod),
            b'=' => self.token(1, Token::Eq),
            b'!' if next == Some(b'=') => self.token(2, Token::Neq),
            b'<' => match next {
                Some(b'=') if !is_operator_part(self.peek(2)) => self.token(2, Token::LtEq),
                Some(b'>') if !is_operator_part(self.peek(2)) => self.token(2, Token::Neq),
                _ if is_operator_part(next) => None,
                _ => self.token(1, Token::Lt),
            },
            b'>' => match next {
                Some(b'=') if !is_operator_part(self.peek(2)) => self.token(2, Token::GtEq),
                _ if is_operator_part(next) => None,
                _ => self.token(1, Token::Gt),
            },
            b':' => match next {
                Some(b':') => self.token(2, Token::DoubleColon),
                Some(b'=') => self.token(2, Token::Assignment),
                // `:name` is a placeholder only when nothing is between them: sqlparser's.
                _ => None,
            },
            b'\'' => self.quoted(b'\'').map(Token::SingleQuotedString),
            b'"' => self
                .quoted(b'"')
                .map(|value| Token::Word(Word { value, quote_style: Some('"'), keyword: Keyword::NoKeyword })),
            _ => None,
        }
    }

    /// A quoted string or name from its opening quote: a doubled quote is one quote. `None`
    /// when it is not closed (sqlparser's error).
    fn quoted(&mut self, quote: u8) -> Option<String> {
        let mut value = String::new();
        let mut from = self.at + 1;
        let mut at = from;
        loop {
            let found = self.bytes[at..].iter().position(|&b| b == quote)?;
            at += found;
            value.push_str(&self.text[from..at]);
            if self.bytes.get(at + 1) == Some(&quote) {
                value.push(char::from(quote));
                at += 2;
                from = at;
            } else {
                at += 1;
                break;
            }
        }
        self.step_over(at);
        Some(value)
    }

    /// A nested `/* … */` comment from its start, its text without the outer delimiters.
    fn block_comment(&mut self) -> Option<Token> {
        let mut depth = 1;
        let from = self.at + 2;
        let mut at = from;
        while depth > 0 {
            match (self.bytes.get(at)?, self.bytes.get(at + 1)) {
                (b'/', Some(b'*')) => {
                    depth += 1;
                    at += 2;
                }
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    at += 2;
                }
                _ => at += 1,
            }
        }
        let comment = self.text[from..at - 2].to_owned();
        self.step_over(at);
        Some(Token::Whitespace(Whitespace::MultiLineComment(comment)))
    }

    /// Moves to byte `to`, counting the line breaks on the way.
    fn step_over(&mut self, to: usize) {
        for &byte in &self.bytes[self.at..to] {
            if byte == b'\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.at = to;
    }
}

/// Where the fast tokens of `text` differ from sqlparser's own (tokens and spans, blanks
/// aside), or the parse of them from the parse of sqlparser's, if they do: `None` when they
/// agree or when the text is left to sqlparser. For tests, and for the corpus run, which asks
/// it of every statement of real migration folders.
pub fn differs_from_sqlparser(text: &str) -> Option<String> {
    use sqlparser::parser::Parser;
    let mut fast = Vec::new();
    if !tokenize(text, &mut fast) {
        return None;
    }
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let mut reference = Vec::new();
    if let Err(error) =
        sqlparser::tokenizer::Tokenizer::new(&dialect, text).tokenize_with_location_into_buf(&mut reference)
    {
        return Some(format!("sqlparser refuses what was read fast: {error}"));
    }
    let parse = |tokens: Vec<TokenWithSpan>| {
        format!(
            "{:?}",
            Parser::new(&dialect).with_recursion_limit(64).with_tokens_with_locations(tokens).parse_statements()
        )
    };
    let spanned = |t: &TokenWithSpan| (t.token.clone(), t.span.start, t.span.end);
    let blank = |t: &&TokenWithSpan| {
        matches!(t.token, Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab))
    };
    let unblank: Vec<&TokenWithSpan> = reference.iter().filter(|t| !blank(t)).collect();
    let position = fast.iter().zip(&unblank).position(|(a, b)| spanned(a) != spanned(b));
    if let Some(at) = position {
        return Some(format!("token {at}: {:?} where sqlparser has {:?}", spanned(&fast[at]), spanned(unblank[at])));
    }
    if fast.len() != unblank.len() {
        return Some(format!("{} tokens where sqlparser has {}", fast.len(), unblank.len()));
    }
    let (ours, theirs) = (parse(fast), parse(reference));
    (ours != theirs).then(|| format!("parsed as {ours} where sqlparser's tokens give {theirs}"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn statements_are_tokenized_as_sqlparser_does() {
        let statements = [
            "CREATE TABLE public.users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \"Name\" text NOT NULL);",
            "ALTER TABLE ONLY t\r\n  ADD CONSTRAINT t_pk PRIMARY KEY (id); -- trailing\r\n",
            "CREATE INDEX CONCURRENTLY ix ON t USING btree (a DESC NULLS LAST, b text_pattern_ops) WHERE (a <> 0);",
            "CREATE TABLE t (a int DEFAULT 0 CHECK (a >= 0 AND a <= 10 OR a != 5 OR a < 1 OR a > 2), b text DEFAULT 'it''s');",
            "SELECT a::text, b[1], c := 2, 3 * 4 / 5 % 6 + 7 - 8, x.y, f(), \"q\"\"uote\" FROM t;",
            "/* a /* nested */ comment */ DROP TABLE IF EXISTS a, b CASCADE;",
            "COMMENT ON TABLE t IS 'multi\nline\tstring';",
            "SET lock_timeout = '5s';\n",
            "_under dollar$in_word x1 2;",
        ];
        for statement in statements {
            let mut tokens = Vec::new();
            assert!(tokenize(statement, &mut tokens), "read fast: {statement}");
            assert_eq!(differs_from_sqlparser(statement), None, "{statement}");
        }
    }

    #[test]
    fn what_sqlparser_reads_its_own_way_is_left_to_it() {
        for statement in [
            "SELECT E'a\\'b'",
            "SELECT B'101', X'ff', N'n', U&'d\\0061'",
            "SELECT 1.5, 1e3, 0x1f, 1_000, .5",
            "SELECT $1, $$body$$",
            "SELECT a -> 'b', a ->> 'c', a @> b, a <@ b, a || b, a ~ b, a #> b",
            "SELECT 'unterminated",
            "SELECT a[1:2], :name",
            "SELECT \"unterminated",
            "SELECT /* unterminated",
            "SELECT 'é'",
            "SELECT a\x0cb",
        ] {
            let mut tokens = vec![TokenWithSpan::wrap(Token::Comma)];
            assert!(!tokenize(statement, &mut tokens), "{statement}");
            assert_eq!(tokens.len(), 1, "left as it was");
        }
    }

    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            " ", "\t", "\n", "\r\n", "\r", "a", "Z_9", "create", "TABLE", "$", "_", "1", "42", "0", ".", ",", ";", "(",
            ")", "[", "]", "+", "-", "--", "*", "/", "/*", "*/", "%", "=", "==", "=>", "!", "!=", "<", "<=", "<>", ">",
            ">=", ":", "::", ":=", "'", "''", "\"", "\"\"", "e", "E", "b", "x", "u", "&", "n", "|", "~", "@", "#", "^",
            "?", "`", "\\", "{", "}", "é",
        ])
    }

    /// Pieces of DDL the fast scanner reads, so that random statements of them are parsed
    /// both ways.
    fn ddl_fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "CREATE ",
            "TABLE ",
            "t ",
            "public.",
            "(",
            ")",
            "a ",
            "\"Q\" ",
            "int",
            " text",
            ",",
            ";",
            " DEFAULT ",
            "0",
            "'x'",
            " NOT NULL",
            " CHECK ",
            ">",
            "=",
            "<>",
            "::",
            " PRIMARY KEY",
            " REFERENCES ",
            "ALTER ",
            "ADD ",
            "COLUMN ",
            "INDEX ",
            " ON ",
            "DROP ",
            "IF ",
            "EXISTS ",
            "\n",
            " ",
            "\t",
            "-- c\n",
            "/* c */",
            "UNIQUE ",
            "CONSTRAINT ",
            "now()",
            "[1]",
            "+",
            "*",
            "-",
            "/",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn ddl_is_parsed_from_the_fast_tokens_as_from_sqlparsers(parts in prop::collection::vec(ddl_fragment(), 0..30)) {
            let text = parts.concat();
            prop_assert_eq!(differs_from_sqlparser(&text), None, "{:?}", text);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn any_text_is_tokenized_as_sqlparser_does_or_left_to_it(parts in prop::collection::vec(fragment(), 0..40)) {
            let text = parts.concat();
            prop_assert_eq!(differs_from_sqlparser(&text), None, "{:?}", text);
        }
    }
}
