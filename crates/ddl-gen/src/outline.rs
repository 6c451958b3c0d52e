//! An independent reading of generated SQL: split a script into its top-level statements
//! with sqlparser's PostgreSQL tokenizer (which knows quoting, `E''` escapes, dollar quotes
//! and comments exactly), parse each one, and name its kind.
//!
//! Tests use it to prove that generated migrations contain exactly the statements the
//! generator meant to write, whatever text a request carried.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};

/// One statement of a script as read back: its kind, and the quoted identifiers and string
/// literals it holds, in order, with their quoting undone (for a `DO` block, those of the
/// statement inside it). Tests compare them with the request to prove that every name and
/// every piece of text arrived intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// `BEGIN`, `SET`, `DO`, `CREATE TABLE`, `CREATE INDEX`, `COMMENT`, `DROP TABLE`, ...
    pub kind: String,
    /// The double-quoted identifiers.
    pub identifiers: Vec<String>,
    /// The string literals (plain and `E''`).
    pub literals: Vec<String>,
}

/// The kinds of the script's statements in order (`BEGIN`, `SET`, `DO`, `CREATE TABLE`,
/// `CREATE INDEX`, `COMMENT`, `DROP INDEX`, `DROP TABLE`, `DROP TYPE`, `COMMIT`, ...),
/// or why the script does not read as such a sequence.
pub fn statement_kinds(script: &str) -> Result<Vec<String>, String> {
    Ok(read_statements(script)?.into_iter().map(|reading| reading.kind).collect())
}

/// Every statement of the script read back (see [`Reading`]), or why the script does not
/// read as a sequence of statements the generator writes.
pub fn read_statements(script: &str) -> Result<Vec<Reading>, String> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, script).tokenize_with_location().map_err(|e| format!("tokenizer: {e}"))?;
    let line_starts: Vec<usize> = std::iter::once(0).chain(script.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let mut kinds = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut start: Option<Location> = None;
    for TokenWithSpan { token, span } in tokens {
        match token {
            Token::SemiColon => {
                let text = match start {
                    Some(from) => slice(script, &line_starts, from, span.start),
                    None => "",
                };
                let kind = statement_kind(&current, text)?;
                let (identifiers, literals) = match current.as_slice() {
                    [Token::Word(_), Token::Whitespace(_), Token::DollarQuotedString(body)] if kind == "DO" => {
                        let inner =
                            Tokenizer::new(&dialect, &body.value).tokenize().map_err(|e| format!("tokenizer: {e}"))?;
                        names_and_text(&inner)
                    }
                    tokens => names_and_text(tokens),
                };
                kinds.push(Reading { kind, identifiers, literals });
                current.clear();
                start = None;
            }
            Token::Whitespace(_) => {
                if !current.is_empty() {
                    current.push(token);
                }
            }
            other => {
                start.get_or_insert(span.start);
                current.push(other);
            }
        }
    }
    if !current.is_empty() {
        return Err(format!(
            "text after the last statement: {}",
            current.iter().map(ToString::to_string).collect::<String>()
        ));
    }
    Ok(kinds)
}

/// The double-quoted identifiers and the string literals among `tokens`, unquoted.
fn names_and_text(tokens: &[Token]) -> (Vec<String>, Vec<String>) {
    let mut identifiers = Vec::new();
    let mut literals = Vec::new();
    for token in tokens {
        match token {
            Token::Word(word) if word.quote_style == Some('"') => identifiers.push(word.value.clone()),
            Token::SingleQuotedString(text) | Token::EscapedStringLiteral(text) => literals.push(text.clone()),
            _ => {}
        }
    }
    (identifiers, literals)
}

/// The script's text between two tokenizer locations (1-based lines and character columns).
fn slice<'s>(script: &'s str, line_starts: &[usize], from: Location, to: Location) -> &'s str {
    let offset = |location: Location| -> usize {
        let line = usize::try_from(location.line).unwrap_or(usize::MAX).saturating_sub(1);
        let line_start = line_starts.get(line).copied().unwrap_or(script.len());
        let column = usize::try_from(location.column).unwrap_or(usize::MAX).saturating_sub(1);
        script[line_start..].char_indices().nth(column).map_or(script.len(), |(i, _)| line_start + i)
    };
    script.get(offset(from)..offset(to)).unwrap_or_default()
}

fn words(tokens: &[Token]) -> Vec<String> {
    tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)))
        .take(2)
        .map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_uppercase(),
            other => other.to_string(),
        })
        .collect()
}

