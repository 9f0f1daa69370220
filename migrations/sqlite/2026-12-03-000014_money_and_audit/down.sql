DROP TABLE idempotency_keys;
DROP TRIGGER audit_events_no_update;
DROP TRIGGER audit_events_no_delete;
ALTER TABLE audit_events DROP COLUMN hash;
