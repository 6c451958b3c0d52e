//! The request envelope of seed 001 (`POST /api/schema-requests`) and its parsing.

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
        let Value::Object(object) = &value else {
            return Err(ModelError::Shape {
                path: String::new(),
                message: "expected a JSON object (a request envelope or a table definition)".to_owned(),
            });
        };
        let bare = !object.contains_key("schemaJson") && object.contains_key("columns");
        let request = if bare {
            let table: TableSchema = deserialize_at(value, "")?;
            SchemaRequest {
                table_name: table.table_name.clone(),
                owner: None,
                schema_json: table,
                request_metadata: None,
                shape: InputShape::BareTable,
            }
        } else {
            deserialize_at(value, "")?
        };
        request.resolve_types()?;
        Ok(request)
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
