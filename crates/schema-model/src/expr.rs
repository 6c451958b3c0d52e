//! The safe subset of SQL expressions accepted in `defaultValue`, `check` and index `where`.
//!
//! Free SQL text is the one place a request could smuggle a statement into generated
//! DDL. Each fragment is parsed with sqlparser (PostgreSQL dialect) as exactly one
//! expression, walked against an allow-list, and printed again by this module from the
//! syntax tree, so the text that reaches SQL is a rendering of a vetted tree, never the
//! input. The printer is our own on purpose: sqlparser's `Display` does not double a
//! quote that follows a backslash (`'a\'` stays `'a\'`), which PostgreSQL, where
//! backslashes in plain strings are literal, reads as the end of the string.

use sqlparser::ast::{
    BinaryOperator, CastKind, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectNamePart,
    UnaryOperator, Value,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::types::ColumnType;

/// Where an expression is used; each place allows a different subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExprContext {
    /// A column default: literals, casts, operators and a few value generators
    /// (`gen_random_uuid()`, `now()`, `CURRENT_TIMESTAMP`); no column references.
    Default,
    /// A check constraint: column references, comparisons, boolean logic and immutable
    /// functions; nothing that depends on the clock.
    Check,
    /// A partial index predicate: as for checks (PostgreSQL requires immutability).
    IndexPredicate,
}

/// A vetted expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeExpression {
    /// The expression re-printed from its syntax tree.
    pub sql: String,
    /// Columns it references, in order of appearance, without duplicates.
    pub columns: Vec<String>,
}

/// Why an expression is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// Nothing to parse.
    #[error("the expression is empty")]
    Empty,
    /// Longer than [`MAX_EXPRESSION_LEN`].
    #[error("the expression is longer than {MAX_EXPRESSION_LEN} bytes")]
    TooLong,
    /// Not a SQL expression.
    #[error("not a valid SQL expression: {0}")]
    Syntax(String),
    /// Text after the expression, such as `; DROP TABLE users`.
    #[error("unexpected text after the expression, starting at `{0}`; only a single expression is allowed")]
    Trailing(String),
    /// A construct outside the safe subset.
    #[error("{0} is not allowed here")]
    NotAllowed(String),
    /// More tokens or deeper nesting than an expression in a table definition needs.
    #[error("the expression is too complex: {0}")]
    TooComplex(String),
}

/// The longest expression accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 2048;
/// Most tokens an expression may have. Checked before parsing: sqlparser builds operator
/// chains (`1+1+…`) in a loop, out of reach of its recursion limit, and the tree it builds
/// is walked, printed and dropped recursively.
pub const MAX_EXPRESSION_TOKENS: usize = 512;
/// Deepest nesting of an expression's tree.
pub const MAX_EXPRESSION_DEPTH: usize = 64;

/// Functions allowed in defaults: value generators, clock readings, and the session's
/// settings (`current_setting('request.jwt.claim.sub', true)`, how PostgREST and row-level
/// security pass the caller's identity). `uuidv7` is PostgreSQL 18's; on older servers the
/// rehearsal answers with PostgreSQL's refusal.
const DEFAULT_FUNCTIONS: &[&str] = &[
    "gen_random_uuid",
    "uuidv7",
    "current_setting",
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
];

/// Value generators of the extensions a schema commonly installs for its defaults, each with
/// the extension that provides it. They may be qualified by the schema the extension was
/// installed in (`public.uuid_generate_v1mc()`, how `pg_dump` prints them); the registry
/// cannot see which schema that is, so any one schema name is accepted, and a target without
/// the extension refuses the table at rehearsal. (`gen_random_uuid` is built in since
/// PostgreSQL 13 and must stay unqualified: `public.gen_random_uuid` would be whatever
/// function of that name someone put there.)
pub const EXTENSION_DEFAULT_FUNCTIONS: &[(&str, &str)] =
    &[("uuid_generate_v1", "uuid-ossp"), ("uuid_generate_v1mc", "uuid-ossp"), ("uuid_generate_v4", "uuid-ossp")];

/// The extension providing a function named in a default (`schema.name` or `name`), when it
/// is one of [`EXTENSION_DEFAULT_FUNCTIONS`] and qualified by a schema, with that schema:
/// what an import script must install before the table.
pub fn extension_of_default(default: &str) -> Option<(&'static str, String)> {
    let lower = default.to_ascii_lowercase();
    EXTENSION_DEFAULT_FUNCTIONS.iter().find_map(|(function, extension)| {
        let at = lower.find(&format!(".{function}("))?;
        let schema = lower[..at].rsplit(|c: char| !(c.is_alphanumeric() || c == '_' || c == '"')).next()?;
        Some((*extension, schema.trim_matches('"').to_owned()))
    })
}

/// Immutable functions allowed in checks and index predicates (and defaults).
const IMMUTABLE_FUNCTIONS: &[&str] = &[
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "lower",
    "upper",
    "btrim",
    "ltrim",
    "rtrim",
    "abs",
    "round",
    "trunc",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "jsonb_typeof",
    "json_typeof",
    "array_length",
    "cardinality",
];

/// Most vetted expressions a thread remembers (see [`parse_safe`]).
const REMEMBERED_EXPRESSIONS: usize = 4096;
/// The longest text remembered: defaults and checks are short; a long one is vetted each
/// time rather than let a stream of long texts hold megabytes per thread.
const LONGEST_REMEMBERED: usize = 256;

type Memo<K, V> = std::cell::RefCell<std::collections::HashMap<K, V>>;

thread_local! {
    /// The answers of [`parse_safe`] and [`constant`] by their inputs: the rules of one
    /// table, and a migration folder's tables, ask about the same few defaults and checks
    /// again and again, and parsing is most of what answering costs.
    static VETTED: Memo<(ExprContext, String), Result<SafeExpression, ExprError>> = Memo::default();
    static CONSTANTS: Memo<String, Option<ConstantExpression>> = Memo::default();
}

