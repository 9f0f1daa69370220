-- Progress reports. A report's row exists from the moment anyone writes its foreword (or it is generated);
-- its content is frozen, as JSON, when it is generated, so the archive shows exactly what was sent even after
-- later corrections. The emails themselves are the outbox rows keyed 'report:<period>:user:<id>'.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- 2026-Q3 (quarter), 2026-H2 (half year) or 2026-09 (month).
    period TEXT NOT NULL UNIQUE,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    -- The shared content, frozen at generation; NULL until then.
    content TEXT,
    foreword TEXT NOT NULL DEFAULT '',
    -- "What we changed because of your feedback", written by the council.
    changes TEXT NOT NULL DEFAULT '',
    generated_at TIMESTAMP,
    generated_by BIGINT REFERENCES users (id),
    sent_at TIMESTAMP,
    sent_by BIGINT REFERENCES users (id),
    -- Emails queued for this report, over every send.
    recipients INTEGER NOT NULL DEFAULT 0,
    -- Shown (without anything personal) on the public transparency page and in its feed.
    published BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (ends_on >= starts_on),
    CHECK (sent_at IS NULL OR content IS NOT NULL)
);

-- Each member organization's personal section, frozen with the report.
CREATE TABLE report_members (
    report_id BIGINT NOT NULL REFERENCES reports (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    content TEXT NOT NULL,
    PRIMARY KEY (report_id, member_id)
);

-- What the public transparency page may show; nothing is public until marked.
ALTER TABLE funding_priorities ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE initiatives ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE metrics ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;
