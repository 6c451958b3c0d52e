//! The audit log as a tamper-evident hash chain.
//!
//! Every entry has a position (`seq`, 1, 2, 3, ... with no gaps), the hash of the entry
//! before it (`prev_hash`) and its own `hash` = HMAC-SHA-256(key, prev_hash ‖ entry), where
//! `entry` is a length-prefixed encoding of every field, the time included. The hash is
//! computed here, in the server, with a key the database never sees: the append-only
//! trigger stops accidents, the chain catches everyone else. An entry edited, deleted or
//! inserted out of band, by any role, a superuser included, no longer fits the chain, and
//! [`Store::verify_audit`] names the first entry where it breaks. (A key matters: with a
//! plain hash, whoever can write the table could recompute the chain after an edit.)
//!
//! Appending takes a transaction-scoped advisory lock, so entries get their positions one
//! at a time; the lock is held only until the surrounding transaction commits. What a chain
//! alone cannot show is the newest entries being cut off together with nothing after them:
//! [`AuditVerification::last_hash`] is the value to record elsewhere to detect that.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::Mac as _;
use serde::Serialize;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::error::StoreError;
use crate::store::{Store, parse_id};

/// Advisory lock key serializing appends to the chain ("audit-ch" in ASCII).
pub const AUDIT_LOCK: i64 = 0x6175_6469_742d_6368;
/// Entries read per query while verifying.
const VERIFY_BATCH: i64 = 2_000;
/// Marks what is hashed, so the format can change under a new tag.
const FORMAT_TAG: &[u8] = b"schema-registry audit entry v1\n";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The secret the chain's HMACs are keyed with: 32 random bytes, kept by the server
/// (`<data-dir>/audit.key`, mode 0600), never stored in the database.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey([u8; 32]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.fingerprint())
    }
}

impl AuditKey {
    /// A key from its bytes (tests, and keys kept elsewhere).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Internal(format!("no random numbers: {e}")))?;
        Ok(Self(bytes))
    }

    /// Reads the key file at `path` (64 hex digits); creates it with a new key (mode 0600)
    /// when it does not exist and `create` is set.
    pub fn load_or_create(path: &Path, create: bool) -> Result<Self, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(text.trim())
                .map_err(|e| StoreError::Invalid(format!("the audit key file {}: {e}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
                let key = Self::generate()?;
                write_secret(path, &format!("{}\n", hex(&key.0))).map_err(|e| {
                    StoreError::Invalid(format!("cannot write the audit key file {}: {e}", path.display()))
                })?;
                Ok(key)
            }
            Err(error) => {
                Err(StoreError::Invalid(format!("cannot read the audit key file {}: {error}", path.display())))
            }
        }
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(format!("expected 64 hex digits, found {} characters", text.chars().count()));
        }
        let mut key = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let digit = |b: u8| char::from(b).to_digit(16).ok_or_else(|| "not a hex digit".to_owned());
            key[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).map_err(|e| e.to_string())?;
        }
        Ok(Self(key))
    }

    /// A public fingerprint of the key (an HMAC of a fixed text), to tell keys apart
    /// without revealing them.
    pub fn fingerprint(&self) -> String {
        let mut mac = self.mac();
        mac.update(b"schema-registry audit key fingerprint");
        hex(&mac.finalize().into_bytes()[..16])
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC pads a key shorter than the hash's block (64 bytes) with zeros; doing it
        // here gives the same MAC through the infallible fixed-size constructor.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        <HmacSha256 as hmac::KeyInit>::new(&block.into())
    }

    /// The hash of an entry that follows `prev_hash`.
    fn seal(&self, prev_hash: &[u8], fields: &EntryFields<'_>) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(&(u32::try_from(prev_hash.len()).unwrap_or(u32::MAX)).to_be_bytes());
        mac.update(prev_hash);
        mac.update(FORMAT_TAG);
        fields.encode(&mut |bytes| mac.update(bytes));
        mac.finalize().into_bytes().to_vec()
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Writes a file only its owner can read.
pub(crate) fn write_secret(path: &Path, content: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // `mode` applies only when the file is created; an existing file keeps its bits.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

/// Microseconds since the epoch, PostgreSQL's precision.
fn micros(time: SystemTime) -> i64 {
    let elapsed = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX)
}

fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or_default())
}

