//! PostgreSQL column types: parsing from the names people write, and the canonical spelling.
//!
//! Requests name types the way PostgreSQL users do (`int8`, `timestamptz`,
//! `timestamp with time zone`, `varchar(255)`, `numeric(10,2)`, `text[]`). They are parsed
//! into [`ColumnType`] so that rules and the SQL generator never compare strings, and an
//! unknown name is reported together with the closest known one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A column's type, as PostgreSQL understands it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `smallint` (`int2`).
    SmallInt,
    /// `integer` (`int`, `int4`).
    Integer,
    /// `bigint` (`int8`).
    BigInt,
    /// `smallserial` (`serial2`): `smallint` with an owned sequence.
    SmallSerial,
    /// `serial` (`serial4`): `integer` with an owned sequence.
    Serial,
    /// `bigserial` (`serial8`): `bigint` with an owned sequence.
    BigSerial,
    /// `real` (`float4`).
    Real,
    /// `double precision` (`float8`, `float`).
    DoublePrecision,
    /// `numeric(p, s)` (`decimal`), precision and scale optional.
    Numeric {
        /// Total number of digits, 1..=1000.
        precision: Option<u16>,
        /// Digits after the decimal point, 0..=precision.
        scale: Option<u16>,
    },
    /// `money`.
    Money,
    /// `text`.
    Text,
    /// `character varying(n)` (`varchar`).
    Varchar(Option<u32>),
    /// `character(n)` (`char`); `char` alone is `character(1)`, as in PostgreSQL. `None` is
    /// `bpchar`, blank-padded text of any length (what a cast to `bpchar` means).
    Char(Option<u32>),
    /// `boolean` (`bool`).
    Boolean,
    /// `date`.
    Date,
    /// `time [with time zone]` with an optional fractional-seconds precision (0..=6).
    Time {
        /// `timetz` when true.
        with_time_zone: bool,
        /// Fractional seconds digits.
        precision: Option<u8>,
    },
    /// `timestamp [with time zone]` with an optional fractional-seconds precision (0..=6).
    Timestamp {
        /// `timestamptz` when true.
        with_time_zone: bool,
        /// Fractional seconds digits.
        precision: Option<u8>,
    },
    /// `interval`.
    Interval,
    /// `uuid`.
    Uuid,
    /// `json` (text kept verbatim).
    Json,
    /// `jsonb` (binary, indexable).
    Jsonb,
    /// `bytea`.
    Bytea,
    /// `inet`.
    Inet,
    /// `cidr`.
    Cidr,
    /// `macaddr`.
    MacAddr,
    /// `tsvector` (full text search document).
    TsVector,
    /// `xml`.
    Xml,
    /// `name`: PostgreSQL's 63-byte identifier type (role and object names in catalogs).
    Name,
    /// `<element>[]`.
    Array(Box<ColumnType>),
    /// A user-defined type (an enum declared in the request), by its lower-case name.
    Named(String),
}

/// Every built-in name the parser accepts, used to suggest the closest one.
pub const KNOWN_TYPE_NAMES: &[&str] = &[
    "smallint",
    "int2",
    "integer",
    "int",
    "int4",
    "bigint",
    "int8",
    "smallserial",
    "serial2",
    "serial",
    "serial4",
    "bigserial",
    "serial8",
    "real",
    "float4",
    "double precision",
    "float8",
    "float",
    "numeric",
    "decimal",
    "money",
    "text",
    "varchar",
    "character varying",
    "char",
    "character",
    "bpchar",
    "boolean",
    "bool",
    "date",
    "time",
    "timetz",
    "time with time zone",
    "time without time zone",
    "timestamp",
    "timestamptz",
    "timestamp with time zone",
    "timestamp without time zone",
    "interval",
    "uuid",
    "json",
    "jsonb",
    "bytea",
    "inet",
    "cidr",
    "macaddr",
    "tsvector",
    "xml",
    "name",
];

/// Why a type name could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    /// The name is not a built-in type and not a plain identifier.
    #[error("unknown type \"{name}\"{}", suggestion_suffix(.suggestion.as_deref()))]
    Unknown {
        /// The name as written.
        name: String,
        /// The closest known name, when one is close enough.
        suggestion: Option<String>,
    },
    /// The modifiers in parentheses do not fit the type.
    #[error("invalid modifier for type \"{name}\": {reason}")]
    BadModifier {
        /// The name as written.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

fn suggestion_suffix(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None => String::new(),
    }
}

