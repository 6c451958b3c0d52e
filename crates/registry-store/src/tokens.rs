//! Principals and their API tokens. A token is shown once when it is created; only its
//! SHA-256 is stored, computed by PostgreSQL so no hashing crate is needed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::requests::timestamp_sql;
use crate::store::Store;

/// What a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Submits requests and reads.
    Requester,
    /// Also approves and rejects other people's requests.
    Reviewer,
    /// Also applies and rolls back approved requests.
    Operator,
    /// Everything, including managing tokens.
    Admin,
}

impl Role {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requester => "requester",
            Self::Reviewer => "reviewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "requester" => Ok(Self::Requester),
            "reviewer" => Ok(Self::Reviewer),
            "operator" => Ok(Self::Operator),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown role \"{other}\"; expected requester, reviewer, operator or admin")),
        }
    }
}

/// Who is calling: the principal behind a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// The principal's name (recorded as the performer in the audit log).
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// A token as listed (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The token's (and its principal's) name.
    pub name: String,
    /// The principal's role.
    pub role: Role,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
}

/// A token just created: the only time its secret is visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    /// The token's (and its principal's) name.
    pub name: String,
    /// The principal's role.
    pub role: Role,
    /// The bearer token.
    pub token: String,
}

/// Every token starts with this.
pub const TOKEN_PREFIX: &str = "sr_";

/// Whether `text` has a token's form (`sr_` and 64 hex digits); anything else is refused
/// without a lookup.
pub fn is_token_shaped(text: &str) -> bool {
    text.strip_prefix(TOKEN_PREFIX).is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The SHA-256 of a token, what the registry stores and looks up.
pub fn hash_token(token: &str) -> Vec<u8> {
    crate::secrets::sha256(token.as_bytes())
}

fn valid_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "\"{name}\" is not a valid token name (1 to 64 letters, digits, '-', '_', '.', '@')"
        )))
    }
}

impl Store {
    /// Whether any token was ever issued (a fresh store has none; the server then creates
    /// the first admin token).
    pub async fn has_tokens(&self) -> Result<bool, StoreError> {
        let row = self.client().await?.query_one("SELECT EXISTS (SELECT 1 FROM registry.api_tokens)", &[]).await?;
        Ok(row.get(0))
    }

    /// Creates a principal with one token. The name must be new.
    pub async fn create_token(&self, name: &str, role: Role) -> Result<NewToken, StoreError> {
        valid_name(name)?;
        let mut object = self.client().await?;
        let client: &mut tokio_postgres::Client = &mut object;
        let transaction = client.transaction().await?;
        let principal = transaction
            .query_opt(
                "INSERT INTO registry.principals (name, role) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id",
                &[&name, &role.as_str()],
            )
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("a principal named \"{name}\" already exists")))?;
        let principal_id: i64 = principal.get(0);
        // 256 random bits from the operating system, made and hashed here: the token itself
        // never reaches PostgreSQL (nor its logs).
        let token = format!("{TOKEN_PREFIX}{}", crate::secrets::random_hex::<32>()?);
        transaction
            .execute(
                "INSERT INTO registry.api_tokens (principal_id, name, token_hash) VALUES ($1, $2, $3)",
                &[&principal_id, &name, &hash_token(&token)],
            )
            .await?;
        transaction.commit().await?;
        Ok(NewToken { name: name.to_owned(), role, token })
    }

    /// The principal behind a bearer token, or `None` for an unknown or revoked token (or
    /// for text that cannot be a token, without asking the database).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        if !is_token_shaped(token) {
            return Ok(None);
        }
        self.authenticate_hash(&hash_token(token)).await
    }

    /// The principal behind a token's hash ([`hash_token`]), or `None`.
    pub async fn authenticate_hash(&self, hash: &[u8]) -> Result<Option<Principal>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT p.name, p.role FROM registry.api_tokens t JOIN registry.principals p ON p.id = t.principal_id
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                &[&hash],
            )
            .await?;
        row.map(|row| {
            let role: String = row.get(1);
            Ok(Principal { name: row.get(0), role: role.parse().map_err(StoreError::Invalid)? })
        })
        .transpose()
    }

    /// Tokens that are not revoked, by name.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT t.name, p.role, {} FROM registry.api_tokens t JOIN registry.principals p ON p.id = t.principal_id
                     WHERE t.revoked_at IS NULL ORDER BY t.name",
                    timestamp_sql("t.created_at")
                ),
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.get(1);
                Ok(TokenInfo {
                    name: row.get(0),
                    role: role.parse().map_err(StoreError::Invalid)?,
                    created_at: row.get(2),
                })
            })
            .collect()
    }

    /// Deletes a principal and its tokens. Used to undo a first admin token whose secret
    /// could not be handed over; revoking keeps the record and is what people should use.
    pub async fn delete_principal(&self, name: &str) -> Result<(), StoreError> {
        self.client().await?.execute("DELETE FROM registry.principals WHERE name = $1", &[&name]).await?;
        Ok(())
    }

    /// Revokes a token by name; it stops working at once.
    pub async fn revoke_token(&self, name: &str) -> Result<(), StoreError> {
        let revoked = self
            .client()
            .await?
            .execute(
                "UPDATE registry.api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
                &[&name],
            )
            .await?;
        if revoked == 0 {
            return Err(StoreError::not_found(format!("token \"{name}\"")));
        }
        Ok(())
    }
}
