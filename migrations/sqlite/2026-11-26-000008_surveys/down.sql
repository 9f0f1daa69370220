DROP INDEX metrics_survey_question;
DROP TABLE survey_answers;
DROP TABLE survey_responses;
DROP TABLE survey_organization_answers;
DROP TABLE survey_invitations;
DROP TABLE survey_questions;
DROP TABLE survey_targets;
DROP TABLE surveys;