impl ColumnType {
    /// Parses a PostgreSQL type name, case-insensitively, with aliases, modifiers and
    /// array suffixes. A name that is no built-in type but is a plain identifier becomes
    /// [`ColumnType::Named`]; whether such a type exists is decided by the table (its enums).
    pub fn parse(input: &str) -> Result<Self, TypeError> {
        let normalized = normalize(input);
        let unknown = || TypeError::Unknown {
            name: input.trim().to_owned(),
            suggestion: closest(
                normalized.split(['(', '[']).next().unwrap_or_default().trim(),
                KNOWN_TYPE_NAMES.iter().copied(),
            )
            .map(str::to_owned),
        };
        if normalized.is_empty() {
            return Err(unknown());
        }
        let mut base = normalized.as_str();
        let mut array_depth = 0usize;
        while let Some(stripped) = base.strip_suffix("[]") {
            base = stripped.trim_end();
            array_depth += 1;
        }
        let (name, modifiers) = split_modifiers(base).ok_or_else(unknown)?;
        let mut ty = parse_scalar(name, modifiers.as_deref(), input)?.map_or_else(
            || {
                if is_plain_identifier(name) && modifiers.is_none() && !name.contains(' ') {
                    Ok(ColumnType::Named(name.to_owned()))
                } else {
                    Err(unknown())
                }
            },
            Ok,
        )?;
        if array_depth > 0 && ty.is_serial() {
            return Err(TypeError::BadModifier {
                name: input.trim().to_owned(),
                reason: "serial types cannot be array elements".to_owned(),
            });
        }
        for _ in 0..array_depth {
            ty = ColumnType::Array(Box::new(ty));
        }
        Ok(ty)
    }

    /// True for `smallserial`, `serial` and `bigserial`.
    pub fn is_serial(&self) -> bool {
        matches!(self, Self::SmallSerial | Self::Serial | Self::BigSerial)
    }

