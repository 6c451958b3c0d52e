-- Changes to living tables: change requests against a base version, the steps they run,
-- compatibility levels, adopted tables.

-- A request creates a table, or changes the current version of one the registry manages.
ALTER TABLE registry.schema_requests
    ADD COLUMN kind text NOT NULL DEFAULT 'create' CONSTRAINT ck_schema_requests_kind CHECK (kind IN ('create', 'alter')),
    -- The version a change was planned against; an apply refuses when the table moved on.
    ADD COLUMN base_version integer,
    ADD CONSTRAINT ck_schema_requests_base_version CHECK ((kind = 'alter') = (base_version IS NOT NULL));

-- A change's steps (up and back, each with its transaction mode) and its changes, as
-- planned at submission; an apply plans them again from the stored inputs and compares.
ALTER TABLE registry.migrations
    ADD COLUMN steps jsonb,
    ADD COLUMN changes jsonb;

-- Each version: its compatibility level, and whether it came from a request or from
-- adopting a table that existed before the registry.
ALTER TABLE registry.table_versions
    ALTER COLUMN request_id DROP NOT NULL,
    ADD COLUMN compatibility text NOT NULL DEFAULT 'BACKWARD'
        CONSTRAINT ck_table_versions_compatibility CHECK (compatibility IN ('NONE', 'BACKWARD', 'FORWARD', 'FULL')),
    ADD COLUMN adopted_by text,
    ADD COLUMN generation jsonb,
    ADD CONSTRAINT ck_table_versions_origin CHECK ((request_id IS NULL) = (adopted_by IS NOT NULL));
