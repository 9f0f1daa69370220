UPDATE metric_observations SET superseded_by = NULL WHERE superseded_by IN (SELECT id FROM metric_observations WHERE source = 'collector');
DELETE FROM metric_observations WHERE source = 'collector';
ALTER TABLE metric_observations DROP CONSTRAINT metric_observations_source_check;
ALTER TABLE metric_observations ADD CONSTRAINT metric_observations_source_check
    CHECK (source IN ('manual', 'api', 'import', 'survey'));
DROP TABLE community_metric_links;
DROP TABLE coverage_reports;
DROP TABLE community_items;
DROP TABLE collector_runs;
DROP TABLE repository_maintainers;
DROP TABLE repositories;
