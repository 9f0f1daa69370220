DROP TABLE metric_observations;
DROP TABLE metric_initiatives;
DROP TABLE metrics;
