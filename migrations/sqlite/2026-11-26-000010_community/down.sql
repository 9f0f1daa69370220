UPDATE metric_observations SET superseded_by = NULL WHERE superseded_by IN (SELECT id FROM metric_observations WHERE source = 'collector');
-- SQLite cannot change a CHECK constraint: rename the table (the self-reference follows the rename), build
-- it again with the wider check, copy every row, drop the old one and recreate its indexes.
ALTER TABLE metric_observations RENAME TO metric_observations_old;
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
INSERT INTO metric_observations (id, metric_id, observed_on, value_milli, source, source_label, note, recorded_by,
    recorded_at, superseded_at, superseded_by)
SELECT id, metric_id, observed_on, value_milli, source, source_label, note, recorded_by, recorded_at,
    superseded_at, superseded_by FROM metric_observations_old WHERE source <> 'collector';
DROP TABLE metric_observations_old;
CREATE UNIQUE INDEX metric_observations_one_current
    ON metric_observations (metric_id, observed_on, source) WHERE superseded_at IS NULL;
CREATE INDEX metric_observations_metric_date ON metric_observations (metric_id, observed_on);
DROP TABLE community_metric_links;
DROP TABLE coverage_reports;
DROP TABLE community_items;
DROP TABLE collector_runs;
DROP TABLE repository_maintainers;
DROP TABLE repositories;
