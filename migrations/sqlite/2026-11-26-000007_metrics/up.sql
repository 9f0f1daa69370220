-- Outcome metrics: what the foundation measures to know whether its money moves its key outcomes. Values are
-- exact decimals held as thousandths (value_milli = value x 1000), never floating point.
CREATE TABLE metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL CHECK (unit IN ('count', 'percent', 'days', 'money', 'score')),
    direction TEXT NOT NULL CHECK (direction IN ('higher', 'lower')),
    priority_id BIGINT REFERENCES funding_priorities (id),
    key_outcome_id BIGINT REFERENCES key_outcomes (id),
    baseline_milli BIGINT NOT NULL,
    baseline_on DATE NOT NULL,
    target_milli BIGINT NOT NULL,
    target_on DATE NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('manual', 'import', 'survey')),
    -- For a survey-fed metric: the question and how its answers become one value (surveys fill this in).
    survey_question_id BIGINT,
    survey_aggregate TEXT CHECK (survey_aggregate IS NULL OR survey_aggregate IN ('mean', 'nps', 'share_agreeing')),
    expected_interval_days INTEGER NOT NULL CHECK (expected_interval_days > 0),
    scope_notes TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (target_on > baseline_on)
);
CREATE INDEX metrics_priority ON metrics (priority_id);

-- Which initiatives a metric measures.
CREATE TABLE metric_initiatives (
    metric_id BIGINT NOT NULL REFERENCES metrics (id),
    initiative_id BIGINT NOT NULL REFERENCES initiatives (id),
    PRIMARY KEY (metric_id, initiative_id)
);

-- Dated values with where they came from. A correction adds a new row and marks the old one superseded,
-- so the history keeps both.
CREATE TABLE metric_observations (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    metric_id BIGINT NOT NULL REFERENCES metrics (id),
    observed_on DATE NOT NULL,
    value_milli BIGINT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('manual', 'api', 'import', 'survey')),
    source_label TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    recorded_by BIGINT REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL,
    superseded_at TIMESTAMP,
    superseded_by BIGINT REFERENCES metric_observations (id)
);
CREATE UNIQUE INDEX metric_observations_one_current
    ON metric_observations (metric_id, observed_on, source) WHERE superseded_at IS NULL;
CREATE INDEX metric_observations_metric_date ON metric_observations (metric_id, observed_on);
