//! The OpenAPI 3 document, built from [`ROUTES`], the table of endpoints this module keeps
//! next to the router; a test checks that every route listed here is served.

use serde_json::{Map, Value, json};

/// One endpoint: method, path, summary, who may call it, request body schema, response
/// schema and its success status, and the error statuses it can answer with.
pub struct Route {
    /// Lower-case HTTP method.
    pub method: &'static str,
    /// Path with `{param}` placeholders.
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Lowest role allowed, or `None` for public endpoints.
    pub role: Option<&'static str>,
    /// Request body schema name.
    pub body: Option<&'static str>,
    /// Success status and response schema name (`None` for no body).
    pub response: (u16, Option<&'static str>),
    /// Error statuses besides 401/429/503.
    pub errors: &'static [u16],
}

/// Every endpoint.
pub const ROUTES: &[Route] = &[
    Route {
        method: "post",
        path: "/api/schema-requests",
        summary: "Submit a table request (checked, stored when it has no error violation)",
        role: Some("requester"),
        body: Some("SchemaRequest"),
        response: (201, Some("CheckAnswer")),
        errors: &[400, 413, 422],
    },
    Route {
        method: "get",
        path: "/api/schema-requests",
        summary: "List requests, newest first (query: status, limit, offset)",
        role: Some("requester"),
        body: None,
        response: (200, Some("RequestList")),
        errors: &[400],
    },
    Route {
        method: "get",
        path: "/api/schema-requests/{id}",
        summary: "One request with its violations and migration",
        role: Some("requester"),
        body: None,
        response: (200, Some("StoredRequest")),
        errors: &[400, 404],
    },
    Route {
        method: "patch",
        path: "/api/schema-requests/{id}",
        summary: "Change a request's status (approve, reject)",
        role: Some("requester"),
        body: Some("StatusChange"),
        response: (200, Some("StoredRequest")),
        errors: &[400, 403, 404, 409],
    },
    Route {
        method: "get",
        path: "/api/schema-requests/{id}/migration",
        summary: "The request's migration preview",
        role: Some("requester"),
        body: None,
        response: (200, Some("MigrationPreview")),
        errors: &[400, 404],
    },
    Route {
        method: "get",
        path: "/api/schema-requests/{id}/audit",
        summary: "The request's audit history",
        role: Some("requester"),
        body: None,
        response: (200, Some("AuditHistory")),
        errors: &[400, 404],
    },
    Route {
        method: "post",
        path: "/api/schema-requests/{id}/apply",
        summary: "Apply an approved request to a target, exactly once (409 integrity when the SQL is not what was approved, 422 when the table does not come out as requested)",
        role: Some("operator"),
        body: Some("TargetChoice"),
        response: (200, Some("ApplyOutcome")),
        errors: &[400, 403, 404, 409, 422],
    },
    Route {
        method: "post",
        path: "/api/schema-requests/{id}/rollback",
        summary: "Roll a migrated request back on a target; 409 data_loss when rows would be lost, then confirmDataLoss (202, awaiting a second principal's approval)",
        role: Some("operator"),
        body: Some("RollbackChoice"),
        response: (200, Some("ApplyOutcome")),
        errors: &[400, 403, 404, 409, 422],
    },
    Route {
        method: "post",
        path: "/api/schema-requests/{id}/rollback/approve",
        summary: "Approve (as a second principal) a rollback an operator confirmed would destroy data; it runs now",
        role: Some("reviewer"),
        body: Some("TargetChoice"),
        response: (200, Some("ApplyOutcome")),
        errors: &[400, 403, 404, 409, 422],
    },
    Route {
        method: "post",
        path: "/api/validate",
        summary: "Check a request without storing it",
        role: Some("requester"),
        body: Some("SchemaRequest"),
        response: (200, Some("CheckAnswer")),
        errors: &[400, 413],
    },
    Route {
        method: "post",
        path: "/api/lint",
        summary: "Lint SQL files (a migration folder's files, by path): statement and table rules, as `registry-server lint` does",
        role: Some("requester"),
        body: Some("LintRequest"),
        response: (200, Some("LintReport")),
        errors: &[400, 413],
    },
    Route {
        method: "get",
        path: "/api/tables",
        summary: "Managed tables (query: database)",
        role: Some("requester"),
        body: None,
        response: (200, Some("Object")),
        errors: &[400],
    },
    Route {
        method: "get",
        path: "/api/tables/{name}",
        summary: "A table's current schema and all its versions (query: database, schema)",
        role: Some("requester"),
        body: None,
        response: (200, Some("Object")),
        errors: &[400, 404],
    },
    Route {
        method: "get",
        path: "/api/tables/{name}/drift",
        summary: "Whether the live table matches the registry's current version, with the differences (query: database, schema)",
        role: Some("requester"),
        body: None,
        response: (200, Some("Object")),
        errors: &[400, 404],
    },
    Route {
        method: "post",
        path: "/api/tables/adopt",
        summary: "Record a table that exists on a target as version 1, so change requests work on it ({database, schema, table})",
        role: Some("operator"),
        body: Some("Object"),
        response: (201, Some("Object")),
        errors: &[400, 403, 404, 409],
    },
    Route {
        method: "get",
        path: "/api/databases",
        summary: "Target databases",
        role: Some("requester"),
        body: None,
        response: (200, Some("Object")),
        errors: &[],
    },
    Route {
        method: "get",
        path: "/api/rules",
        summary: "The policy rules with their documentation",
        role: None,
        body: None,
        response: (200, Some("Object")),
        errors: &[],
    },
    Route {
        method: "post",
        path: "/api/tokens",
        summary: "Create a principal and its token (shown once)",
        role: Some("admin"),
        body: Some("NewToken"),
        response: (201, Some("Token")),
        errors: &[400, 403, 409],
    },
    Route {
        method: "get",
        path: "/api/tokens",
        summary: "List tokens (never the secrets)",
        role: Some("admin"),
        body: None,
        response: (200, Some("Object")),
        errors: &[403],
    },
    Route {
        method: "get",
        path: "/api/audit/verify",
        summary: "Walk the audit log's hash chain: intact, or the first entry edited, deleted or inserted out of band",
        role: Some("admin"),
        body: None,
        response: (200, Some("AuditVerification")),
        errors: &[403],
    },
    Route {
        method: "delete",
        path: "/api/tokens/{name}",
        summary: "Revoke a token",
        role: Some("admin"),
        body: None,
        response: (204, None),
        errors: &[403, 404],
    },
    Route {
        method: "get",
        path: "/health",
        summary: "Liveness and database reachability",
        role: None,
        body: None,
        response: (200, Some("Object")),
        errors: &[],
    },
    Route {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics (text)",
        role: None,
        body: None,
        response: (200, None),
        errors: &[],
    },
    Route {
        method: "get",
        path: "/api/openapi.json",
        summary: "This document",
        role: None,
        body: None,
        response: (200, Some("Object")),
        errors: &[],
    },
];

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error_response(status: u16) -> Value {
    let description = match status {
        400 => "Malformed JSON (with line and column) or an invalid request",
        401 => "No valid bearer token",
        403 => "The token's role does not allow this, or a reviewer's own request",
        404 => "Not found",
        409 => {
            "Conflict: someone changed it first, the status change is not allowed, the SQL is not what was approved (integrity), or a rollback would lose data (data_loss)"
        }
        413 => "Body too large",
        422 => "Policy violations (nothing stored) or a migration that failed on the target",
        429 => "Rate limited; see Retry-After",
        _ => "Database unavailable or request timed out",
    };
    json!({"description": description, "content": {"application/json": {"schema": schema_ref("Error")}}})
}

/// The OpenAPI 3.0 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut responses = Map::new();
        let (status, schema) = route.response;
        responses.insert(
            status.to_string(),
            match schema {
                Some(name) => {
                    json!({"description": "Success", "content": {"application/json": {"schema": schema_ref(name)}}})
                }
                None => json!({"description": "Success"}),
            },
        );
        let mut errors: Vec<u16> = route.errors.to_vec();
        if route.role.is_some() {
            errors.extend([401, 429]);
        }
        errors.push(503);
        for status in errors {
            responses.insert(status.to_string(), error_response(status));
        }
        let mut operation = json!({
            "summary": route.summary,
            "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '-', '.'], "_")),
            "responses": responses,
        });
        if let Some(role) = route.role {
            operation["security"] = json!([{"bearer": []}]);
            operation["description"] = json!(format!("Requires role {role} or above."));
        }
        let parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            operation["parameters"] = json!(parameters);
        }
        if let Some(body) = route.body {
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema_ref(body)}}});
        }
        let entry = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
        entry[route.method] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Schema Registry", "version": env!("CARGO_PKG_VERSION"), "description": "The one safe door for PostgreSQL schema change."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        },
    })
}

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let nullable_string = json!({"type": "string", "nullable": true});
    let mut all = json!({
        "Object": {"type": "object"},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": string, "message": string, "details": {"type": "object"}}}}},
        "Column": {"type": "object", "required": ["name", "type"], "properties": {
            "name": string, "type": string, "primaryKey": {"type": "boolean"}, "nullable": {"type": "boolean"},
            "defaultValue": string, "unique": {"type": "boolean"}, "check": string, "comment": string,
            "identity": {"type": "string", "enum": ["always", "byDefault"]},
            "references": {"type": "object", "required": ["table", "column"], "properties": {"schema": string, "table": string, "column": string, "onDelete": string, "onUpdate": string, "name": string}}}},
        "Index": {"type": "object", "required": ["columns"], "properties": {
            "name": string, "columns": {"type": "array", "items": string}, "type": {"type": "string", "enum": ["BTREE", "HASH", "GIN", "GIST", "BRIN"]},
            "unique": {"type": "boolean"}, "where": string, "include": {"type": "array", "items": string}}},
        "TableSchema": {"type": "object", "required": ["tableName", "columns"], "properties": {
            "schema": string, "tableName": string, "comment": string,
            "columns": {"type": "array", "items": schema_ref("Column")},
            "indexes": {"type": "array", "items": schema_ref("Index")},
            "primaryKey": {"type": "array", "items": string},
            "foreignKeys": {"type": "array", "items": {"type": "object"}},
            "checks": {"type": "array", "items": {"type": "object"}},
            "uniques": {"type": "array", "items": {"type": "object"}},
            "enums": {"type": "array", "items": {"type": "object"}}}},
        "SchemaRequest": {"type": "object", "required": ["tableName", "schemaJson"], "description": "Seed 001's envelope; a bare TableSchema is accepted too.", "properties": {
            "tableName": string, "owner": string, "schemaJson": schema_ref("TableSchema"),
            "requestMetadata": {"type": "object", "properties": {"requestedBy": string, "requestedByUsername": string, "justification": string, "relatedIssue": string, "requestedAt": {"type": "number"}}}}},
        "Violation": {"type": "object", "required": ["severity", "message", "suggestion", "rule", "path"], "properties": {
            "severity": {"type": "string", "enum": ["error", "warning", "info"]}, "message": string, "suggestion": string, "rule": string, "path": string}},
        "MigrationPreview": {"type": "object", "required": ["fileName", "upSql", "downSql"], "properties": {"fileName": string, "upSql": string, "downSql": string}},
        "CheckAnswer": {"type": "object", "required": ["success", "violations"], "properties": {
            "success": {"type": "boolean"}, "registryId": string,
            "violations": {"type": "array", "items": schema_ref("Violation")},
            "migrationPreview": {"allOf": [schema_ref("MigrationPreview")], "nullable": true}}},
        "Status": {"type": "string", "enum": ["draft", "requested", "approved", "migrated", "rejected"]},
        "StoredRequest": {"type": "object", "properties": {
            "id": string, "tableSchema": string, "tableName": string, "owner": nullable_string, "requestedBy": string,
            "status": schema_ref("Status"), "version": {"type": "integer"}, "request": schema_ref("SchemaRequest"),
            "violations": {"type": "array", "items": schema_ref("Violation")}, "migration": schema_ref("MigrationPreview"),
            "checksum": string, "createdAt": string, "updatedAt": string}},
        "RequestList": {"type": "object", "properties": {
            "requests": {"type": "array", "items": {"type": "object", "properties": {"id": string, "tableName": string, "status": schema_ref("Status"), "createdAt": string}}},
            "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"}}},
        "StatusChange": {"type": "object", "required": ["status"], "properties": {
            "status": schema_ref("Status"), "performedBy": string, "note": string, "expectedVersion": {"type": "integer"}}},
        "AuditHistory": {"type": "object", "properties": {"requestId": string, "audit": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "action": string, "performedBy": string, "fromStatus": nullable_string, "toStatus": nullable_string,
            "justification": nullable_string, "relatedIssue": nullable_string, "target": nullable_string, "sqlExecuted": nullable_string,
            "success": {"type": "boolean"}, "error": nullable_string, "checksum": string, "details": {"type": "object"},
            "createdAt": string}}}}},
        "AuditVerification": {"type": "object", "required": ["intact", "entries"], "properties": {
            "intact": {"type": "boolean"}, "entries": {"type": "integer"}, "firstBroken": {"type": "integer"},
            "reason": string, "lastHash": string}},
        "TargetChoice": {"type": "object", "properties": {"target": string}},

        "RollbackChoice": {"type": "object", "properties": {"target": string, "confirmDataLoss": {"type": "boolean"}}},
        "ApplyOutcome": {"type": "object", "properties": {"requestId": string, "target": string, "ranSql": {"type": "boolean"}, "status": schema_ref("Status")}},
        "NewToken": {"type": "object", "required": ["name", "role"], "properties": {"name": string, "role": {"type": "string", "enum": ["requester", "reviewer", "operator", "admin"]}}},
        "Token": {"type": "object", "properties": {"name": string, "role": string, "token": string}},
    });
    // Apart: one json! call of everything exceeds the macro's recursion limit.
    all["LintRequest"] = lint_request_schema();
    all["LintReport"] = lint_report_schema();
    all
}

fn lint_request_schema() -> Value {
    let string = json!({"type": "string"});
    json!({"type": "object", "required": ["files"], "properties": {"files": {"type": "array", "items": {"type": "object", "required": ["path", "sql"], "properties": {"path": string, "sql": string}}}}})
}

fn lint_report_schema() -> Value {
    let string = json!({"type": "string"});
    let integer = json!({"type": "integer"});
    json!({"type": "object", "required": ["files", "statements", "notUnderstood", "findings"], "properties": {
        "files": integer, "statements": integer, "notUnderstood": integer,
        "findings": {"type": "array", "items": {"type": "object", "required": ["path", "line", "column", "endLine", "endColumn", "rule", "severity", "message", "suggestion"], "properties": {
            "path": string, "line": integer, "column": integer, "endLine": integer, "endColumn": integer,
            "rule": string, "severity": {"type": "string", "enum": ["error", "warning", "info"]}, "message": string, "suggestion": string}}}}})
}
