-- Answers to anonymous surveys wait in a pool, sealed with a key held outside the database, until a job moves
-- them into the results in shuffled batches of at least the survey's minimum group, in one transaction (one
-- xmin for the batch; rows written in shuffled order, so ctid order is no order). The key is random.
CREATE TABLE survey_pool (
    id TEXT PRIMARY KEY NOT NULL,
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    -- HMAC under the server's secret of the respondent's link (random for a community answer).
    locator TEXT NOT NULL UNIQUE,
    -- The answers, tier and status, padded and sealed (ChaCha20-Poly1305).
    sealed TEXT NOT NULL
);
CREATE INDEX survey_pool_survey ON survey_pool (survey_id);
