-- Community health: the repositories the foundation measures, who maintains them and when, what the
-- collector fetched from GitHub (or imported from files), coverage reports, and which metric each computed
-- series feeds.
CREATE TABLE repositories (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    subproject TEXT NOT NULL DEFAULT '',
    priority_id BIGINT REFERENCES funding_priorities (id),
    -- Excluded repositories (archived, documentation only) are kept but count nowhere.
    included BOOLEAN NOT NULL DEFAULT TRUE,
    exclusion_reason TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (owner, name),
    CHECK (included OR exclusion_reason <> '')
);

-- Who maintained a repository and when: a contribution counts as a maintainer's only within these dates.
CREATE TABLE repository_maintainers (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    repository_id BIGINT NOT NULL REFERENCES repositories (id),
    login TEXT NOT NULL,
    since DATE NOT NULL,
    until DATE,
    source TEXT NOT NULL CHECK (source IN ('manual', 'file', 'team')),
    created_at TIMESTAMP NOT NULL,
    CHECK (until IS NULL OR until >= since)
);
CREATE INDEX repository_maintainers_repository ON repository_maintainers (repository_id, login);

-- One collection from GitHub or one import of files. Items are stored as they arrive, with the cursor (the
-- next page of each repository and endpoint, as JSON) in the same transaction, so an interrupted run
-- resumes; observations are written only when the run commits, all at once.
CREATE TABLE collector_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('github', 'import')),
    status TEXT NOT NULL CHECK (status IN ('running', 'committed', 'failed')),
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    -- Only items updated since then are fetched (the start of the last committed run).
    since TIMESTAMP,
    cursor TEXT NOT NULL DEFAULT '{}',
    items INTEGER NOT NULL DEFAULT 0,
    -- Items left out and why, as JSON: [{"repository": ..., "item": ..., "reason": ...}].
    skipped TEXT NOT NULL DEFAULT '[]',
    observations INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    started_by BIGINT REFERENCES users (id)
);

-- Pull requests, issues, comments, releases and advisories, one row per repository, kind and GitHub id, so
-- collecting again updates rather than duplicates.
CREATE TABLE community_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    repository_id BIGINT NOT NULL REFERENCES repositories (id),
    kind TEXT NOT NULL CHECK (kind IN ('pull_request', 'issue', 'comment', 'release', 'advisory')),
    github_id BIGINT NOT NULL,
    -- The pull request or issue number; for a comment, the number of what it comments on.
    number BIGINT,
    author TEXT NOT NULL DEFAULT '',
    -- Opened, written or published.
    occurred_at TIMESTAMP NOT NULL,
    -- A pull request's merge.
    merged_at TIMESTAMP,
    -- Release tag, advisory GHSA id, or title.
    title TEXT NOT NULL DEFAULT '',
    -- Advisory: the patched versions, comma separated; release: 'draft' or 'prerelease' when so.
    detail TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    run_id BIGINT REFERENCES collector_runs (id),
    UNIQUE (repository_id, kind, github_id)
);
CREATE INDEX community_items_kind ON community_items (kind, occurred_at);

-- Line coverage of a repository on a date, from a Cobertura or LCOV report.
CREATE TABLE coverage_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    repository_id BIGINT NOT NULL REFERENCES repositories (id),
    measured_on DATE NOT NULL,
    lines_covered BIGINT NOT NULL CHECK (lines_covered >= 0),
    lines_valid BIGINT NOT NULL CHECK (lines_valid > 0),
    format TEXT NOT NULL CHECK (format IN ('cobertura', 'lcov')),
    filename TEXT NOT NULL DEFAULT '',
    run_id BIGINT REFERENCES collector_runs (id),
    UNIQUE (repository_id, measured_on),
    CHECK (lines_covered <= lines_valid)
);

-- Which computed series feeds a metric: the series, its scope ('overall', 'subproject:NAME',
-- 'repository:OWNER/NAME') and its period (month or quarter).
CREATE TABLE community_metric_links (
    metric_id BIGINT PRIMARY KEY NOT NULL REFERENCES metrics (id),
    series TEXT NOT NULL,
    scope TEXT NOT NULL,
    period TEXT NOT NULL CHECK (period IN ('month', 'quarter')),
    created_at TIMESTAMP NOT NULL
);

-- Computed series are written as observations with the source 'collector' and the run id as the label.
-- SQLite cannot change a CHECK constraint: rename the table (the self-reference follows the rename), build
-- it again with the wider check, copy every row, drop the old one and recreate its indexes.
ALTER TABLE metric_observations RENAME TO metric_observations_old;
CREATE TABLE metric_observations (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    metric_id BIGINT NOT NULL REFERENCES metrics (id),
    observed_on DATE NOT NULL,
    value_milli BIGINT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('manual', 'api', 'import', 'survey', 'collector')),
    source_label TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    recorded_by BIGINT REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL,
    superseded_at TIMESTAMP,
    superseded_by BIGINT REFERENCES metric_observations (id)
);
INSERT INTO metric_observations (id, metric_id, observed_on, value_milli, source, source_label, note, recorded_by,
    recorded_at, superseded_at, superseded_by)
SELECT id, metric_id, observed_on, value_milli, source, source_label, note, recorded_by, recorded_at,
    superseded_at, superseded_by FROM metric_observations_old;
DROP TABLE metric_observations_old;
CREATE UNIQUE INDEX metric_observations_one_current
    ON metric_observations (metric_id, observed_on, source) WHERE superseded_at IS NULL;
CREATE INDEX metric_observations_metric_date ON metric_observations (metric_id, observed_on);
