-- The registry's own schema: requests, their migrations and where they were applied,
-- the append-only audit log, principals and hashed API tokens, and a normalized catalog
-- of the tables the registry manages (seed 000's shape: databases, tables, versions,
-- columns, indexes, constraints).

CREATE TABLE registry.principals (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CONSTRAINT uq_principals_name UNIQUE,
    role        text NOT NULL CONSTRAINT ck_principals_role CHECK (role IN ('requester', 'reviewer', 'operator', 'admin')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE registry.api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    principal_id  bigint NOT NULL CONSTRAINT fk_api_tokens_principal_id_principals REFERENCES registry.principals (id) ON DELETE CASCADE,
    name          text NOT NULL CONSTRAINT uq_api_tokens_name UNIQUE,
    -- sha256 of the token; the token itself is shown once and never stored.
    token_hash    bytea NOT NULL CONSTRAINT uq_api_tokens_token_hash UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX idx_api_tokens_principal_id ON registry.api_tokens (principal_id);

CREATE TABLE registry.schema_requests (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    table_schema   text NOT NULL,
    table_name     text NOT NULL,
    owner          text,
    requested_by   text NOT NULL,
    request        jsonb NOT NULL,
    status         text NOT NULL CONSTRAINT ck_schema_requests_status
                   CHECK (status IN ('draft', 'requested', 'approved', 'migrated', 'rejected')),
    violations     jsonb NOT NULL,
    -- Optimistic locking: every status change bumps it.
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_schema_requests_created_at ON registry.schema_requests (created_at DESC, id);
CREATE INDEX idx_schema_requests_status_created_at ON registry.schema_requests (status, created_at DESC, id);
CREATE INDEX idx_schema_requests_table ON registry.schema_requests (table_schema, table_name);

CREATE TABLE registry.migrations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id  uuid NOT NULL CONSTRAINT uq_migrations_request_id UNIQUE
                CONSTRAINT fk_migrations_request_id_schema_requests REFERENCES registry.schema_requests (id),
    file_name   text NOT NULL,
    up_sql      text NOT NULL,
    down_sql    text NOT NULL,
    -- sha256 of up and down, hex; a target's history row must carry the same.
    checksum    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE registry.databases (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CONSTRAINT uq_databases_name UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE registry.migration_applications (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_id    bigint NOT NULL CONSTRAINT fk_migration_applications_migration_id_migrations REFERENCES registry.migrations (id),
    database_id     bigint NOT NULL CONSTRAINT fk_migration_applications_database_id_databases REFERENCES registry.databases (id),
    applied_by      text NOT NULL,
    applied_at      timestamptz NOT NULL DEFAULT now(),
    rolled_back_by  text,
    rolled_back_at  timestamptz
);
-- At most one live application of a migration per database.
CREATE UNIQUE INDEX uq_migration_applications_live ON registry.migration_applications (migration_id, database_id)
    WHERE rolled_back_at IS NULL;
CREATE INDEX idx_migration_applications_database_id ON registry.migration_applications (database_id);

CREATE TABLE registry.audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id     uuid CONSTRAINT fk_audit_log_request_id_schema_requests REFERENCES registry.schema_requests (id),
    table_schema   text,
    table_name     text,
    action         text NOT NULL,
    performed_by   text NOT NULL,
    from_status    text,
    to_status      text,
    justification  text,
    related_issue  text,
    target         text,
    sql_executed   text,
    success        boolean NOT NULL,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX idx_audit_log_request_id ON registry.audit_log (request_id, id);
CREATE INDEX idx_audit_log_table ON registry.audit_log (table_schema, table_name, id);

CREATE FUNCTION registry.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'registry.audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON registry.audit_log
    FOR EACH ROW EXECUTE FUNCTION registry.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON registry.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION registry.audit_log_is_append_only();

CREATE TABLE registry.tables (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database_id      bigint NOT NULL CONSTRAINT fk_tables_database_id_databases REFERENCES registry.databases (id),
    schema_name      text NOT NULL,
    name             text NOT NULL,
    current_version  integer,
    -- Set when the table's last migration was rolled back.
    dropped_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_tables_database_id_schema_name_name UNIQUE (database_id, schema_name, name)
);

CREATE TABLE registry.table_versions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_id    bigint NOT NULL CONSTRAINT fk_table_versions_table_id_tables REFERENCES registry.tables (id),
    version     integer NOT NULL,
    request_id  uuid NOT NULL CONSTRAINT fk_table_versions_request_id_schema_requests REFERENCES registry.schema_requests (id),
    definition  jsonb NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_table_versions_table_id_version UNIQUE (table_id, version)
);
CREATE INDEX idx_table_versions_request_id ON registry.table_versions (request_id);

CREATE TABLE registry.columns (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_version_id  bigint NOT NULL CONSTRAINT fk_columns_table_version_id_table_versions REFERENCES registry.table_versions (id),
    position          integer NOT NULL,
    name              text NOT NULL,
    data_type         text NOT NULL,
    not_null          boolean NOT NULL,
    default_value     text,
    comment           text,
    CONSTRAINT uq_columns_table_version_id_position UNIQUE (table_version_id, position)
);

CREATE TABLE registry.indexes (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_version_id  bigint NOT NULL CONSTRAINT fk_indexes_table_version_id_table_versions REFERENCES registry.table_versions (id),
    name              text NOT NULL,
    method            text NOT NULL,
    columns           text[] NOT NULL,
    is_unique         boolean NOT NULL,
    predicate         text,
    include           text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_indexes_table_version_id ON registry.indexes (table_version_id);

CREATE TABLE registry.constraints (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_version_id  bigint NOT NULL CONSTRAINT fk_constraints_table_version_id_table_versions REFERENCES registry.table_versions (id),
    name              text NOT NULL,
    kind              text NOT NULL CONSTRAINT ck_constraints_kind CHECK (kind IN ('primary key', 'foreign key', 'unique', 'check')),
    columns           text[] NOT NULL,
    definition        text NOT NULL
);
CREATE INDEX idx_constraints_table_version_id ON registry.constraints (table_version_id);
