ALTER TABLE metrics DROP COLUMN public;
ALTER TABLE initiatives DROP COLUMN public;
ALTER TABLE funding_priorities DROP COLUMN public;
DROP TABLE report_members;
DROP TABLE reports;