/// `answer(key)`, remembered in `memo` when `remember` says so (forgotten all at once when full).
fn remembered<K: std::hash::Hash + Eq, V: Clone>(
    memo: &'static std::thread::LocalKey<Memo<K, V>>,
    key: K,
    remember: bool,
    answer: impl FnOnce(&K) -> V,
) -> V {
    if let Some(known) = memo.with(|m| m.borrow().get(&key).cloned()) {
        return known;
    }
    let value = answer(&key);
    if !remember {
        return value;
    }
    memo.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= REMEMBERED_EXPRESSIONS {
            m.clear();
        }
        m.insert(key, value.clone());
    });
    value
}

/// Parses `text` as one expression of the safe subset for `context`.
pub fn parse_safe(text: &str, context: ExprContext) -> Result<SafeExpression, ExprError> {
    remembered(&VETTED, (context, text.to_owned()), text.len() <= LONGEST_REMEMBERED, |(context, text)| {
        vet(text, *context)
    })
}

fn vet(text: &str, context: ExprContext) -> Result<SafeExpression, ExprError> {
    if text.trim().is_empty() {
        return Err(ExprError::Empty);
    }
    if text.len() > MAX_EXPRESSION_LEN {
        return Err(ExprError::TooLong);
    }
    if text.contains('\0') {
        return Err(ExprError::NotAllowed("a NUL character".to_owned()));
    }
    let dialect = PostgreSqlDialect {};
    // Tokenized once: counted, then parsed.
    let tokens = sqlparser::tokenizer::Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(|e| ExprError::Syntax(e.to_string()))?;
    let significant = tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_))).count();
    if significant > MAX_EXPRESSION_TOKENS {
        return Err(ExprError::TooComplex(format!(
            "{significant} tokens, at most {MAX_EXPRESSION_TOKENS} are accepted"
        )));
    }
    let mut parser = Parser::new(&dialect).with_recursion_limit(32).with_tokens_with_locations(tokens);
    let expr = parser.parse_expr().map_err(|e| ExprError::Syntax(e.to_string()))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(ExprError::Trailing(next.token.to_string()));
    }
    let mut walker = Walker { context, columns: Vec::new(), depth: 0 };
    walker.check(&expr)?;
    let mut sql = String::new();
    print(&expr, &mut sql);
    check_printed(&sql)?;
    Ok(SafeExpression { sql, columns: walker.columns })
}

/// A constant an expression consists of, for checks that a default fits its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// A number as written, with its sign (`-12.5`, `1e3`).
    Number(String),
    /// A quoted string's text.
    Text(String),
    /// `TRUE` or `FALSE`.
    Boolean(bool),
    /// `NULL`.
    Null,
}

/// A default that is a constant, possibly cast: `'abc'`, `-1`, `'{}'::jsonb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConstantExpression {
    /// The constant.
    pub value: Literal,
    /// The type it is cast to, innermost cast first, when it is cast.
    pub casts: Vec<ColumnType>,
}

/// The constant `text` consists of, when it is one (in parentheses, signed, or cast to
/// built-in types); `None` for anything else (function calls, operators, ...).
pub fn constant(text: &str) -> Option<ConstantExpression> {
    remembered(&CONSTANTS, text.to_owned(), text.len() <= LONGEST_REMEMBERED, |text| read_constant(text))
}

fn read_constant(text: &str) -> Option<ConstantExpression> {
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect).with_recursion_limit(16).try_with_sql(text).ok()?;
    let expr = parser.parse_expr().ok()?;
    if parser.peek_token().token != Token::EOF {
        return None;
    }
    let mut casts = Vec::new();
    let mut current = &expr;
    let mut negative = false;
    loop {
        match current {
            Expr::Nested(inner) => current = inner,
            Expr::Cast { expr: inner, data_type, format: None, .. } => {
                casts.push(ColumnType::parse(&data_type.to_string()).ok()?);
                current = inner;
            }
            Expr::UnaryOp { op: UnaryOperator::Minus, expr: inner } if !negative => {
                negative = true;
                current = inner;
            }
            Expr::Value(value) => {
                let value = match &value.value {
                    Value::Number(number, _) => {
                        Literal::Number(if negative { format!("-{number}") } else { number.clone() })
                    }
                    _ if negative => return None,
                    Value::SingleQuotedString(text) => Literal::Text(text.clone()),
                    Value::Boolean(b) => Literal::Boolean(*b),
                    Value::Null => Literal::Null,
                    _ => return None,
                };
                casts.reverse();
                return Some(ConstantExpression { value, casts });
            }
            _ => return None,
        }
    }
}

/// Whether a default gives each row a value of its own (so adding a column with it rewrites
/// the table): random and clock functions and sequences. `now()` and `CURRENT_TIMESTAMP` are
/// stable (one value per statement), which PostgreSQL stores once.
pub fn is_volatile_default(default: &str) -> bool {
    let lower = default.to_ascii_lowercase();
    ["gen_random_uuid", "uuid_generate_v", "uuidv7", "random(", "clock_timestamp", "timeofday", "nextval"]
        .iter()
        .any(|f| lower.contains(f))
}

/// An expression as PostgreSQL prints it back (`pg_get_expr`), brought into the form a
/// request would write: `x = ANY (ARRAY[a, b])` becomes `x IN (a, b)` (and `<> ALL` becomes
/// `NOT IN`), and a literal cast to one of `own_types` (the table's enum types, whose casts
/// PostgreSQL adds itself) loses the cast. The result is the vetted, re-printed expression;
/// when the text is outside the safe subset even so, it is returned as it was.
pub fn from_catalog(text: &str, context: ExprContext, own_types: &[&str]) -> String {
    let dialect = PostgreSqlDialect {};
    let parsed =
        Parser::new(&dialect).with_recursion_limit(32).try_with_sql(text).and_then(|mut parser| parser.parse_expr());
    let Ok(expr) = parsed else {
        return text.to_owned();
    };
    from_catalog_tree(expr, context, own_types).unwrap_or_else(|| text.to_owned())
}

