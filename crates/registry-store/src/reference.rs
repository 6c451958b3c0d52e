//! The reference workload the benchmarks compare against: pgbench running the essential
//! database work of a request submission in one transaction, on the same server: the request
//! row, then the audit entry appended to the chain (the chain's advisory lock, the next
//! position, the entry with a hash). Shared by the store and HTTP benchmarks so both measure
//! against the same thing.

use std::path::Path;
use std::process::Command;

use pg_cluster::find_bin_dir;

/// The pgbench script for one submission of `request_json` (the request as JSON).
pub fn pgbench_script(request_json: &str) -> String {
    let request = request_json.replace('\'', "''");
    let lock = crate::audit::AUDIT_LOCK;
    format!(
        "BEGIN;\n\
         INSERT INTO registry.schema_requests (table_schema, table_name, owner, requested_by, request, status, violations) \
         VALUES ('public', 'caricatures', 'omega-bot', 'pgbench', '{request}'::jsonb, 'requested', '[]'::jsonb);\n\
         SELECT pg_advisory_xact_lock({lock});\n\
         SELECT coalesce(max(seq), 0) + 1 AS next FROM registry.audit_log \\gset\n\
         INSERT INTO registry.audit_log (table_schema, table_name, action, performed_by, to_status, justification, related_issue, success, created_at, seq, hash) \
         VALUES ('public', 'caricatures', 'create', 'pgbench', 'requested', 'Store user caricature images', '676', true, clock_timestamp(), :next, sha256('entry'::bytea));\n\
         END;\n"
    )
}

/// Runs pgbench with `script` against `host:port/database` (`host` may be a socket
/// directory) as `postgres` for `seconds`
/// with `clients` connections (at most 2 threads), and returns its transactions per second.
pub fn pgbench_tps(
    host: &str,
    port: u16,
    database: &str,
    clients: usize,
    seconds: u64,
    script: &Path,
) -> Result<f64, String> {
    let bin = find_bin_dir().map_err(|e| e.to_string())?;
    let output = Command::new(bin.join("pgbench"))
        .args(["-n", "-h", host, "-p", &port.to_string(), "-U", "postgres", "-T", &seconds.to_string()])
        .args(["-c", &clients.to_string(), "-j", &clients.clamp(1, 2).to_string(), "-f"])
        .arg(script)
        .arg(database)
        .output()
        .map_err(|e| format!("cannot run pgbench: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("pgbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr)));
    }
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = ")?.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no tps in pgbench's output: {stdout}"))
}
