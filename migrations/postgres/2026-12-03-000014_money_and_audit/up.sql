-- Audit log as evidence: each event carries a SHA-256 hash chained over the previous event's hash and its own
-- content (`audit::service::record`); events written before this migration have none. Like the ledger, the
-- log refuses UPDATE and DELETE in the database itself.
ALTER TABLE audit_events ADD COLUMN hash TEXT;

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- Idempotency keys of money POSTs in the API: the hash of (caller, route, key), the hash of the request body,
-- and the answer given, kept 24 hours (`web::idempotency`).
CREATE TABLE idempotency_keys (
    key_hash TEXT PRIMARY KEY NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