/// [`from_catalog`] of an expression parsed already (a statement's, read by sqlparser);
/// `None` when it is outside the safe subset even so.
pub fn from_catalog_tree(mut expr: Expr, context: ExprContext, own_types: &[&str]) -> Option<String> {
    if !rewrite_catalog_forms(&mut expr, own_types, 0) {
        return None;
    }
    let mut printed = String::new();
    print(&expr, &mut printed);
    parse_safe(&printed, context).ok().map(|vetted| vetted.sql)
}

/// A canonical form of an expression, for deciding whether two are the same (a request's
/// and the catalog's, or two versions of a request's), never for running: the catalog forms
/// of [`from_catalog`], no parentheses of its own (precedence is printed explicitly), no
/// casts on literals (PostgreSQL adds the cast an untyped literal gets from its context),
/// no text-like casts on columns (`varchar` compared with `text`), a number PostgreSQL
/// stored as a cast string (`'-5'::integer`) read as the number, and `CURRENT_TIMESTAMP` and
/// `transaction_timestamp()` read as `now()`. Text the parser cannot read compares as written.
pub fn comparable(text: &str, context: ExprContext, own_types: &[&str]) -> String {
    comparable_renamed(text, context, own_types, &[])
}

/// [`comparable`], with columns renamed (`(old, new)` pairs): how an expression written
/// against a table's old column names reads after the columns were renamed (PostgreSQL
/// follows renames inside constraints and index predicates).
pub fn comparable_renamed(
    text: &str,
    context: ExprContext,
    own_types: &[&str],
    renames: &[(String, String)],
) -> String {
    let dialect = PostgreSqlDialect {};
    let parsed =
        Parser::new(&dialect).with_recursion_limit(32).try_with_sql(text).and_then(|mut parser| parser.parse_expr());
    let Ok(mut expr) = parsed else {
        return text.trim().to_owned();
    };
    if !rewrite_catalog_forms(&mut expr, own_types, 0) || !canonical(&mut expr, 0, renames) {
        return text.trim().to_owned();
    }
    let _ = context;
    let mut printed = String::new();
    print(&expr, &mut printed);
    printed
}

/// The rewrite of [`comparable`]; false when the tree is deeper than expressions get.
fn canonical(expr: &mut Expr, depth: usize, renames: &[(String, String)]) -> bool {
    if depth > MAX_EXPRESSION_DEPTH {
        return false;
    }
    let deeper = depth + 1;
    // Children first, so a node sees its operands in canonical form.
    let children = match expr {
        Expr::Nested(inner)
        | Expr::IsNull(inner)
        | Expr::IsNotNull(inner)
        | Expr::IsTrue(inner)
        | Expr::IsNotTrue(inner)
        | Expr::IsFalse(inner)
        | Expr::IsNotFalse(inner)
        | Expr::UnaryOp { expr: inner, .. }
        | Expr::Cast { expr: inner, .. } => canonical(inner, deeper, renames),
        Expr::BinaryOp { left, right, .. }
        | Expr::IsDistinctFrom(left, right)
        | Expr::IsNotDistinctFrom(left, right)
        | Expr::AnyOp { left, right, .. }
        | Expr::AllOp { left, right, .. }
        | Expr::Like { expr: left, pattern: right, .. }
        | Expr::ILike { expr: left, pattern: right, .. } => {
            canonical(left, deeper, renames) && canonical(right, deeper, renames)
        }
        Expr::InList { expr, list, .. } => {
            canonical(expr, deeper, renames) && list.iter_mut().all(|item| canonical(item, deeper, renames))
        }
        Expr::Between { expr, low, high, .. } => {
            canonical(expr, deeper, renames) && canonical(low, deeper, renames) && canonical(high, deeper, renames)
        }
        Expr::Array(array) => array.elem.iter_mut().all(|item| canonical(item, deeper, renames)),
        Expr::Function(function) => match &mut function.args {
            FunctionArguments::List(list) => list.args.iter_mut().all(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(inner)) => canonical(inner, deeper, renames),
                _ => true,
            }),
            _ => true,
        },
        _ => true,
    };
    if !children {
        return false;
    }
    loop {
        let replacement = match &*expr {
            Expr::Nested(inner) => Some((**inner).clone()),
            Expr::Cast { expr: inner, data_type, .. } => match &**inner {
                Expr::Value(value) => {
                    let numeric = ColumnType::parse(&data_type.to_string()).is_ok_and(|t| {
                        t.is_integer() || t.is_floating_point() || matches!(t, ColumnType::Numeric { .. })
                    });
                    match &value.value {
                        Value::SingleQuotedString(text) if numeric && looks_numeric(text) => {
                            Some(Expr::Value(Value::Number(text.clone(), false).into()))
                        }
                        _ => Some((**inner).clone()),
                    }
                }
                Expr::Identifier(_) | Expr::Nested(_)
                    if ColumnType::parse(&data_type.to_string()).is_ok_and(|t| t.is_textual()) =>
                {
                    Some((**inner).clone())
                }
                _ => None,
            },
            Expr::UnaryOp { op: UnaryOperator::Minus, expr: inner } => match &**inner {
                Expr::Value(value) => match &value.value {
                    Value::Number(number, long) if !number.starts_with('-') => {
                        Some(Expr::Value(Value::Number(format!("-{number}"), *long).into()))
                    }
                    _ => None,
                },
                _ => None,
            },
            Expr::Function(function) => {
                let name = function.name.to_string().to_lowercase();
                let no_arguments = match &function.args {
                    FunctionArguments::None => true,
                    FunctionArguments::List(list) => list.args.is_empty(),
                    FunctionArguments::Subquery(_) => false,
                };
                if no_arguments && matches!(name.as_str(), "current_timestamp" | "transaction_timestamp" | "now") {
                    let mut now = function.clone();
                    now.name = sqlparser::ast::ObjectName::from(vec![sqlparser::ast::Ident::new("now")]);
                    now.args = FunctionArguments::List(sqlparser::ast::FunctionArgumentList {
                        duplicate_treatment: None,
                        args: Vec::new(),
                        clauses: Vec::new(),
                    });
                    if now == *function { None } else { Some(Expr::Function(now)) }
                } else {
                    None
                }
            }
            _ => None,
        };
        match replacement {
            Some(simpler) => *expr = simpler,
            None => break,
        }
    }
    // Once, not in the loop above: renames may swap two names.
    if let Expr::Identifier(ident) = expr
        && let Some((_, to)) = renames.iter().find(|(from, _)| *from == folded(ident))
    {
        *expr = Expr::Identifier(sqlparser::ast::Ident::with_quote('"', to.clone()));
    }
    true
}

