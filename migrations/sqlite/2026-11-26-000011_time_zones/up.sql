-- Each person's time zone (an IANA name): pages show times in it. Stored times stay UTC.
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
