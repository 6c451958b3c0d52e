-- The audit log becomes a hash chain: every entry carries its position (seq), the hash of
-- the entry before it and its own hash, an HMAC-SHA-256 computed by the server with a key
-- the database never sees. An entry edited, deleted or inserted out of band (by anyone,
-- a superuser included) breaks the chain where it happened; `registry-server audit verify`
-- finds it. Entries written before this migration are sealed into the chain by the
-- server right after it (see schema.rs).

ALTER TABLE registry.audit_log
    ADD COLUMN seq        bigint,
    ADD COLUMN prev_hash  bytea,
    ADD COLUMN hash       bytea,
    -- The checksum of the migration an approval approved or an apply ran.
    ADD COLUMN checksum   text,
    -- Further facts as JSON text, kept verbatim as hashed (row counts of a data-losing rollback, ...).
    ADD COLUMN details    text;
CREATE UNIQUE INDEX uq_audit_log_seq ON registry.audit_log (seq);
-- The server sets the time: it is part of what is hashed.
ALTER TABLE registry.audit_log ALTER COLUMN created_at DROP DEFAULT;

-- Which key sealed the chain, as a fingerprint (an HMAC of a fixed text), so that a server
-- started with another key refuses to run instead of sealing a chain nobody can verify.
CREATE TABLE registry.audit_key (
    id           integer PRIMARY KEY CONSTRAINT ck_audit_key_single CHECK (id = 1),
    fingerprint  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