/// Everything an entry says, in the order it is hashed.
#[derive(Debug, Clone, Default)]
struct EntryFields<'a> {
    seq: i64,
    request_id: Option<&'a str>,
    table_schema: Option<&'a str>,
    table_name: Option<&'a str>,
    action: &'a str,
    performed_by: &'a str,
    from_status: Option<&'a str>,
    to_status: Option<&'a str>,
    justification: Option<&'a str>,
    related_issue: Option<&'a str>,
    target: Option<&'a str>,
    sql_executed: Option<&'a str>,
    success: bool,
    error: Option<&'a str>,
    checksum: Option<&'a str>,
    details: Option<&'a str>,
    created_at_micros: i64,
}

impl EntryFields<'_> {
    /// Each field as a presence byte and, when present, a 4-byte length and the bytes, so
    /// no two different entries encode alike.
    fn encode(&self, out: &mut impl FnMut(&[u8])) {
        let mut field = |value: Option<&[u8]>| match value {
            None => out(&[0]),
            Some(bytes) => {
                out(&[1]);
                out(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
                out(bytes);
            }
        };
        let seq = self.seq.to_string();
        let created = self.created_at_micros.to_string();
        field(Some(seq.as_bytes()));
        for text in [self.request_id, self.table_schema, self.table_name] {
            field(text.map(str::as_bytes));
        }
        field(Some(self.action.as_bytes()));
        field(Some(self.performed_by.as_bytes()));
        for text in
            [self.from_status, self.to_status, self.justification, self.related_issue, self.target, self.sql_executed]
        {
            field(text.map(str::as_bytes));
        }
        field(Some(if self.success { b"true" } else { b"false" }));
        for text in [self.error, self.checksum, self.details] {
            field(text.map(str::as_bytes));
        }
        field(Some(created.as_bytes()));
    }
}

/// The columns an entry's hash covers besides its position, in [`EntryFields`] order.
const SEALED_COLUMNS: &str = "request_id::text, table_schema, table_name, action, performed_by, from_status, \
                              to_status, justification, related_issue, target, sql_executed, success, error, \
                              checksum, details, created_at";

/// The fields of the entry at position `seq` from a row holding [`SEALED_COLUMNS`] from
/// column `at` on.
fn entry_fields(row: &Row, at: usize, seq: i64) -> EntryFields<'_> {
    let created_at: SystemTime = row.get(at + 15);
    EntryFields {
        seq,
        request_id: row.get(at),
        table_schema: row.get(at + 1),
        table_name: row.get(at + 2),
        action: row.get(at + 3),
        performed_by: row.get(at + 4),
        from_status: row.get(at + 5),
        to_status: row.get(at + 6),
        justification: row.get(at + 7),
        related_issue: row.get(at + 8),
        target: row.get(at + 9),
        sql_executed: row.get(at + 10),
        success: row.get(at + 11),
        error: row.get(at + 12),
        checksum: row.get(at + 13),
        details: row.get(at + 14),
        created_at_micros: micros(created_at),
    }
}

/// An audit entry to append.
#[derive(Debug, Default)]
pub(crate) struct NewAudit<'a> {
    pub(crate) request_id: Option<&'a str>,
    pub(crate) table_schema: Option<&'a str>,
    pub(crate) table_name: Option<&'a str>,
    pub(crate) action: &'a str,
    pub(crate) performed_by: &'a str,
    pub(crate) from_status: Option<&'a str>,
    pub(crate) to_status: Option<&'a str>,
    pub(crate) justification: Option<&'a str>,
    pub(crate) related_issue: Option<&'a str>,
    pub(crate) target: Option<&'a str>,
    pub(crate) sql_executed: Option<&'a str>,
    pub(crate) success: bool,
    pub(crate) error: Option<&'a str>,
    pub(crate) checksum: Option<&'a str>,
    pub(crate) details: Option<&'a str>,
}

