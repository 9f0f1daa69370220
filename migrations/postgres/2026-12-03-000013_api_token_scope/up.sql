-- Personal API tokens: what a token may do (`read`: GET only; `read_write`: everything its owner may) and
-- when it stops working (NULL: until revoked). Tokens made before keep doing everything, without an end.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read_write';
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;
