-- Every email Steward sends, written in the transaction of the change that causes it and delivered by a
-- worker after commit. `idempotency_key` makes enqueuing the same message twice a no-op.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    to_address TEXT NOT NULL,
    to_name TEXT,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    locked_by TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_user_id ON outbox (user_id);

-- Which bulk mail a person wants; security mail (invitations, resets) always goes.
CREATE TABLE email_preferences (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reports BOOLEAN NOT NULL DEFAULT 1,
    reminders BOOLEAN NOT NULL DEFAULT 1,
    surveys BOOLEAN NOT NULL DEFAULT 1,
    updated_at TIMESTAMP NOT NULL
);