/// A decimal number as PostgreSQL prints one inside a string (`-5`, `1.50`, `1e3`).
fn looks_numeric(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.parse::<f64>().is_ok()
        && digits.chars().all(|c| c.is_ascii_digit() || ".eE+-".contains(c))
}

/// The rewrite of [`from_catalog`]; false when the tree is deeper than expressions get.
fn rewrite_catalog_forms(expr: &mut Expr, own_types: &[&str], depth: usize) -> bool {
    if depth > MAX_EXPRESSION_DEPTH {
        return false;
    }
    let quantified = match expr {
        Expr::AnyOp { left, compare_op: BinaryOperator::Eq, right, is_some: false } => Some((left, right, false)),
        Expr::AllOp { left, compare_op: BinaryOperator::NotEq, right } => Some((left, right, true)),
        _ => None,
    };
    if let Some((left, right, negated)) = quantified
        && let Expr::Array(array) = &**right
    {
        let list = array.elem.clone();
        *expr = Expr::InList { expr: left.clone(), list, negated };
    }
    if let Expr::Cast { expr: inner, data_type, .. } = expr
        && let sqlparser::ast::DataType::Custom(name, modifiers) = data_type
        && modifiers.is_empty()
        && let Some(ObjectNamePart::Identifier(last)) = name.0.last()
        && own_types.contains(&last.value.as_str())
        && matches!(&**inner, Expr::Value(_))
    {
        let literal = (**inner).clone();
        *expr = literal;
    }
    let deeper = depth + 1;
    match expr {
        Expr::Nested(inner)
        | Expr::IsNull(inner)
        | Expr::IsNotNull(inner)
        | Expr::IsTrue(inner)
        | Expr::IsNotTrue(inner)
        | Expr::IsFalse(inner)
        | Expr::IsNotFalse(inner)
        | Expr::UnaryOp { expr: inner, .. }
        | Expr::Cast { expr: inner, .. } => rewrite_catalog_forms(inner, own_types, deeper),
        Expr::BinaryOp { left, right, .. }
        | Expr::IsDistinctFrom(left, right)
        | Expr::IsNotDistinctFrom(left, right)
        | Expr::AnyOp { left, right, .. }
        | Expr::AllOp { left, right, .. } => {
            rewrite_catalog_forms(left, own_types, deeper) && rewrite_catalog_forms(right, own_types, deeper)
        }
        Expr::InList { expr, list, .. } => {
            rewrite_catalog_forms(expr, own_types, deeper)
                && list.iter_mut().all(|item| rewrite_catalog_forms(item, own_types, deeper))
        }
        Expr::Between { expr, low, high, .. } => {
            rewrite_catalog_forms(expr, own_types, deeper)
                && rewrite_catalog_forms(low, own_types, deeper)
                && rewrite_catalog_forms(high, own_types, deeper)
        }
        Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
            rewrite_catalog_forms(expr, own_types, deeper) && rewrite_catalog_forms(pattern, own_types, deeper)
        }
        Expr::Array(array) => array.elem.iter_mut().all(|item| rewrite_catalog_forms(item, own_types, deeper)),
        Expr::Function(function) => match &mut function.args {
            FunctionArguments::List(list) => list.args.iter_mut().all(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(inner)) => rewrite_catalog_forms(inner, own_types, deeper),
                _ => true,
            }),
            _ => true,
        },
        _ => true,
    }
}

/// A second, independent look at the printed text: read back by the tokenizer, it must
/// hold no comment and no statement separator, whatever the printer did.
fn check_printed(sql: &str) -> Result<(), ExprError> {
    use sqlparser::tokenizer::{Tokenizer, Whitespace};
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .map_err(|e| ExprError::NotAllowed(format!("this expression (it does not print back safely: {e})")))?;
    let unsafe_token = tokens.iter().any(|token| {
        matches!(
            token,
            Token::SemiColon
                | Token::Whitespace(Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_))
        )
    });
    if unsafe_token {
        return Err(ExprError::NotAllowed("this expression (it does not print back safely)".to_owned()));
    }
    Ok(())
}

/// An identifier as PostgreSQL reads it: unquoted names fold to lower case.
fn folded(ident: &sqlparser::ast::Ident) -> String {
    if ident.quote_style.is_none() { ident.value.to_lowercase() } else { ident.value.clone() }
}

/// `"name"` with embedded quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A string literal that means the same whatever `standard_conforming_strings` says:
/// `'...'` with quotes doubled, or `E'...'` with backslashes doubled when there are any.
pub fn string_literal(text: &str) -> String {
    if text.contains('\\') {
        format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", text.replace('\'', "''"))
    }
}

