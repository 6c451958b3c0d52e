//! The request envelope of seed 001 (`POST /api/schema-requests`) and its parsing.

use std::fmt::Write as _;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::ModelError;
use crate::table::TableSchema;
use crate::types::{ColumnType, closest};

/// A schema change request: who wants which table and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchemaRequest {
    /// The requested table's name; must equal `schemaJson.tableName`.
    pub table_name: String,
    /// The team or bot that will own the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The table definition.
    pub schema_json: TableSchema,
    /// Who asked, why, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_metadata: Option<RequestMetadata>,
    /// The target database the table is for, by the registry's name for it; the default
    /// target when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The table's compatibility level from this request on (reviewed like the rest of the
    /// request); the table's current level, else the policy's, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<crate::change::Compatibility>,
    /// Whether this came as an envelope or as a bare table definition.
    #[serde(skip)]
    pub shape: InputShape,
}

/// How the input was given; request-level rules only apply to envelopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputShape {
    /// The full envelope of seed 001.
    #[default]
    Envelope,
    /// A bare `schemaJson` object.
    BareTable,
}

/// `requestMetadata` of seed 001.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestMetadata {
    /// Identity of the requester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// Display name of the requester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by_username: Option<String>,
    /// Why the table is needed (kept in the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The issue this request belongs to; a string or a number.
    #[serde(default, deserialize_with = "string_or_number", skip_serializing_if = "Option::is_none")]
    pub related_issue: Option<String>,
    /// Unix time in seconds (fractions allowed, as `Date.now() / 1000` gives); names the
    /// migration file.
    #[serde(default, deserialize_with = "unix_seconds", skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<i64>,
}

fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!("expected a string or a number, found {other}"))),
    }
}

/// Latest accepted `requestedAt`: 9999-12-31T23:59:59Z, so file names keep four-digit years.
const MAX_REQUESTED_AT: f64 = 253_402_300_799.0;

fn unix_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let Some(value) = Option::<f64>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if !(0.0..=MAX_REQUESTED_AT).contains(&value) {
        return Err(serde::de::Error::custom(format!(
            "requestedAt must be unix seconds between 0 and {MAX_REQUESTED_AT}, found {value}"
        )));
    }
    #[expect(clippy::cast_possible_truncation, reason = "range checked above; fractions are dropped on purpose")]
    Ok(Some(value.floor() as i64))
}

impl SchemaRequest {
    /// A bare table definition as a request (no envelope: request-level rules do not apply).
    pub fn bare(table: TableSchema) -> Self {
        SchemaRequest {
            table_name: table.table_name.clone(),
            owner: None,
            schema_json: table,
            request_metadata: None,
            target: None,
            compatibility: None,
            shape: InputShape::BareTable,
        }
    }

    /// Parses a request from JSON text: the seed 001 envelope, or a bare table definition
    /// (an object with `columns` and no `schemaJson`). Malformed JSON is reported with line
    /// and column; a wrong shape with the JSON path (`schemaJson.columns[2].type`).
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ModelError::Syntax {
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
        Self::from_value(value)
    }

    /// Like [`SchemaRequest::from_json`] for an already parsed JSON value.
    pub fn from_value(value: Value) -> Result<Self, ModelError> {
        reject_nul(&value, &mut String::new())?;
        let Value::Object(object) = &value else {
            return Err(ModelError::Shape {
                path: String::new(),
                message: "expected a JSON object (a request envelope or a table definition)".to_owned(),
            });
        };
        let bare = !object.contains_key("schemaJson") && object.contains_key("columns");
        let request = if bare {
            let table: TableSchema = deserialize_at(value, "")?;
            SchemaRequest::bare(table)
        } else {
            deserialize_at(value, "")?
        };
        request.check_limits()?;
        request.resolve_types()?;
        Ok(request)
    }

