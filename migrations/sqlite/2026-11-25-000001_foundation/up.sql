-- Foundation-wide settings (name, locale, ...), one row per key.
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- What the foundation spends on: a handful of long-lived priorities, each with key outcomes.
CREATE TABLE funding_priorities (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    position INTEGER NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE key_outcomes (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    priority_id BIGINT NOT NULL REFERENCES funding_priorities (id) ON DELETE CASCADE,
    description TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE INDEX key_outcomes_priority_id ON key_outcomes (priority_id, position);