/// Prints a vetted expression. Only the node kinds [`Walker`] allows reach here.
fn print(expr: &Expr, out: &mut String) {
    match expr {
        Expr::Identifier(ident) => out.push_str(&quote_identifier(&folded(ident))),
        Expr::Value(value) => match &value.value {
            Value::Number(number, _) => out.push_str(number),
            Value::SingleQuotedString(text) => out.push_str(&string_literal(text)),
            Value::Boolean(true) => out.push_str("TRUE"),
            Value::Boolean(false) => out.push_str("FALSE"),
            _ => out.push_str("NULL"),
        },
        Expr::Nested(inner) => {
            out.push('(');
            print(inner, out);
            out.push(')');
        }
        Expr::IsNull(inner) => postfix(inner, " IS NULL", out),
        Expr::IsNotNull(inner) => postfix(inner, " IS NOT NULL", out),
        Expr::IsTrue(inner) => postfix(inner, " IS TRUE", out),
        Expr::IsNotTrue(inner) => postfix(inner, " IS NOT TRUE", out),
        Expr::IsFalse(inner) => postfix(inner, " IS FALSE", out),
        Expr::IsNotFalse(inner) => postfix(inner, " IS NOT FALSE", out),
        Expr::IsDistinctFrom(a, b) => infix(a, " IS DISTINCT FROM ", b, out),
        Expr::IsNotDistinctFrom(a, b) => infix(a, " IS NOT DISTINCT FROM ", b, out),
        Expr::UnaryOp { op, expr } => match (op, &**expr) {
            // `-1` stays a negative number; anything else gets parentheses, so two signs
            // can never meet as `--`, which PostgreSQL reads as a comment.
            (UnaryOperator::Minus, Expr::Value(v)) if matches!(v.value, Value::Number(..)) => {
                out.push('-');
                print(expr, out);
            }
            (UnaryOperator::Not, _) => {
                out.push_str("NOT (");
                print(expr, out);
                out.push(')');
            }
            (UnaryOperator::Plus, _) => {
                out.push_str("+(");
                print(expr, out);
                out.push(')');
            }
            _ => {
                out.push_str("-(");
                print(expr, out);
                out.push(')');
            }
        },
        Expr::BinaryOp { left, op, right } => infix(left, &format!(" {op} "), right, out),
        Expr::InList { expr, list, negated } => {
            operand(expr, out);
            out.push_str(if *negated { " NOT IN (" } else { " IN (" });
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                operand(item, out);
            }
            out.push(')');
        }
        Expr::Between { expr, negated, low, high } => {
            operand(expr, out);
            out.push_str(if *negated { " NOT BETWEEN " } else { " BETWEEN " });
            operand(low, out);
            out.push_str(" AND ");
            operand(high, out);
        }
        Expr::Like { negated, expr, pattern, .. } => {
            infix(expr, if *negated { " NOT LIKE " } else { " LIKE " }, pattern, out);
        }
        Expr::AnyOp { left, compare_op, right, .. } => quantified(left, compare_op, "ANY", right, out),
        Expr::AllOp { left, compare_op, right } => quantified(left, compare_op, "ALL", right, out),
        Expr::Array(array) => {
            out.push_str("ARRAY[");
            for (i, element) in array.elem.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                operand(element, out);
            }
            out.push(']');
        }
        Expr::ILike { negated, expr, pattern, .. } => {
            infix(expr, if *negated { " NOT ILIKE " } else { " ILIKE " }, pattern, out);
        }
        Expr::Cast { expr, data_type, .. } => {
            let type_sql = ColumnType::parse(&data_type.to_string()).map(|t| t.sql()).unwrap_or_default();
            out.push_str("CAST(");
            print(expr, out);
            out.push_str(" AS ");
            out.push_str(&type_sql);
            out.push(')');
        }
        Expr::Function(function) => {
            // Only allow-listed names reach the printer; a schema qualifier is quoted.
            let parts = &function.name.0;
            let mut name = String::new();
            for (i, part) in parts.iter().enumerate() {
                match part {
                    ObjectNamePart::Identifier(ident) if i + 1 < parts.len() => {
                        name.push_str(&quote_identifier(&folded(ident)));
                        name.push('.');
                    }
                    other => name.push_str(&other.to_string().to_lowercase()),
                }
            }
            match &function.args {
                FunctionArguments::List(list) => {
                    out.push_str(&name);
                    out.push('(');
                    for (i, arg) in list.args.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(arg)) = arg {
                            print(arg, out);
                        }
                    }
                    out.push(')');
                }
                _ => out.push_str(&name.to_uppercase()),
            }
        }
        // The walker refuses every other node before printing.
        _ => out.push_str("NULL"),
    }
}

/// Prints an operand, in parentheses unless it is atomic, so precedence is explicit.
fn operand(expr: &Expr, out: &mut String) {
    let atomic =
        matches!(expr, Expr::Identifier(_) | Expr::Value(_) | Expr::Nested(_) | Expr::Function(_) | Expr::Cast { .. })
            || matches!(expr, Expr::UnaryOp { op: UnaryOperator::Minus, expr } if matches!(**expr, Expr::Value(_)));
    if atomic {
        print(expr, out);
    } else {
        out.push('(');
        print(expr, out);
        out.push(')');
    }
}

fn infix(left: &Expr, op: &str, right: &Expr, out: &mut String) {
    operand(left, out);
    out.push_str(op);
    operand(right, out);
}

/// `left op ANY (ARRAY[...])`: how PostgreSQL prints `left IN (...)` back.
fn quantified(left: &Expr, op: &BinaryOperator, quantifier: &str, right: &Expr, out: &mut String) {
    operand(left, out);
    out.push(' ');
    out.push_str(&op.to_string());
    out.push(' ');
    out.push_str(quantifier);
    out.push_str(" (");
    print(right, out);
    out.push(')');
}

fn postfix(inner: &Expr, suffix: &str, out: &mut String) {
    operand(inner, out);
    out.push_str(suffix);
}

struct Walker {
    context: ExprContext,
    columns: Vec<String>,
    /// How deep the node being checked is; the printer recurses only as deep.
    depth: usize,
}

impl Walker {
    fn check(&mut self, expr: &Expr) -> Result<(), ExprError> {
        if self.depth >= MAX_EXPRESSION_DEPTH {
            return Err(ExprError::TooComplex(format!("nested more than {MAX_EXPRESSION_DEPTH} levels deep")));
        }
        self.depth += 1;
        let result = self.check_node(expr);
        self.depth -= 1;
        result
    }