    /// Refuses counts beyond what PostgreSQL allows, before any rule does work
    /// proportional to them: 1,600 columns, 32 columns in a key or index (INCLUDE columns
    /// count), and at most 1,600 of each kind of index and constraint.
    fn check_limits(&self) -> Result<(), ModelError> {
        let table = &self.schema_json;
        let at = |rest: &str, message: String| ModelError::Shape { path: join_path(self.table_path(), rest), message };
        if table.columns.len() > MAX_COLUMNS {
            return Err(at(
                "columns",
                format!("{} columns; PostgreSQL allows at most {MAX_COLUMNS} in a table", table.columns.len()),
            ));
        }
        let counts = [
            ("indexes", table.indexes.len()),
            ("uniques", table.uniques.len()),
            ("checks", table.checks.len()),
            ("foreignKeys", table.foreign_keys.len()),
            ("enums", table.enums.len()),
        ];
        for (what, count) in counts {
            if count > MAX_OBJECTS {
                return Err(at(what, format!("{count} entries; at most {MAX_OBJECTS} are accepted")));
            }
        }
        let keys = table
            .indexes
            .iter()
            .enumerate()
            .map(|(i, index)| (format!("indexes[{i}].columns"), index.columns.len() + index.include.len()))
            .chain(table.uniques.iter().enumerate().map(|(i, u)| (format!("uniques[{i}].columns"), u.columns.len())))
            .chain(
                table
                    .foreign_keys
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (format!("foreignKeys[{i}].columns"), f.columns.len())),
            )
            .chain(std::iter::once(("primaryKey".to_owned(), table.primary_key.len())));
        for (path, count) in keys {
            if count > MAX_KEY_COLUMNS {
                return Err(at(
                    &path,
                    format!("{count} columns; PostgreSQL allows at most {MAX_KEY_COLUMNS} in a key or index"),
                ));
            }
        }
        for (i, enum_type) in table.enums.iter().enumerate() {
            if enum_type.values.len() > MAX_OBJECTS {
                return Err(at(
                    &format!("enums[{i}].values"),
                    format!("{} values; at most {MAX_OBJECTS} are accepted", enum_type.values.len()),
                ));
            }
        }
        Ok(())
    }

    /// Where the table definition sits in this input, as a JSON path prefix.
    pub fn table_path(&self) -> &'static str {
        match self.shape {
            InputShape::Envelope => "schemaJson",
            InputShape::BareTable => "",
        }
    }

    /// Checks that every named (non built-in) column type is one of the declared enums.
    fn resolve_types(&self) -> Result<(), ModelError> {
        let table = &self.schema_json;
        for (i, column) in table.columns.iter().enumerate() {
            if let ColumnType::Named(name) = column.column_type.element() {
                if table.enums.iter().any(|e| &e.name == name) {
                    continue;
                }
                let enum_names = table.enums.iter().map(|e| e.name.as_str());
                let candidates = crate::types::KNOWN_TYPE_NAMES.iter().copied().chain(enum_names);
                let suggestion = closest(name, candidates).map(str::to_owned);
                return Err(ModelError::Shape {
                    path: join_path(self.table_path(), &format!("columns[{i}].type")),
                    message: format!(
                        "unknown type \"{name}\"{}; custom types must be declared in `enums`",
                        suggestion.map(|s| format!("; did you mean \"{s}\"?")).unwrap_or_default()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Most columns a table can have in PostgreSQL (MaxHeapAttributeNumber).
pub const MAX_COLUMNS: usize = 1600;
/// Most columns in an index or key in PostgreSQL (INDEX_MAX_KEYS, INCLUDE columns counted).
pub const MAX_KEY_COLUMNS: usize = 32;
/// Most indexes, constraints of one kind, enums or enum labels a request may hold.
pub const MAX_OBJECTS: usize = 1600;

/// Refuses text PostgreSQL cannot store (a NUL character) anywhere in the input, keys
/// included, naming where it is.
fn reject_nul(value: &Value, path: &mut String) -> Result<(), ModelError> {
    let found = |path: &str, what: &str| ModelError::Shape {
        path: path.to_owned(),
        message: format!("{what} contains a NUL character, which PostgreSQL cannot store"),
    };
    match value {
        Value::String(text) if text.contains('\0') => Err(found(path, "the text")),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let length = path.len();
                let _ = write!(path, "[{i}]");
                reject_nul(item, path)?;
                path.truncate(length);
            }
            Ok(())
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                if key.contains('\0') {
                    return Err(found(path, "a key"));
                }
                let length = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                reject_nul(item, path)?;
                path.truncate(length);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Joins a JSON path prefix and a relative path.
pub fn join_path(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_owned()
    } else if rest.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}.{rest}")
    }
}

fn deserialize_at<T: serde::de::DeserializeOwned>(value: Value, prefix: &str) -> Result<T, ModelError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ModelError::Shape { path: join_path(prefix, &path), message: e.into_inner().to_string() }
    })
}

/// serde_json appends " at line L column C"; we report those as fields.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}