    /// True for integer types, serial or not.
    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Self::SmallInt | Self::Integer | Self::BigInt | Self::SmallSerial | Self::Serial | Self::BigSerial
        )
    }

    /// True for `bigint` and `bigserial`: values beyond 2^53 lose precision in JavaScript.
    pub fn is_bigint(&self) -> bool {
        matches!(self, Self::BigInt | Self::BigSerial)
    }

    /// True for `real` and `double precision`.
    pub fn is_floating_point(&self) -> bool {
        matches!(self, Self::Real | Self::DoublePrecision)
    }

    /// True for `timestamp` and `timestamptz`.
    pub fn is_timestamp(&self) -> bool {
        matches!(self, Self::Timestamp { .. })
    }

    /// True for character types (`text`, `varchar`, `char`).
    pub fn is_textual(&self) -> bool {
        matches!(self, Self::Text | Self::Varchar(_) | Self::Char(_))
    }

    /// The type as PostgreSQL stores it, for comparing two spellings: `numeric(p)` is
    /// `numeric(p,0)`, arrays of such alike.
    #[must_use]
    pub fn canonical(&self) -> ColumnType {
        match self {
            Self::Numeric { precision: Some(p), scale: None } => Self::Numeric { precision: Some(*p), scale: Some(0) },
            Self::Array(inner) => Self::Array(Box::new(inner.canonical())),
            other => other.clone(),
        }
    }

    /// Whether PostgreSQL changes a column from this type to `to` keeping every value and
    /// without rewriting the table (or scanning it): a longer or unlimited `varchar`,
    /// `varchar` to `text`, a `numeric` with more digits before the point and the same
    /// scale, or an unconstrained `numeric`.
    pub fn changes_in_place_to(&self, to: &ColumnType) -> bool {
        match (self, to) {
            (Self::Varchar(Some(a)), Self::Varchar(Some(b))) => b >= a,
            (Self::Numeric { precision: Some(p1), scale: s1 }, Self::Numeric { precision: Some(p2), scale: s2 }) => {
                p2 >= p1 && s1.unwrap_or(0) == s2.unwrap_or(0)
            }
            (Self::Varchar(_), Self::Varchar(None) | Self::Text)
            | (Self::Numeric { .. }, Self::Numeric { precision: None, .. }) => true,
            (a, b) => a == b,
        }
    }

    /// The element type for arrays, the type itself otherwise.
    pub fn element(&self) -> &ColumnType {
        match self {
            Self::Array(inner) => inner.element(),
            other => other,
        }
    }

    /// The canonical SQL spelling, as used in generated DDL. Serial types keep their
    /// pseudo-type name (`serial`), since PostgreSQL only accepts them in `CREATE TABLE`.
    pub fn sql(&self) -> String {
        match self {
            Self::SmallInt => "smallint".to_owned(),
            Self::Integer => "integer".to_owned(),
            Self::BigInt => "bigint".to_owned(),
            Self::SmallSerial => "smallserial".to_owned(),
            Self::Serial => "serial".to_owned(),
            Self::BigSerial => "bigserial".to_owned(),
            Self::Real => "real".to_owned(),
            Self::DoublePrecision => "double precision".to_owned(),
            Self::Numeric { precision: Some(p), scale: Some(s) } => format!("numeric({p},{s})"),
            Self::Numeric { precision: Some(p), scale: None } => format!("numeric({p})"),
            Self::Numeric { .. } => "numeric".to_owned(),
            Self::Money => "money".to_owned(),
            Self::Text => "text".to_owned(),
            Self::Varchar(Some(n)) => format!("character varying({n})"),
            Self::Varchar(None) => "character varying".to_owned(),
            Self::Char(Some(n)) => format!("character({n})"),
            // Not `character`: PostgreSQL reads that as character(1), in a cast too.
            Self::Char(None) => "bpchar".to_owned(),
            Self::Boolean => "boolean".to_owned(),
            Self::Date => "date".to_owned(),
            Self::Time { with_time_zone, precision } => with_precision("time", *precision, *with_time_zone),
            Self::Timestamp { with_time_zone, precision } => with_precision("timestamp", *precision, *with_time_zone),
            Self::Interval => "interval".to_owned(),
            Self::Uuid => "uuid".to_owned(),
            Self::Json => "json".to_owned(),
            Self::Jsonb => "jsonb".to_owned(),
            Self::Bytea => "bytea".to_owned(),
            Self::Inet => "inet".to_owned(),
            Self::Cidr => "cidr".to_owned(),
            Self::MacAddr => "macaddr".to_owned(),
            Self::TsVector => "tsvector".to_owned(),
            Self::Xml => "xml".to_owned(),
            Self::Name => "name".to_owned(),
            Self::Array(inner) => format!("{}[]", inner.sql()),
            Self::Named(name) => name.clone(),
        }
    }

    /// The name PostgreSQL's `format_type()` reports for a column of this type once it
    /// exists: serial types become their integer type. Used to compare the live catalog with
    /// the model.
    pub fn catalog_name(&self) -> String {
        match self {
            Self::SmallSerial => Self::SmallInt.catalog_name(),
            Self::Serial => Self::Integer.catalog_name(),
            Self::BigSerial => Self::BigInt.catalog_name(),
            Self::Numeric { precision: Some(p), scale: None } => format!("numeric({p},0)"),
            Self::Array(inner) => format!("{}[]", inner.catalog_name()),
            other => other.sql(),
        }
    }
}

fn with_precision(base: &str, precision: Option<u8>, with_time_zone: bool) -> String {
    let mut out = base.to_owned();
    if let Some(p) = precision {
        out = format!("{out}({p})");
    }
    out.push_str(if with_time_zone { " with time zone" } else { " without time zone" });
    out
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql())
    }
}

impl Serialize for ColumnType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.sql())
    }
}

impl<'de> Deserialize<'de> for ColumnType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ColumnType::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Lower-cases and folds runs of white space to one space.
fn normalize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for word in input.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.to_lowercase());
    }
    // `numeric ( 10 , 2 )` and `varchar (255)` are the same as without the spaces.
    out.replace(" (", "(").replace("( ", "(").replace(" )", ")").replace(" ,", ",").replace(", ", ",")
}

