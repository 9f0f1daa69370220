-- Member organizations (the members feature adds tiers, status history and dues to this table).
CREATE TABLE members (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- People who sign in. Email is stored lower-cased; password_hash is an argon2id PHC string.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    status TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    member_id BIGINT REFERENCES members (id),
    totp_secret TEXT,
    totp_enabled_at TIMESTAMP,
    totp_last_step BIGINT,
    password_changed_at TIMESTAMP,
    last_login_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX users_member_id ON users (member_id);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('member_rep', 'treasurer', 'council', 'admin')),
    granted_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (user_id, role)
);

-- Server-side sessions; the cookie holds a random id, the table its SHA-256.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    second_factor_pending BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Personal API tokens, stored hashed; `prefix` lets a person tell them apart.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- Single-use links (invitation, password reset, ...), stored hashed.
CREATE TABLE one_time_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX one_time_tokens_user_id ON one_time_tokens (user_id, purpose);

CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX recovery_codes_user_id ON recovery_codes (user_id);

-- Fixed-window counters for rate limits, shared by every instance.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, key, window_start)
);

-- Failed sign-ins per email address (hashed), for growing back-off. Keyed by the address typed, whether or
-- not an account has it, so that the answer never tells which addresses have accounts.
CREATE TABLE sign_in_failures (
    key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

-- Who did what to which entity, when, from where. Append-only: rows are never updated or deleted.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_user_id BIGINT REFERENCES users (id),
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id TEXT,
    ip TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_target ON audit_events (target_type, target_id);
