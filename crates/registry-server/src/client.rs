//! The command-line client: talks to a running server over HTTP.

use std::time::Duration;

use serde_json::Value;

/// Where the server is and who is calling.
#[derive(Debug, Clone)]
pub struct Client {
    server: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A failed call: the server's error, or no answer at all.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered with an error status and body.
    Api {
        /// HTTP status.
        status: u16,
        /// The `error.code` of the body.
        code: String,
        /// The `error.message` of the body.
        message: String,
        /// The whole body.
        body: Value,
    },
    /// No usable answer (connection refused, timeout, not JSON).
    Transport(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api { status, code, message, .. } => write!(f, "{status} {code}: {message}"),
            Self::Transport(message) => f.write_str(message),
        }
    }
}

impl Client {
    /// A client for `server` (`http://host:port`).
    pub fn new(server: &str, token: Option<String>) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_mins(1)))
            .build();
        Self { server: server.trim_end_matches('/').to_owned(), token, agent: ureq::Agent::new_with_config(config) }
    }

    /// Calls `method path` with an optional JSON body; the JSON answer, or the error.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.server);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let result = match (method, body) {
            ("GET", _) => with_auth(self.agent.get(&url), auth.as_deref()).call(),
            ("DELETE", _) => with_auth(self.agent.delete(&url), auth.as_deref()).call(),
            ("POST", Some(body)) => with_auth(self.agent.post(&url), auth.as_deref()).send_json(body),
            ("POST", None) => with_auth(self.agent.post(&url), auth.as_deref()).send_empty(),
            ("PATCH", Some(body)) => with_auth(self.agent.patch(&url), auth.as_deref()).send_json(body),
            _ => return Err(ClientError::Transport(format!("unsupported call {method} {path}"))),
        };
        let mut response = result.map_err(|e| ClientError::Transport(format!("cannot reach {}: {e}", self.server)))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Transport(format!("cannot read the answer: {e}")))?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|e| ClientError::Transport(format!("the answer is not JSON ({e}): {text}")))?
        };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let code = value["error"]["code"].as_str().unwrap_or("error").to_owned();
        let message = value["error"]["message"].as_str().unwrap_or("the server refused the call").to_owned();
        Err(ClientError::Api { status, code, message, body: value })
    }
}

fn with_auth<B>(request: ureq::RequestBuilder<B>, auth: Option<&str>) -> ureq::RequestBuilder<B> {
    match auth {
        Some(value) => request.header("Authorization", value),
        None => request,
    }
}
