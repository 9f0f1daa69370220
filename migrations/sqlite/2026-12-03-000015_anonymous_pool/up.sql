-- Answers to anonymous surveys wait in a pool, sealed with a key held outside the database, until a job moves
-- them into the results in shuffled batches of at least the survey's minimum group. The pool's key is random
-- and the table has no rowid, so neither its order nor its content says who answered or when.
CREATE TABLE survey_pool (
    -- Random (hex): rows are stored in key order, which is no order at all.
    id TEXT PRIMARY KEY NOT NULL,
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    -- HMAC under the server's secret of the respondent's link (random for a community answer): only the link,
    -- together with the secret, finds the row again.
    locator TEXT NOT NULL UNIQUE,
    -- The answers, tier and status, padded and sealed (ChaCha20-Poly1305).
    sealed TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX survey_pool_survey ON survey_pool (survey_id);

-- Responses, their answers and the organizations that answered: rebuilt without SQLite's hidden rowid, whose
-- order was the order of insertion (the order people answered).
CREATE TABLE survey_responses_new (
    id BIGINT PRIMARY KEY NOT NULL,
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    resume_hash TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id),
    member_id BIGINT REFERENCES members (id),
    tier_id BIGINT REFERENCES membership_tiers (id),
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted')),
    updated_on DATE NOT NULL,
    UNIQUE (survey_id, resume_hash)
) WITHOUT ROWID;
INSERT INTO survey_responses_new SELECT id, survey_id, resume_hash, user_id, member_id, tier_id, status, updated_on
    FROM survey_responses;
CREATE TABLE survey_answers_new (
    response_id BIGINT NOT NULL REFERENCES survey_responses_new (id),
    question_id BIGINT NOT NULL REFERENCES survey_questions (id),
    -- JSON: a number, a string, or a list.
    value TEXT NOT NULL,
    PRIMARY KEY (response_id, question_id)
) WITHOUT ROWID;
INSERT INTO survey_answers_new SELECT response_id, question_id, value FROM survey_answers;
DROP TABLE survey_answers;
DROP TABLE survey_responses;
ALTER TABLE survey_responses_new RENAME TO survey_responses;
ALTER TABLE survey_answers_new RENAME TO survey_answers;
CREATE INDEX survey_answers_question ON survey_answers (question_id, response_id, value);
CREATE INDEX survey_responses_status ON survey_responses (survey_id, status, id, tier_id);

CREATE TABLE survey_organization_answers_new (
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    PRIMARY KEY (survey_id, member_id)
) WITHOUT ROWID;
INSERT INTO survey_organization_answers_new SELECT survey_id, member_id FROM survey_organization_answers;
DROP TABLE survey_organization_answers;
ALTER TABLE survey_organization_answers_new RENAME TO survey_organization_answers;
