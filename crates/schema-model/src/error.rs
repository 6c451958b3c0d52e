//! Errors for input that cannot become a model at all.

/// Why JSON text could not be read as a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The text is not JSON.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON parser expected.
        message: String,
    },
    /// The JSON does not have the request's shape.
    #[error("{}{message}", if .path.is_empty() { String::new() } else { format!("at {path}: ") })]
    Shape {
        /// JSON path of the offending value (`schemaJson.columns[2].type`), empty for the root.
        path: String,
        /// What is wrong there.
        message: String,
    },
}