fn statement_kind(tokens: &[Token], text: &str) -> Result<String, String> {
    let words = words(tokens);
    match words.first().map(String::as_str) {
        Some("DO") => {
            let [Token::Word(_), Token::Whitespace(_), Token::DollarQuotedString(body)] = tokens else {
                return Err(format!("unexpected DO statement: {text}"));
            };
            let block = body.value.trim().strip_prefix("BEGIN").map(str::trim_end);
            if let Some(inner) =
                block.and_then(|rest| rest.strip_suffix("EXCEPTION WHEN duplicate_object THEN NULL;\nEND"))
            {
                check_create_enum(inner)?;
            } else if let Some(inner) =
                block.and_then(|rest| rest.strip_suffix("EXCEPTION WHEN dependent_objects_still_exist THEN NULL;\nEND"))
            {
                check_drop_type(inner)?;
            } else {
                return Err(format!("unexpected DO body: {}", body.value));
            }
            Ok("DO".to_owned())
        }
        Some("BEGIN" | "COMMIT") => Ok(words[0].clone()),
        None => Err("an empty statement".to_owned()),
        Some(_) => {
            let statements = Parser::parse_sql(&PostgreSqlDialect {}, text).map_err(|e| format!("{e}: {text}"))?;
            if statements.len() != 1 {
                return Err(format!("{} statements where one was expected: {text}", statements.len()));
            }
            Ok(words.join(" ").trim_end().to_owned()).map(|kind| match words[0].as_str() {
                "COMMENT" | "SET" => words[0].clone(),
                _ => kind,
            })
        }
    }
}

/// Checks that `text` is exactly one `DROP TYPE IF EXISTS name[.name];`.
fn check_drop_type(text: &str) -> Result<(), String> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, text).map_err(|e| format!("{e}: {text}"))?;
    match statements.as_slice() {
        [
            sqlparser::ast::Statement::Drop {
                object_type: sqlparser::ast::ObjectType::Type,
                if_exists: true,
                names,
                cascade: false,
                ..
            },
        ] if names.len() == 1 => Ok(()),
        _ => Err(format!("unexpected statement in a type-dropping DO block: {text}")),
    }
}

/// Checks, token by token, that `text` is exactly
/// `CREATE TYPE name[.name] AS ENUM ('label', ...);` (sqlparser cannot parse `E''` labels).
fn check_create_enum(text: &str) -> Result<(), String> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, text).tokenize().map_err(|e| format!("tokenizer: {e}"))?;
    let tokens: Vec<Token> = tokens.into_iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
    let keyword = |token: &Token, word: &str| matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word));
    let quoted = |token: &Token| matches!(token, Token::Word(w) if w.quote_style == Some('"'));
    let string = |token: &Token| matches!(token, Token::SingleQuotedString(_) | Token::EscapedStringLiteral(_));
    let bad = || format!("a DO block may only create an enum type, found: {text}");
    let mut at = 0;
    for word in ["CREATE", "TYPE"] {
        if !tokens.get(at).is_some_and(|t| keyword(t, word)) {
            return Err(bad());
        }
        at += 1;
    }
    if !tokens.get(at).is_some_and(quoted) {
        return Err(bad());
    }
    at += 1;
    if tokens.get(at) == Some(&Token::Period) {
        if !tokens.get(at + 1).is_some_and(quoted) {
            return Err(bad());
        }
        at += 2;
    }
    for word in ["AS", "ENUM"] {
        if !tokens.get(at).is_some_and(|t| keyword(t, word)) {
            return Err(bad());
        }
        at += 1;
    }
    if tokens.get(at) != Some(&Token::LParen) {
        return Err(bad());
    }
    at += 1;
    loop {
        if !tokens.get(at).is_some_and(string) {
            return Err(bad());
        }
        at += 1;
        match tokens.get(at) {
            Some(Token::Comma) => at += 1,
            Some(Token::RParen) => break,
            _ => return Err(bad()),
        }
    }
    match &tokens[at + 1..] {
        [Token::SemiColon] => Ok(()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::statement_kinds;

    #[test]
    fn reads_a_migration() {
        let script = "-- a header; with a semicolon\nBEGIN;\nSET LOCAL lock_timeout = '5s';\nDO $r$ BEGIN\n  CREATE TYPE \"m\" AS ENUM ('a;b');\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND $r$;\nCREATE TABLE IF NOT EXISTS \"t\" (\"a\" text DEFAULT E'x\\';y');\nCOMMENT ON TABLE \"t\" IS 'c;d';\nCOMMIT;\n";
        assert_eq!(statement_kinds(script).unwrap(), ["BEGIN", "SET", "DO", "CREATE TABLE", "COMMENT", "COMMIT"]);
    }

    #[test]
    fn notices_a_smuggled_statement() {
        let script = "-- header\nDROP TABLE users;\nBEGIN;\nCOMMIT;\n";
        assert_eq!(statement_kinds(script).unwrap(), ["DROP TABLE", "BEGIN", "COMMIT"]);
        assert!(statement_kinds("BEGIN; SELECT 1").is_err());
    }
}
