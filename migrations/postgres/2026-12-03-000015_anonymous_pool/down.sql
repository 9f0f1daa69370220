DROP TABLE survey_pool;
