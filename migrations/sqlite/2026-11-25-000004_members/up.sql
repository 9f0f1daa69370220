-- Membership tiers: what a member organization pays each year, in minor units of a currency.
CREATE TABLE membership_tiers (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    annual_dues_minor BIGINT NOT NULL CHECK (annual_dues_minor >= 0),
    currency TEXT NOT NULL,
    benefits TEXT NOT NULL DEFAULT '',
    position INTEGER NOT NULL,
    retired BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE members ADD COLUMN tier_id BIGINT REFERENCES membership_tiers (id);
ALTER TABLE members ADD COLUMN status TEXT NOT NULL DEFAULT 'prospective';
ALTER TABLE members ADD COLUMN joined_on DATE;
ALTER TABLE members ADD COLUMN renews_on DATE;
ALTER TABLE members ADD COLUMN website TEXT;
ALTER TABLE members ADD COLUMN country TEXT;
ALTER TABLE members ADD COLUMN logo_url TEXT;
ALTER TABLE members ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN primary_contact_id BIGINT REFERENCES users (id);
ALTER TABLE members ADD COLUMN billing_contact_id BIGINT REFERENCES users (id);
CREATE INDEX members_tier_id ON members (tier_id);
CREATE INDEX members_status ON members (status);

-- Every change of a member's status or tier, dated, with who made it.
CREATE TABLE member_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    tier_id BIGINT REFERENCES membership_tiers (id),
    changed_on DATE NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    changed_by BIGINT REFERENCES users (id),
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX member_history_member_id ON member_history (member_id, changed_at);