impl NewAudit<'_> {
    /// Appends the entry to the chain inside `transaction` (whose commit releases the
    /// chain's lock).
    pub(crate) async fn insert(
        &self,
        transaction: &tokio_postgres::Transaction<'_>,
        key: &AuditKey,
    ) -> Result<(), StoreError> {
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK]).await?;
        let last = transaction
            .query_opt("SELECT seq, hash FROM registry.audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1", &[])
            .await?;
        let (previous_seq, prev_hash): (i64, Vec<u8>) =
            last.map_or((0, Vec::new()), |row| (row.get(0), row.get::<_, Option<Vec<u8>>>(1).unwrap_or_default()));
        let created_at = micros(SystemTime::now());
        let fields = EntryFields {
            seq: previous_seq + 1,
            request_id: self.request_id,
            table_schema: self.table_schema,
            table_name: self.table_name,
            action: self.action,
            performed_by: self.performed_by,
            from_status: self.from_status,
            to_status: self.to_status,
            justification: self.justification,
            related_issue: self.related_issue,
            target: self.target,
            sql_executed: self.sql_executed,
            success: self.success,
            error: self.error,
            checksum: self.checksum,
            details: self.details,
            created_at_micros: created_at,
        };
        let hash = key.seal(&prev_hash, &fields);
        let prev: Option<&[u8]> = (!prev_hash.is_empty()).then_some(prev_hash.as_slice());
        let params: [&(dyn ToSql + Sync); 19] = [
            &self.request_id,
            &self.table_schema,
            &self.table_name,
            &self.action,
            &self.performed_by,
            &self.from_status,
            &self.to_status,
            &self.justification,
            &self.related_issue,
            &self.target,
            &self.sql_executed,
            &self.success,
            &self.error,
            &self.checksum,
            &self.details,
            &from_micros(created_at),
            &fields.seq,
            &prev,
            &hash,
        ];
        transaction
            .execute(
                "INSERT INTO registry.audit_log (request_id, table_schema, table_name, action, performed_by, from_status,
                     to_status, justification, related_issue, target, sql_executed, success, error, checksum, details,
                     created_at, seq, prev_hash, hash)
                 VALUES ($1::text::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                &params,
            )
            .await?;
        Ok(())
    }
}

/// One audit log entry as read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// The entry's id (the chain's position is its `seq`).
    pub id: i64,
    /// The request concerned, if any.
    pub request_id: Option<String>,
    /// Schema of the table concerned.
    pub table_schema: Option<String>,
    /// Table concerned.
    pub table_name: Option<String>,
    /// `create`, `status`, `apply`, `rollback`, ...
    pub action: String,
    /// The principal.
    pub performed_by: String,
    /// Status before.
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: Option<String>,
    /// Why (the request's justification, or a reviewer's note).
    pub justification: Option<String>,
    /// The related issue.
    pub related_issue: Option<String>,
    /// Target database name for apply and rollback.
    pub target: Option<String>,
    /// SQL that ran, when some did.
    pub sql_executed: Option<String>,
    /// Whether it succeeded.
    pub success: bool,
    /// The error, when it failed.
    pub error: Option<String>,
    /// The checksum of the migration approved or run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// Further facts (JSON), e.g. the row counts of a data-losing rollback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// When (RFC 3339, UTC).
    pub created_at: String,
}

pub(crate) fn audit_columns() -> String {
    format!(
        "id, request_id::text, table_schema, table_name, action, performed_by, from_status, to_status, justification,
         related_issue, target, sql_executed, success, error, checksum, details, {}",
        crate::requests::timestamp_sql("created_at")
    )
}

pub(crate) fn audit_entry(row: &Row) -> AuditEntry {
    let details: Option<String> = row.get(15);
    AuditEntry {
        id: row.get(0),
        request_id: row.get(1),
        table_schema: row.get(2),
        table_name: row.get(3),
        action: row.get(4),
        performed_by: row.get(5),
        from_status: row.get(6),
        to_status: row.get(7),
        justification: row.get(8),
        related_issue: row.get(9),
        target: row.get(10),
        sql_executed: row.get(11),
        success: row.get(12),
        error: row.get(13),
        checksum: row.get(14),
        details: details.map(|text| serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))),
        created_at: row.get(16),
    }
}

/// What [`Store::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerification {
    /// Whether every entry fits the chain.
    pub intact: bool,
    /// Entries in the log.
    pub entries: i64,
    /// The id of the first entry where the chain breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<i64>,
    /// Why it breaks there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The newest entry's hash (hex): record it elsewhere to detect the newest entries
    /// being cut off later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_hash: Option<String>,
}

