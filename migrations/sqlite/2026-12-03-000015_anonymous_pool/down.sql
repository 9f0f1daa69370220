DROP TABLE survey_pool;

CREATE TABLE survey_responses_old (
    id BIGINT PRIMARY KEY NOT NULL,
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    resume_hash TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id),
    member_id BIGINT REFERENCES members (id),
    tier_id BIGINT REFERENCES membership_tiers (id),
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted')),
    updated_on DATE NOT NULL,
    UNIQUE (survey_id, resume_hash)
);
INSERT INTO survey_responses_old SELECT id, survey_id, resume_hash, user_id, member_id, tier_id, status, updated_on
    FROM survey_responses;
CREATE TABLE survey_answers_old (
    response_id BIGINT NOT NULL REFERENCES survey_responses_old (id),
    question_id BIGINT NOT NULL REFERENCES survey_questions (id),
    value TEXT NOT NULL,
    PRIMARY KEY (response_id, question_id)
);
INSERT INTO survey_answers_old SELECT response_id, question_id, value FROM survey_answers;
DROP TABLE survey_answers;
DROP TABLE survey_responses;
ALTER TABLE survey_responses_old RENAME TO survey_responses;
ALTER TABLE survey_answers_old RENAME TO survey_answers;
CREATE INDEX survey_answers_question ON survey_answers (question_id, response_id, value);
CREATE INDEX survey_responses_status ON survey_responses (survey_id, status, id, tier_id);

CREATE TABLE survey_organization_answers_old (
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    PRIMARY KEY (survey_id, member_id)
);
INSERT INTO survey_organization_answers_old SELECT survey_id, member_id FROM survey_organization_answers;
DROP TABLE survey_organization_answers;
ALTER TABLE survey_organization_answers_old RENAME TO survey_organization_answers;
