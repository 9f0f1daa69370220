-- Member surveys. In an anonymous survey nothing links a response to a person or organization: responses
-- have random ids and only a day for dates, and are found again only through the respondent's own link.
CREATE TABLE surveys (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    title TEXT NOT NULL,
    introduction TEXT NOT NULL DEFAULT '',
    cycle TEXT NOT NULL,
    opens_at TIMESTAMP NOT NULL,
    closes_at TIMESTAMP NOT NULL,
    -- 'community': a public link for contributors, always anonymous, with a limit per client.
    audience TEXT NOT NULL CHECK (audience IN ('per_organization', 'per_person', 'selected', 'community')),
    anonymous BOOLEAN NOT NULL,
    min_group_size INTEGER NOT NULL CHECK (min_group_size >= 1),
    -- Days before closing on which those who have not answered are reminded, e.g. '7,2'.
    reminder_days TEXT NOT NULL DEFAULT '',
    -- The public link of a community survey (it is meant to be shared, so it is kept as is).
    public_token TEXT UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('draft', 'open', 'closed')),
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (closes_at > opens_at)
);

-- The organizations asked, for a survey of selected organizations.
CREATE TABLE survey_targets (
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    PRIMARY KEY (survey_id, member_id)
);

CREATE TABLE survey_questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('likert', 'nps', 'single', 'multi', 'ranking', 'points', 'number', 'short_text', 'long_text')),
    prompt TEXT NOT NULL,
    required BOOLEAN NOT NULL,
    -- JSON: the options' labels (choices, ranking), the scale's labels (likert), or the priorities' ids (points).
    options TEXT NOT NULL DEFAULT '[]',
    copied_from BIGINT REFERENCES survey_questions (id)
);
CREATE INDEX survey_questions_survey ON survey_questions (survey_id, position);

-- Who was asked. `used` says only that the link was used, never when or for which response.
CREATE TABLE survey_invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    member_id BIGINT REFERENCES members (id),
    token_hash TEXT NOT NULL UNIQUE,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    sent_on DATE NOT NULL,
    UNIQUE (survey_id, user_id)
);

-- Organizations that have answered a one-answer-per-organization survey (not which answer is theirs).
CREATE TABLE survey_organization_answers (
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    PRIMARY KEY (survey_id, member_id)
);

-- Responses. `resume_hash` is derived from the respondent's link, so only the link finds the response again;
-- user and organization are recorded for named surveys only.
CREATE TABLE survey_responses (
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

CREATE TABLE survey_answers (
    response_id BIGINT NOT NULL REFERENCES survey_responses (id),
    question_id BIGINT NOT NULL REFERENCES survey_questions (id),
    -- JSON: a number, a string, or a list.
    value TEXT NOT NULL,
    PRIMARY KEY (response_id, question_id)
);

-- A metric fed by a survey question names it.
CREATE INDEX metrics_survey_question ON metrics (survey_question_id);

-- Between surveys: a representative's suggestion or question, optionally about a priority or initiative, and
-- the council's answer. Answered items the council marks quotable may appear in the progress reports.
CREATE TABLE feedback_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    member_id BIGINT REFERENCES members (id),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    priority_id BIGINT REFERENCES funding_priorities (id),
    initiative_id BIGINT REFERENCES initiatives (id),
    status TEXT NOT NULL CHECK (status IN ('new', 'answered', 'planned', 'declined')),
    answer TEXT NOT NULL DEFAULT '',
    answered_by BIGINT REFERENCES users (id),
    answered_at TIMESTAMP,
    quotable BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX feedback_items_status ON feedback_items (status, created_at);
CREATE INDEX feedback_items_user ON feedback_items (user_id);
