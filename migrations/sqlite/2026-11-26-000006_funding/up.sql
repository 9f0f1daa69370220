-- Exchange rates: what one unit of `currency` is worth in the base currency, from `effective_on` on.
CREATE TABLE exchange_rates (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    currency TEXT NOT NULL,
    effective_on DATE NOT NULL,
    rate TEXT NOT NULL,
    recorded_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (currency, effective_on)
);

-- A priority's envelope for one fiscal year, in the base currency, optionally split into line items.
CREATE TABLE budgets (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    fiscal_year_id BIGINT NOT NULL REFERENCES fiscal_years (id),
    priority_id BIGINT NOT NULL REFERENCES funding_priorities (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (fiscal_year_id, priority_id)
);

CREATE TABLE budget_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    budget_id BIGINT NOT NULL REFERENCES budgets (id),
    label TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    position INTEGER NOT NULL,
    UNIQUE (budget_id, label)
);

-- Work funded under a priority: proposed -> approved -> active -> completed, or cancelled.
CREATE TABLE initiatives (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    priority_id BIGINT NOT NULL REFERENCES funding_priorities (id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    subprojects TEXT NOT NULL DEFAULT '',
    lead TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'active', 'completed', 'cancelled')),
    starts_on DATE,
    ends_on DATE,
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on)
);
CREATE INDEX initiatives_priority_status ON initiatives (priority_id, status);

-- Who moved an initiative from which status to which, and when.
CREATE TABLE initiative_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    initiative_id BIGINT NOT NULL REFERENCES initiatives (id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    changed_by BIGINT REFERENCES users (id),
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX initiative_steps_initiative ON initiative_steps (initiative_id, id);

-- Money from a priority's budget for an initiative; allocations of a budget never exceed it.
CREATE TABLE allocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    initiative_id BIGINT NOT NULL REFERENCES initiatives (id),
    budget_id BIGINT NOT NULL REFERENCES budgets (id),
    budget_line_id BIGINT REFERENCES budget_lines (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX allocations_budget ON allocations (budget_id);
CREATE INDEX allocations_initiative ON allocations (initiative_id);

-- Money going out against an allocation: requested, approved by enough people, then paid (or refused).
CREATE TABLE disbursements (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    allocation_id BIGINT NOT NULL REFERENCES allocations (id),
    payee TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    purpose TEXT NOT NULL,
    document_url TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'paid', 'rejected', 'cancelled')),
    approvals_required INTEGER NOT NULL CHECK (approvals_required >= 1),
    requested_by BIGINT NOT NULL REFERENCES users (id),
    requested_at TIMESTAMP NOT NULL,
    closed_by BIGINT REFERENCES users (id),
    closed_at TIMESTAMP,
    close_reason TEXT,
    paid_on DATE,
    base_amount_minor BIGINT,
    ledger_entry_id BIGINT REFERENCES ledger_entries (id),
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX disbursements_allocation ON disbursements (allocation_id);
CREATE INDEX disbursements_status ON disbursements (status);

CREATE TABLE disbursement_approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    disbursement_id BIGINT NOT NULL REFERENCES disbursements (id),
    approver_id BIGINT NOT NULL REFERENCES users (id),
    approved_at TIMESTAMP NOT NULL,
    UNIQUE (disbursement_id, approver_id)
);

-- Ledger entries name the priority (and allocation, disbursement) they belong to; a transfer's second leg
-- names its first. SQLite cannot later drop a column that carries a foreign key, so here the service keeps
-- these references right (PostgreSQL enforces them too).
ALTER TABLE ledger_entries ADD COLUMN priority_id BIGINT;
ALTER TABLE ledger_entries ADD COLUMN allocation_id BIGINT;
ALTER TABLE ledger_entries ADD COLUMN disbursement_id BIGINT;
ALTER TABLE ledger_entries ADD COLUMN transfer_of_entry_id BIGINT;
CREATE INDEX ledger_entries_priority ON ledger_entries (priority_id);

-- The ledger is append-only: the database itself refuses to change or remove an entry.
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: post a reversing entry instead');
END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only: post a reversing entry instead');
END;

INSERT INTO settings (key, value, updated_at) VALUES ('disbursement_approvals', '1', CURRENT_TIMESTAMP);
INSERT INTO settings (key, value, updated_at) VALUES ('disbursement_second_approval_above', '1000000', CURRENT_TIMESTAMP);