/// Walks the chain through `client` (any role that may read the audit log).
pub async fn verify(client: &tokio_postgres::Client, key: &AuditKey) -> Result<AuditVerification, StoreError> {
    let entries: i64 = client.query_one("SELECT count(*) FROM registry.audit_log", &[]).await?.get(0);
    let broken = |id: i64, reason: String| AuditVerification {
        intact: false,
        entries,
        first_broken: Some(id),
        reason: Some(reason),
        last_hash: None,
    };
    // An entry without a position was never appended by a server.
    if let Some(row) =
        client.query_opt("SELECT min(id) FROM registry.audit_log WHERE seq IS NULL HAVING count(*) > 0", &[]).await?
    {
        let id: i64 = row.get(0);
        return Ok(broken(id, format!("entry {id} has no place in the chain: it was inserted out of band")));
    }
    let mut expected_seq = 1i64;
    let mut prev_hash: Vec<u8> = Vec::new();
    loop {
        let rows = client
            .query(
                &format!(
                    "SELECT id, seq, prev_hash, hash, {SEALED_COLUMNS}
                     FROM registry.audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2"
                ),
                &[&expected_seq, &VERIFY_BATCH],
            )
            .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let id: i64 = row.get(0);
            let seq: i64 = row.get(1);
            if seq != expected_seq {
                return Ok(broken(
                    id,
                    format!(
                        "entries {expected_seq} to {} of the chain are missing before entry {id}: deleted",
                        seq - 1
                    ),
                ));
            }
            let stored_prev: Option<Vec<u8>> = row.get(2);
            if stored_prev.unwrap_or_default() != prev_hash {
                return Ok(broken(id, format!("entry {id} does not follow the entry before it in the chain")));
            }
            let fields = entry_fields(row, 4, seq);
            let stored: Option<Vec<u8>> = row.get(3);
            let stored = stored.unwrap_or_default();
            if key.seal(&prev_hash, &fields) != stored {
                return Ok(broken(
                    id,
                    format!("entry {id} was changed after it was written (its hash does not match)"),
                ));
            }
            prev_hash = stored;
            expected_seq += 1;
        }
    }
    Ok(AuditVerification {
        intact: true,
        entries,
        first_broken: None,
        reason: None,
        last_hash: (!prev_hash.is_empty()).then(|| hex(&prev_hash)),
    })
}

/// Whether entry `id` still fits the chain where it sits: its hash is the HMAC of its
/// content after its predecessor's hash. (A full walk is [`verify`]; this checks the one
/// entry an apply relies on, the approval.)
pub(crate) async fn entry_is_sealed(
    client: &impl tokio_postgres::GenericClient,
    key: &AuditKey,
    id: i64,
) -> Result<bool, StoreError> {
    let Some(row) = client
        .query_opt(
            &format!(
                "SELECT e.seq, e.prev_hash, e.hash, (SELECT p.hash FROM registry.audit_log p WHERE p.seq = e.seq - 1),
                        {SEALED_COLUMNS}
                 FROM registry.audit_log e WHERE e.id = $1"
            ),
            &[&id],
        )
        .await?
    else {
        return Ok(false);
    };
    let Some(seq) = row.get::<_, Option<i64>>(0) else {
        return Ok(false);
    };
    let prev_hash: Vec<u8> = row.get::<_, Option<Vec<u8>>>(1).unwrap_or_default();
    let predecessor: Vec<u8> = row.get::<_, Option<Vec<u8>>>(3).unwrap_or_default();
    if prev_hash != predecessor {
        return Ok(false);
    }
    let fields = entry_fields(&row, 4, seq);
    let stored: Vec<u8> = row.get::<_, Option<Vec<u8>>>(2).unwrap_or_default();
    Ok(key.seal(&prev_hash, &fields) == stored)
}

/// Seals entries written before the chain existed (no `seq`) into it, in id order, and
/// records the key's fingerprint. Run by the schema owner inside the migration
/// transaction, with the log's append-only trigger lifted for exactly that update.
pub(crate) async fn seal_unsealed(
    transaction: &tokio_postgres::Transaction<'_>,
    key: &AuditKey,
) -> Result<u64, StoreError> {
    let unsealed: i64 =
        transaction.query_one("SELECT count(*) FROM registry.audit_log WHERE seq IS NULL", &[]).await?.get(0);
    if unsealed == 0 {
        return Ok(0);
    }
    let sealed: i64 =
        transaction.query_one("SELECT count(*) FROM registry.audit_log WHERE seq IS NOT NULL", &[]).await?.get(0);
    if sealed > 0 {
        // Entries without a place after the chain began were not written by a server:
        // sealing them would launder them. Leave them for `verify` to report.
        return Ok(0);
    }
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK]).await?;
    transaction.batch_execute("ALTER TABLE registry.audit_log DISABLE TRIGGER audit_log_no_update_or_delete").await?;
    let rows =
        transaction.query(&format!("SELECT id, {SEALED_COLUMNS} FROM registry.audit_log ORDER BY id"), &[]).await?;
    let mut prev_hash: Vec<u8> = Vec::new();
    let mut count = 0;
    for (seq, row) in (1i64..).zip(&rows) {
        let fields = entry_fields(row, 1, seq);
        let hash = key.seal(&prev_hash, &fields);
        let id: i64 = row.get(0);
        let prev: Option<&[u8]> = (!prev_hash.is_empty()).then_some(prev_hash.as_slice());
        transaction
            .execute(
                "UPDATE registry.audit_log SET seq = $2, prev_hash = $3, hash = $4 WHERE id = $1",
                &[&id, &seq, &prev, &hash],
            )
            .await?;
        prev_hash = hash;
        count += 1;
    }
    transaction.batch_execute("ALTER TABLE registry.audit_log ENABLE TRIGGER audit_log_no_update_or_delete").await?;
    Ok(count)
}

