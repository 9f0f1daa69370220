DROP TABLE key_outcomes;
DROP TABLE funding_priorities;
DROP TABLE settings;