    fn check_node(&mut self, expr: &Expr) -> Result<(), ExprError> {
        match expr {
            Expr::Identifier(ident) => {
                if self.context == ExprContext::Default {
                    return Err(ExprError::NotAllowed(format!(
                        "the column reference `{ident}` (a default cannot read other columns)"
                    )));
                }
                let name = folded(ident);
                if !self.columns.contains(&name) {
                    self.columns.push(name);
                }
                Ok(())
            }
            Expr::Value(value) => check_value(&value.value),
            Expr::Nested(inner)
            | Expr::IsNull(inner)
            | Expr::IsNotNull(inner)
            | Expr::IsTrue(inner)
            | Expr::IsNotTrue(inner)
            | Expr::IsFalse(inner)
            | Expr::IsNotFalse(inner) => self.check(inner),
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                self.check(a)?;
                self.check(b)
            }
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Not | UnaryOperator::Minus | UnaryOperator::Plus => self.check(expr),
                other => Err(ExprError::NotAllowed(format!("the operator `{other}`"))),
            },
            Expr::BinaryOp { left, op, right } => {
                check_operator(op)?;
                self.check(left)?;
                self.check(right)
            }
            Expr::InList { expr, list, .. } => {
                self.check(expr)?;
                list.iter().try_for_each(|item| self.check(item))
            }
            Expr::Between { expr, low, high, .. } => {
                self.check(expr)?;
                self.check(low)?;
                self.check(high)
            }
            Expr::Like { expr, pattern, any: false, escape_char: None, .. }
            | Expr::ILike { expr, pattern, any: false, escape_char: None, .. } => {
                self.check(expr)?;
                self.check(pattern)
            }
            Expr::AnyOp { left, compare_op, right, is_some: false } | Expr::AllOp { left, compare_op, right } => {
                check_comparison(compare_op)?;
                self.check(left)?;
                // An ARRAY[...] of values, or an array column (cast, as PostgreSQL prints
                // `'x' = ANY (tags)` of a varchar[] column).
                let mut operand = &**right;
                while let Expr::Nested(inner) | Expr::Cast { expr: inner, .. } = operand {
                    operand = inner;
                }
                match (&**right, operand) {
                    (Expr::Array(_), _) | (_, Expr::Identifier(_)) => self.check(right),
                    (other, _) => Err(ExprError::NotAllowed(format!(
                        "`{other}` after ANY or ALL (only an ARRAY[...] of values or an array column)"
                    ))),
                }
            }
            Expr::Array(array) => array.elem.iter().try_for_each(|element| self.check(element)),
            Expr::Cast { kind: CastKind::Cast | CastKind::DoubleColon, expr, data_type, format: None, .. } => {
                let type_text = data_type.to_string();
                match ColumnType::parse(&type_text) {
                    Ok(ty) if !matches!(ty.element(), ColumnType::Named(_)) => self.check(expr),
                    _ => Err(ExprError::NotAllowed(format!("a cast to `{type_text}` (only built-in types)"))),
                }
            }
            Expr::Function(function) => self.check_function(function),
            other => Err(ExprError::NotAllowed(format!("the expression `{other}`"))),
        }
    }

    fn check_function(&mut self, function: &Function) -> Result<(), ExprError> {
        let name = match function.name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] if ident.quote_style.is_none() => ident.value.to_lowercase(),
            [ObjectNamePart::Identifier(_schema), ObjectNamePart::Identifier(ident)]
                if ident.quote_style.is_none()
                    && self.context == ExprContext::Default
                    && EXTENSION_DEFAULT_FUNCTIONS.iter().any(|(f, _)| ident.value.eq_ignore_ascii_case(f)) =>
            {
                ident.value.to_lowercase()
            }
            _ => {
                return Err(ExprError::NotAllowed(format!("the function `{}`", function.name)));
            }
        };
        let allowed = IMMUTABLE_FUNCTIONS.contains(&name.as_str())
            || (self.context == ExprContext::Default
                && (DEFAULT_FUNCTIONS.contains(&name.as_str())
                    || EXTENSION_DEFAULT_FUNCTIONS.iter().any(|(f, _)| *f == name)));
        if !allowed {
            let hint = if DEFAULT_FUNCTIONS.contains(&name.as_str()) {
                " (it is not immutable; only defaults may read the clock or generate values)"
            } else {
                ""
            };
            return Err(ExprError::NotAllowed(format!("the function `{name}`{hint}")));
        }
        if function.uses_odbc_syntax
            || function.filter.is_some()
            || function.over.is_some()
            || function.null_treatment.is_some()
            || !function.within_group.is_empty()
            || !matches!(function.parameters, FunctionArguments::None)
        {
            return Err(ExprError::NotAllowed(format!("this form of `{name}`")));
        }
        match &function.args {
            FunctionArguments::None => Ok(()),
            FunctionArguments::List(list) if list.duplicate_treatment.is_none() && list.clauses.is_empty() => {
                for arg in &list.args {
                    match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => self.check(expr)?,
                        other => {
                            return Err(ExprError::NotAllowed(format!("the argument `{other}`")));
                        }
                    }
                }
                Ok(())
            }
            _ => Err(ExprError::NotAllowed(format!("these arguments to `{name}`"))),
        }
    }
}

fn check_value(value: &Value) -> Result<(), ExprError> {
    match value {
        Value::Number(text, _) if !is_decimal_literal(text) => Err(ExprError::NotAllowed(format!(
            "the number `{text}` (write plain decimal digits, with an optional fraction and exponent; PostgreSQL \
             before 16 reads `1_000` as 1 followed by a name)"
        ))),
        Value::Number(..) | Value::SingleQuotedString(_) | Value::Boolean(_) | Value::Null => Ok(()),
        other => Err(ExprError::NotAllowed(format!("the literal `{other}` (use a plain 'quoted' string or a number)"))),
    }
}

/// `digits[.digits][e[+-]digits]` or `.digits[...]`: a numeric literal every PostgreSQL
/// version reads the same way.
fn is_decimal_literal(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (digits(whole) || whole.is_empty())
                && (digits(fraction) || fraction.is_empty())
                && !(whole.is_empty() && fraction.is_empty())
        }
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// The comparisons `ANY` and `ALL` may use.
fn check_comparison(op: &BinaryOperator) -> Result<(), ExprError> {
    use BinaryOperator as B;
    match op {
        B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq => Ok(()),
        other => Err(ExprError::NotAllowed(format!("the operator `{other}` with ANY or ALL"))),
    }
}

