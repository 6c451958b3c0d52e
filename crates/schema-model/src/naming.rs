//! The naming convention for constraints and indexes, shared by the rule that checks a
//! name and the generator that emits it (design §2).
//!
//! `pk_<table>`, `fk_<table>_<columns>_<referenced table>`, `uq_<table>_<columns>`,
//! `ck_<table>_<label>`, `idx_<table>_<columns>` (seeds 002 and 004). Names longer than
//! PostgreSQL's 63-byte limit are shortened deterministically with a hash suffix, because
//! PostgreSQL would otherwise truncate them silently and two names could collide.

use serde::{Deserialize, Serialize};

/// PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Options that change generated names; set in the policy file's `[naming]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields, default)]
pub struct NamingOptions {
    /// Required table name prefix (seed 002's `{component}_`), checked by `naming.table-prefix`.
    pub table_prefix: Option<String>,
    /// Append the access method to index names (`idx_users_email_btree`, seed 002).
    pub index_method_suffix: bool,
}

/// `pk_<table>`.
pub fn primary_key_name(table: &str) -> String {
    fit(format!("pk_{table}"))
}

/// `fk_<table>_<columns>_<referenced table>`.
pub fn foreign_key_name(table: &str, columns: &[&str], referenced_table: &str) -> String {
    fit(format!("fk_{table}_{}_{referenced_table}", columns.join("_")))
}

/// `uq_<table>_<columns>`.
pub fn unique_name(table: &str, columns: &[&str]) -> String {
    fit(format!("uq_{table}_{}", columns.join("_")))
}

/// `ck_<table>_<label>`; the label is the checked column(s) or a number.
pub fn check_name(table: &str, label: &str) -> String {
    fit(format!("ck_{table}_{label}"))
}

/// `idx_<table>_<columns>[_unique][_<method>]`.
pub fn index_name(table: &str, columns: &[&str], unique: bool, method: &str, options: &NamingOptions) -> String {
    let mut name = format!("idx_{table}_{}", columns.join("_"));
    if unique {
        name.push_str("_unique");
    }
    if options.index_method_suffix {
        name.push('_');
        name.push_str(method);
    }
    fit(name)
}

/// Shortens a name over [`MAX_IDENTIFIER_BYTES`] to a prefix plus an 8-hex-digit hash of
/// the whole name, so distinct long names stay distinct.
pub fn fit(name: String) -> String {
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name;
    }
    let hash = fnv1a(name.as_bytes());
    let mut cut = MAX_IDENTIFIER_BYTES - 9;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash:08x}", &name[..cut])
}

fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Lower-case `snake_case`: a letter first, then letters, digits and single underscores.
pub fn is_snake_case(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

/// A best-effort `snake_case` spelling of `name` for suggestions (`UserProfile` → `user_profile`).
pub fn to_snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            previous_lower = false;
        }
    }
    let trimmed = out.trim_matches('_');
    let mut collapsed = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        if !(c == '_' && collapsed.ends_with('_')) {
            collapsed.push(c);
        }
    }
    if collapsed.starts_with(|c: char| c.is_ascii_digit()) {
        collapsed.insert(0, '_');
    }
    collapsed
}

/// PostgreSQL's reserved key words (SQL Key Words appendix, "reserved" and "reserved
/// (can be function or type)"): names that break every hand-written query unless quoted.
pub const RESERVED_WORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Whether `name` is a reserved key word.
pub fn is_reserved_word(name: &str) -> bool {
    // Lower-cased on the stack: asked of every name of every table checked. No reserved
    // word is longer than the buffer.
    let mut lower = [0_u8; 32];
    if name.len() > lower.len() {
        return false;
    }
    for (to, from) in lower.iter_mut().zip(name.bytes()) {
        *to = from.to_ascii_lowercase();
    }
    std::str::from_utf8(&lower[..name.len()]).is_ok_and(|lower| RESERVED_WORDS.binary_search(&lower).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_words_are_found_in_any_case_and_long_names_are_none() {
        assert!(
            RESERVED_WORDS.iter().all(|w| w.len() <= 32 && is_reserved_word(w) && is_reserved_word(&w.to_uppercase()))
        );
        assert!(!is_reserved_word("users") && !is_reserved_word(&"select".repeat(10)) && !is_reserved_word("sélect"));
    }

    #[test]
    fn convention() {
        assert_eq!(primary_key_name("users"), "pk_users");
        assert_eq!(foreign_key_name("sessions", &["user_id"], "users"), "fk_sessions_user_id_users");
        assert_eq!(unique_name("users", &["email"]), "uq_users_email");
        assert_eq!(check_name("orders", "amount"), "ck_orders_amount");
        let options = NamingOptions::default();
        assert_eq!(index_name("users", &["email"], false, "btree", &options), "idx_users_email");
        let suffixed = NamingOptions { index_method_suffix: true, ..NamingOptions::default() };
        assert_eq!(index_name("users", &["email"], true, "btree", &suffixed), "idx_users_email_unique_btree");
    }

    #[test]
    fn long_names_fit_and_stay_distinct() {
        let a = fit(format!("idx_{}_a", "x".repeat(70)));
        let b = fit(format!("idx_{}_b", "x".repeat(70)));
        assert_eq!(a.len(), MAX_IDENTIFIER_BYTES);
        assert_ne!(a, b);
        let multibyte = fit("é".repeat(40));
        assert!(multibyte.len() <= MAX_IDENTIFIER_BYTES);
    }

    #[test]
    fn snake_case() {
        assert!(is_snake_case("user_profiles"));
        for bad in ["UserProfile", "user__x", "_x", "x_", "1x", "user-id", ""] {
            assert!(!is_snake_case(bad), "{bad}");
        }
        assert_eq!(to_snake_case("UserProfile"), "user_profile");
        assert_eq!(to_snake_case("userId"), "user_id");
        assert_eq!(to_snake_case("user-name X"), "user_name_x");
    }

    #[test]
    fn reserved_words_are_sorted_for_binary_search() {
        assert!(RESERVED_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_reserved_word("USER"));
        assert!(!is_reserved_word("users"));
    }
}