/// Records `key`'s fingerprint as the chain's key, or checks it against the one recorded.
pub(crate) async fn check_key(client: &impl tokio_postgres::GenericClient, key: &AuditKey) -> Result<(), StoreError> {
    let fingerprint = key.fingerprint();
    client
        .execute(
            "INSERT INTO registry.audit_key (id, fingerprint) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&fingerprint],
        )
        .await?;
    let recorded: String =
        client.query_one("SELECT fingerprint FROM registry.audit_key WHERE id = 1", &[]).await?.get(0);
    if recorded == fingerprint { Ok(()) } else { Err(StoreError::AuditKeyMismatch { recorded, given: fingerprint }) }
}

impl Store {
    /// Walks the whole audit chain (see the module docs).
    pub async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let client = self.client().await?;
        verify(&client, &self.inner.audit_key).await
    }

    /// A request's audit history, oldest first.
    pub async fn request_audit(&self, id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let id = parse_id(id)?;
        let client = self.client().await?;
        crate::requests::fetch(crate::store::raw(&client), id).await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {} FROM registry.audit_log WHERE request_id = $1::text::uuid ORDER BY id",
                    audit_columns()
                ),
                &[&id],
            )
            .await?;
        Ok(rows.iter().map(audit_entry).collect())
    }

    /// A table's audit history across all its requests, oldest first.
    pub async fn table_audit(&self, schema: &str, table: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {} FROM registry.audit_log WHERE table_schema = $1 AND table_name = $2 ORDER BY id",
                    audit_columns()
                ),
                &[&schema, &table],
            )
            .await?;
        Ok(rows.iter().map(audit_entry).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_separates_fields_and_the_key_matters() {
        let key = AuditKey::from_bytes([7; 32]);
        let a = EntryFields { seq: 1, action: "create", performed_by: "ab", ..EntryFields::default() };
        let b = EntryFields { seq: 1, action: "createa", performed_by: "b", ..EntryFields::default() };
        assert_ne!(key.seal(&[], &a), key.seal(&[], &b), "field boundaries are part of the hash");
        let none = EntryFields { error: None, ..a.clone() };
        let empty = EntryFields { error: Some(""), ..a.clone() };
        assert_ne!(key.seal(&[], &none), key.seal(&[], &empty), "absent differs from empty");
        assert_ne!(key.seal(&[], &a), key.seal(&[1], &a), "the previous hash is part of the hash");
        assert_ne!(key.seal(&[], &a), AuditKey::from_bytes([8; 32]).seal(&[], &a), "so is the key");
        assert_eq!(key.seal(&[], &a).len(), 32);
    }

    #[test]
    fn the_padded_key_is_standard_hmac() {
        // RFC 4231 test case 2 has a short key; zero-padding must not change the MAC.
        let mut padded = [0u8; 32];
        padded[..4].copy_from_slice(b"Jefe");
        let mut ours = AuditKey::from_bytes(padded).mac();
        ours.update(b"what do ya want for nothing?");
        let mut reference = <HmacSha256 as hmac::KeyInit>::new_from_slice(&padded).unwrap();
        reference.update(b"what do ya want for nothing?");
        assert_eq!(ours.finalize().into_bytes(), reference.finalize().into_bytes());
    }

    #[test]
    fn keys_round_trip_through_hex() {
        let key = AuditKey::from_bytes([0xab; 32]);
        assert_eq!(AuditKey::from_hex(&hex(&key.0)).ok(), Some(key.clone()));
        assert!(AuditKey::from_hex("xyz").is_err());
        assert!(AuditKey::from_hex(&"g".repeat(64)).is_err());
        assert_eq!(key.fingerprint().len(), 32);
        assert!(!format!("{key:?}").contains("abab"), "Debug never shows the key");
    }
}