fn check_operator(op: &BinaryOperator) -> Result<(), ExprError> {
    use BinaryOperator as B;
    match op {
        B::Plus
        | B::Minus
        | B::Multiply
        | B::Divide
        | B::Modulo
        | B::StringConcat
        | B::Gt
        | B::Lt
        | B::GtEq
        | B::LtEq
        | B::Eq
        | B::NotEq
        | B::And
        | B::Or
        | B::PGRegexMatch
        | B::PGRegexIMatch
        | B::PGRegexNotMatch
        | B::PGRegexNotIMatch
        | B::PGLikeMatch
        | B::PGILikeMatch
        | B::PGNotLikeMatch
        | B::PGNotILikeMatch => Ok(()),
        other => Err(ExprError::NotAllowed(format!("the operator `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, context: ExprContext) -> SafeExpression {
        parse_safe(text, context).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn accepts_the_safe_subset() {
        assert_eq!(ok("gen_random_uuid()", ExprContext::Default).sql, "gen_random_uuid()");
        assert_eq!(
            ok("current_setting('request.jwt.claim.username'::text, true)", ExprContext::Default).sql,
            "current_setting(CAST('request.jwt.claim.username' AS text), TRUE)"
        );
        assert!(parse_safe("current_setting('x')", ExprContext::Check).is_err(), "a check must not read settings");
        assert_eq!(ok("CURRENT_TIMESTAMP", ExprContext::Default).sql, "CURRENT_TIMESTAMP");
        assert_eq!(ok("now()", ExprContext::Default).sql, "now()");
        assert_eq!(ok("'{}'::jsonb", ExprContext::Default).sql, "CAST('{}' AS jsonb)");
        assert_eq!(ok("'it''s'", ExprContext::Default).sql, "'it''s'");
        assert_eq!(ok("-1.5", ExprContext::Default).sql, "-1.5");
        assert_eq!(ok("'abc'::bpchar", ExprContext::Default).sql, "CAST('abc' AS bpchar)");
        assert_eq!(ok("'abc'::char(3)", ExprContext::Default).sql, "CAST('abc' AS character(3))");
        let check = ok("amount > 0 AND Currency IN ('EUR', 'USD')", ExprContext::Check);
        assert_eq!(check.columns, ["amount", "currency"]);
        assert_eq!(check.sql, "(\"amount\" > 0) AND (\"currency\" IN ('EUR', 'USD'))");
        let regex = ok("email ~* '^[^@]+@[^@]+$'", ExprContext::Check);
        assert_eq!(regex.columns, ["email"]);
        ok("length(name) BETWEEN 2 AND 255", ExprContext::Check);
        ok("deleted_at IS NULL", ExprContext::IndexPredicate);
        // What PostgreSQL prints back for an IN list reads again.
        let any = ok("(status = ANY (ARRAY['a'::text, 'b'::text]))", ExprContext::Check);
        assert_eq!(any.sql, "(\"status\" = ANY (ARRAY[CAST('a' AS text), CAST('b' AS text)]))");
        assert_eq!(any.columns, ["status"]);
        assert!(parse_safe("x = ANY (SELECT y FROM t)", ExprContext::Check).is_err());
        assert!(parse_safe("x ~ ANY (ARRAY['a'])", ExprContext::Check).is_err());
    }

    #[test]
    fn backslashes_and_quotes_cannot_end_a_literal_early() {
        // PostgreSQL reads backslashes in plain strings literally; the printed literal
        // must keep the whole value inside one string token whatever it contains.
        let printed = ok(r"'a\''; DROP TABLE users; --'", ExprContext::Default).sql;
        assert_eq!(printed, r"E'a\\''; DROP TABLE users; --'");
        assert_eq!(string_literal(r"x\"), r"E'x\\'");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn signs_never_print_as_a_comment() {
        assert_eq!(ok("- -1", ExprContext::Default).sql, "-(-1)");
        assert_eq!(ok("-1", ExprContext::Default).sql, "-1");
        let hostile = "- -'\nNULL)); DROP TABLE victims; --'";
        // The `--` left is inside the string literal, where it is text.
        let printed = ok(hostile, ExprContext::Default);
        assert!(printed.sql.starts_with("-(-('"), "{}", printed.sql);
        assert_eq!(ok("x = - -1", ExprContext::Check).sql, "\"x\" = (-(-1))");
        assert_eq!(ok("NOT NOT done", ExprContext::Check).sql, "NOT (NOT (\"done\"))");
        assert!(super::check_printed("1 -- x").is_err());
        assert!(super::check_printed("1; 2").is_err());
    }

    #[test]
    fn constants_are_recognised_with_their_casts() {
        assert_eq!(constant("'abc'"), Some(ConstantExpression { value: Literal::Text("abc".into()), casts: vec![] }));
        assert_eq!(constant("(-12.5)").map(|c| c.value), Some(Literal::Number("-12.5".into())));
        let cast = constant("'abc'::bpchar").unwrap();
        assert_eq!(cast.casts, vec![ColumnType::Char(None)]);
        assert_eq!(constant("CAST(CAST(1 AS text) AS varchar(3))").unwrap().casts.len(), 2);
        assert_eq!(constant("now()"), None);
        assert_eq!(constant("1 + 1"), None);
        assert_eq!(constant("-'x'"), None);
    }

    #[test]
    fn catalog_forms_read_back_as_request_forms() {
        let own = ["ticket_status"];
        assert_eq!(
            from_catalog(
                "((resolution IS NULL) OR (status = ANY (ARRAY['resolved'::ticket_status, 'closed'::ticket_status])))",
                ExprContext::Check,
                &own
            ),
            "((\"resolution\" IS NULL) OR (\"status\" IN ('resolved', 'closed')))"
        );
        assert_eq!(
            from_catalog("(code <> ALL (ARRAY['a'::text, 'b'::text]))", ExprContext::Check, &own),
            "(\"code\" NOT IN (CAST('a' AS text), CAST('b' AS text)))"
        );
        assert_eq!(from_catalog("'open'::ticket_status", ExprContext::Default, &own), "'open'");
        // Another schema's type keeps its cast, and stays what it was (not in the subset).
        assert_eq!(from_catalog("'x'::other_type", ExprContext::Default, &own), "'x'::other_type");
        assert_eq!(
            from_catalog("nextval('t_id_seq'::regclass)", ExprContext::Default, &own),
            "nextval('t_id_seq'::regclass)"
        );
    }

    #[test]
    fn depth_and_size_are_bounded_before_anything_recurses() {
        // Two thousand terms are refused outright (too long), nothing parsed or walked.
        let two_thousand = vec!["1"; 2000].join("+");
        assert_eq!(parse_safe(&two_thousand, ExprContext::Default), Err(ExprError::TooLong));
        let chain = vec!["1"; 1000].join("+");
        assert!(chain.len() < MAX_EXPRESSION_LEN);
        assert!(matches!(parse_safe(&chain, ExprContext::Default), Err(ExprError::TooComplex(_))));
        let nested = format!("{}1{}", "-(".repeat(70), ")".repeat(70));
        assert!(parse_safe(&nested, ExprContext::Default).is_err());
        let deep = vec!["1"; 100].join("+");
        assert!(
            matches!(parse_safe(&deep, ExprContext::Default), Err(ExprError::TooComplex(m)) if m.contains("nested"))
        );
        ok(&vec!["1"; 40].join(" + "), ExprContext::Default);
        for number in ["1", "1.5", ".5", "5.", "1e10", "1.5E-3"] {
            assert!(is_decimal_literal(number), "{number}");
        }
        for number in ["1_000", "0x1F", "1e", ".", "1e+-2"] {
            assert!(!is_decimal_literal(number), "{number}");
        }
    }

    #[test]
    fn any_and_all_take_an_array_column() {
        let check = ok("(NOT (''::text = ANY ((permissions)::text[])))", ExprContext::Check);
        assert_eq!(check.columns, ["permissions"]);
        assert_eq!(ok("'a' <> ALL (tags)", ExprContext::Check).columns, ["tags"]);
        assert!(parse_safe("'a' = ANY (lower(x))", ExprContext::Check).is_err());
    }

    #[test]
    fn extension_value_generators_are_defaults_with_their_schema() {
        let default = ok("public.uuid_generate_v1mc()", ExprContext::Default);
        assert_eq!(default.sql, "\"public\".uuid_generate_v1mc()");
        assert_eq!(extension_of_default(&default.sql), Some(("uuid-ossp", "public".to_owned())));
        assert_eq!(ok("uuid_generate_v4()", ExprContext::Default).sql, "uuid_generate_v4()");
        assert_eq!(extension_of_default("uuid_generate_v4()"), None, "unqualified: on the search path");
        assert!(parse_safe("public.uuid_generate_v4()", ExprContext::Check).is_err(), "not in a check");
        assert!(parse_safe("public.now()", ExprContext::Default).is_err(), "only extension functions qualified");
        assert!(parse_safe("a.b.uuid_generate_v4()", ExprContext::Default).is_err());
        assert!(is_volatile_default("public.uuid_generate_v1mc()"));
    }

    #[test]
    fn refuses_everything_else() {
        let refused = [
            ("1; DROP TABLE users", ExprContext::Default),
            ("(SELECT 1)", ExprContext::Default),
            ("pg_sleep(10)", ExprContext::Default),
            ("now()", ExprContext::Check),
            ("now()", ExprContext::IndexPredicate),
            ("other_column", ExprContext::Default),
            ("$$x$$", ExprContext::Default),
            ("E'\\x41'", ExprContext::Default),
            ("public.gen_random_uuid()", ExprContext::Default),
            ("count(*)", ExprContext::Check),
            ("a IN (SELECT b FROM t)", ExprContext::Check),
            ("", ExprContext::Default),
            ("x::regclass", ExprContext::Check),
            ("1_000", ExprContext::Default),
            ("0x10", ExprContext::Default),
        ];
        for (text, context) in refused {
            assert!(parse_safe(text, context).is_err(), "{text:?} must be refused in {context:?}");
        }
        assert_eq!(
            parse_safe("1; DROP TABLE users", ExprContext::Default).unwrap_err().to_string(),
            "unexpected text after the expression, starting at `;`; only a single expression is allowed"
        );
    }

    #[test]
    fn comparable_forms_agree_across_catalog_and_request() {
        let same = |a: &str, b: &str, context: ExprContext| {
            assert_eq!(comparable(a, context, &["mood"]), comparable(b, context, &["mood"]), "{a} vs {b}");
        };
        let differ = |a: &str, b: &str, context: ExprContext| {
            assert_ne!(comparable(a, context, &["mood"]), comparable(b, context, &["mood"]), "{a} vs {b}");
        };
        same("'-5'::integer", "-5", ExprContext::Default);
        same("'abc'::bpchar", "'abc'", ExprContext::Default);
        same("'x'::character varying", "'x'", ExprContext::Default);
        same("'{}'::jsonb", "'{}'", ExprContext::Default);
        same("CURRENT_TIMESTAMP", "now()", ExprContext::Default);
        same("transaction_timestamp()", "now()", ExprContext::Default);
        same("((k)::text <> ''::text)", "k <> ''", ExprContext::Check);
        same("((l >= 0) AND (l < 10))", "l >= 0 AND l < 10", ExprContext::Check);
        same("(m = ANY (ARRAY['a'::text, 'b'::text]))", "m IN ('a', 'b')", ExprContext::Check);
        same("'happy'::mood", "'happy'", ExprContext::Default);
        differ("0", "1", ExprContext::Default);
        differ("0.00", "0", ExprContext::Default);
        differ("l >= 0", "l > 0", ExprContext::Check);
        differ("CURRENT_DATE", "now()", ExprContext::Default);
        differ("(a OR b) AND c", "a OR (b AND c)", ExprContext::Check);
    }
}