/// Splits `name(mods)` or `name(mods) with time zone` into the name (with any trailing
/// words kept) and the modifier text.
fn split_modifiers(text: &str) -> Option<(&str, Option<String>)> {
    let Some(open) = text.find('(') else {
        return Some((text, None));
    };
    let close = text[open..].find(')')? + open;
    let inner = text[open + 1..close].to_owned();
    let head = &text[..open];
    let tail = text[close + 1..].trim();
    if tail.is_empty() {
        return Some((head, Some(inner)));
    }
    // `timestamp(3) with time zone`: the tz words follow the modifier.
    match (head, tail) {
        ("timestamp", "with time zone") => Some(("timestamp with time zone", Some(inner))),
        ("timestamp", "without time zone") => Some(("timestamp", Some(inner))),
        ("time", "with time zone") => Some(("time with time zone", Some(inner))),
        ("time", "without time zone") => Some(("time", Some(inner))),
        _ => None,
    }
}

fn parse_scalar(name: &str, modifiers: Option<&str>, original: &str) -> Result<Option<ColumnType>, TypeError> {
    let bad = |reason: &str| TypeError::BadModifier { name: original.trim().to_owned(), reason: reason.to_owned() };
    let no_modifiers = |ty: ColumnType| -> Result<Option<ColumnType>, TypeError> {
        match modifiers {
            None => Ok(Some(ty)),
            Some(_) => Err(bad("this type takes no modifiers")),
        }
    };
    let numbers = || -> Result<Vec<u32>, TypeError> {
        modifiers
            .unwrap_or_default()
            .split(',')
            .map(|part| part.trim().parse::<u32>().map_err(|_| bad("modifiers must be non-negative whole numbers")))
            .collect()
    };
    let length = |max: u32| -> Result<Option<u32>, TypeError> {
        if modifiers.is_none() {
            return Ok(None);
        }
        match numbers()?.as_slice() {
            [n] if (1..=max).contains(n) => Ok(Some(*n)),
            [_] => Err(bad(&format!("length must be between 1 and {max}"))),
            _ => Err(bad("expected one length")),
        }
    };
    let precision = || -> Result<Option<u8>, TypeError> {
        if modifiers.is_none() {
            return Ok(None);
        }
        match numbers()?.as_slice() {
            [p] if *p <= 6 => Ok(u8::try_from(*p).ok()),
            _ => Err(bad("precision must be one number between 0 and 6")),
        }
    };
    let ty = match name {
        "smallint" | "int2" => return no_modifiers(ColumnType::SmallInt),
        "integer" | "int" | "int4" => return no_modifiers(ColumnType::Integer),
        "bigint" | "int8" => return no_modifiers(ColumnType::BigInt),
        "smallserial" | "serial2" => return no_modifiers(ColumnType::SmallSerial),
        "serial" | "serial4" => return no_modifiers(ColumnType::Serial),
        "bigserial" | "serial8" => return no_modifiers(ColumnType::BigSerial),
        "real" | "float4" => return no_modifiers(ColumnType::Real),
        "double precision" | "float8" => return no_modifiers(ColumnType::DoublePrecision),
        "float" => match modifiers {
            None => ColumnType::DoublePrecision,
            Some(_) => match numbers()?.as_slice() {
                [p] if (1..=24).contains(p) => ColumnType::Real,
                [p] if (25..=53).contains(p) => ColumnType::DoublePrecision,
                _ => return Err(bad("float precision must be between 1 and 53")),
            },
        },
        "numeric" | "decimal" => {
            if modifiers.is_none() {
                ColumnType::Numeric { precision: None, scale: None }
            } else {
                let to_u16 = |n: u32| u16::try_from(n).map_err(|_| bad("precision out of range"));
                match numbers()?.as_slice() {
                    [p] if (1..=1000).contains(p) => ColumnType::Numeric { precision: Some(to_u16(*p)?), scale: None },
                    [p, s] if (1..=1000).contains(p) && s <= p => {
                        ColumnType::Numeric { precision: Some(to_u16(*p)?), scale: Some(to_u16(*s)?) }
                    }
                    _ => {
                        return Err(bad(
                            "expected numeric(precision) or numeric(precision,scale) with 1 <= precision <= 1000 and 0 <= scale <= precision",
                        ));
                    }
                }
            }
        }
        "money" => return no_modifiers(ColumnType::Money),
        "text" => return no_modifiers(ColumnType::Text),
        "varchar" | "character varying" => ColumnType::Varchar(length(10_485_760)?),
        "char" | "character" => ColumnType::Char(Some(length(10_485_760)?.unwrap_or(1))),
        "bpchar" => ColumnType::Char(length(10_485_760)?),
        "boolean" | "bool" => return no_modifiers(ColumnType::Boolean),
        "date" => return no_modifiers(ColumnType::Date),
        "time" | "time without time zone" => ColumnType::Time { with_time_zone: false, precision: precision()? },
        "timetz" | "time with time zone" => ColumnType::Time { with_time_zone: true, precision: precision()? },
        "timestamp" | "timestamp without time zone" => {
            ColumnType::Timestamp { with_time_zone: false, precision: precision()? }
        }
        "timestamptz" | "timestamp with time zone" => {
            ColumnType::Timestamp { with_time_zone: true, precision: precision()? }
        }
        "interval" => return no_modifiers(ColumnType::Interval),
        "uuid" => return no_modifiers(ColumnType::Uuid),
        "json" => return no_modifiers(ColumnType::Json),
        "jsonb" => return no_modifiers(ColumnType::Jsonb),
        "bytea" => return no_modifiers(ColumnType::Bytea),
        "inet" => return no_modifiers(ColumnType::Inet),
        "cidr" => return no_modifiers(ColumnType::Cidr),
        "macaddr" => return no_modifiers(ColumnType::MacAddr),
        "tsvector" => return no_modifiers(ColumnType::TsVector),
        "xml" => return no_modifiers(ColumnType::Xml),
        "name" => return no_modifiers(ColumnType::Name),
        _ => return Ok(None),
    };
    Ok(Some(ty))
}

fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The candidate closest to `input` by edit distance, when it is close enough to be a
/// plausible typo (at most a third of the input's length, and at most 3 edits).
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (input.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(input, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b_chars: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b_chars.len()).collect();
    let mut current = vec![0; b_chars.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b_chars.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b_chars.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ColumnType {
        ColumnType::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn aliases_and_modifiers() {
        assert_eq!(parse("INT8"), ColumnType::BigInt);
        assert_eq!(parse("timestamptz"), ColumnType::Timestamp { with_time_zone: true, precision: None });
        assert_eq!(parse("TIMESTAMP WITH TIME ZONE"), parse("timestamptz"));
        assert_eq!(
            parse("timestamp(3) with time zone"),
            ColumnType::Timestamp { with_time_zone: true, precision: Some(3) }
        );
        assert_eq!(parse("varchar(255)"), ColumnType::Varchar(Some(255)));
        assert_eq!(parse("Character Varying ( 12 )"), ColumnType::Varchar(Some(12)));
        assert_eq!(parse("numeric(10, 2)"), ColumnType::Numeric { precision: Some(10), scale: Some(2) });
        assert_eq!(parse("text[]"), ColumnType::Array(Box::new(ColumnType::Text)));
        assert_eq!(parse("int[][]").sql(), "integer[][]");
        assert_eq!(parse("float(10)"), ColumnType::Real);
        assert_eq!(parse("mood"), ColumnType::Named("mood".to_owned()));
        assert_eq!(parse("bigserial").catalog_name(), "bigint");
        assert_eq!(parse("timestamptz").sql(), "timestamp with time zone");
        // `char` alone is character(1); only bpchar is unbounded (a cast to `character`
        // would cut 'abc' to 'a').
        assert_eq!(parse("char"), ColumnType::Char(Some(1)));
        assert_eq!(parse("character(3)").sql(), "character(3)");
        assert_eq!(parse("bpchar").sql(), "bpchar");
        assert_eq!(parse("bpchar(4)"), ColumnType::Char(Some(4)));
    }

    #[test]
    fn unknown_type_names_closest() {
        // A plain identifier may be a declared enum; the request decides (see `request`).
        assert_eq!(ColumnType::parse("timestamptzz"), Ok(ColumnType::Named("timestamptzz".to_owned())));
        let err = ColumnType::parse("timestamp with time zon").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown type \"timestamp with time zon\"; did you mean \"timestamp with time zone\"?"
        );
        let err = ColumnType::parse("varchr(10)").unwrap_err();
        assert_eq!(err.to_string(), "unknown type \"varchr(10)\"; did you mean \"varchar\"?");
        assert!(ColumnType::parse("").is_err());
        assert!(ColumnType::parse("text; drop table x").is_err());
    }

    #[test]
    fn bad_modifiers() {
        for bad in
            ["numeric(2,5)", "varchar(0)", "integer(4)", "timestamp(9)", "varchar(a)", "serial[]", "numeric(1001)"]
        {
            assert!(ColumnType::parse(bad).is_err(), "{bad} should fail");
        }
    }
}
