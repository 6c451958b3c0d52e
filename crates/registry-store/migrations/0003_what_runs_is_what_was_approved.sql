-- What was approved is what runs, and what runs is what was asked for.
--
-- A migration keeps the inputs its SQL was generated with (naming options, enum types it
-- shares), so an apply can generate it again from the stored request and compare, and the
-- table PostgreSQL made of it in the rehearsal, so an apply can compare the live table with
-- it before COMMIT. A request keeps the target it is for.

ALTER TABLE registry.migrations
    ADD COLUMN generation  jsonb,
    ADD COLUMN expected    jsonb;

ALTER TABLE registry.schema_requests ADD COLUMN target text;

-- A rollback that would lose data runs only with an operator's confirmation and a
-- reviewer's approval, two different principals; this holds the confirmation until then.
CREATE TABLE registry.rollback_approvals (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    uuid NOT NULL CONSTRAINT fk_rollback_approvals_request_id_schema_requests
                  REFERENCES registry.schema_requests (id),
    target        text NOT NULL,
    confirmed_by  text NOT NULL,
    confirmed_at  timestamptz NOT NULL DEFAULT now(),
    -- Rows that would be lost, as counted at confirmation: {"public.t": 1000}.
    data_at_risk  jsonb NOT NULL,
    approved_by   text,
    approved_at   timestamptz,
    CONSTRAINT ck_rollback_approvals_two_principals CHECK (approved_by IS NULL OR approved_by <> confirmed_by)
);
-- One open confirmation per request and target.
CREATE UNIQUE INDEX uq_rollback_approvals_open ON registry.rollback_approvals (request_id, target)
    WHERE approved_at IS NULL;
