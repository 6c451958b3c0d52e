-- Applies and rollbacks under faults: a lease per request instead of a long transaction.
--
-- An apply or rollback claims its request here in a short transaction before it touches
-- the target, keeps the claim alive while it works, and releases it in the transaction that
-- records the outcome. The target's history table is the fact of what ran; a lease left
-- behind (the process died, the registry failed between the target's commit and its own,
-- the COMMIT's answer was lost) is settled from that history by the next apply or rollback
-- of the request, by a status change, or by the server's reconciliation.
CREATE TABLE registry.operations (
    request_id    uuid PRIMARY KEY
                  CONSTRAINT fk_operations_request_id_schema_requests REFERENCES registry.schema_requests (id),
    target        text NOT NULL,
    action        text NOT NULL CONSTRAINT ck_operations_action CHECK (action IN ('apply', 'rollback')),
    -- The process running it (a random id per start), and the principal who asked.
    holder        text NOT NULL,
    performed_by  text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    -- Renewed while the holder works; past it, the lease is abandoned.
    deadline      timestamptz NOT NULL,
    -- Why the holder could not record its outcome, kept for the audit entry that settles it.
    last_error    text,
    -- What recording the outcome needs besides the request (a data-losing rollback's
    -- confirmation and approval).
    details       jsonb
);
