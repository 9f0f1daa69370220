-- Fiscal years: planning, then open for entries, then closed for good.
CREATE TABLE fiscal_years (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    label TEXT NOT NULL UNIQUE,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('planning', 'open', 'closed')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (ends_on > starts_on)
);

-- Gapless counters (invoice numbers): incremented in the transaction that uses the number.
CREATE TABLE sequences (
    name TEXT PRIMARY KEY NOT NULL,
    next_value BIGINT NOT NULL
);
INSERT INTO sequences (name, next_value) VALUES ('invoice', 1);

-- Dues invoices: one live invoice per member and fiscal year; a void one keeps its number.
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    number BIGINT NOT NULL UNIQUE,
    member_id BIGINT NOT NULL REFERENCES members (id),
    fiscal_year_id BIGINT NOT NULL REFERENCES fiscal_years (id),
    tier_id BIGINT REFERENCES membership_tiers (id),
    description TEXT NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
    currency TEXT NOT NULL,
    issued_on DATE NOT NULL,
    due_on DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void')),
    paid_minor BIGINT NOT NULL DEFAULT 0,
    void_reason TEXT,
    voided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX invoices_one_live_per_year ON invoices (member_id, fiscal_year_id) WHERE status <> 'void';
CREATE INDEX invoices_status_due ON invoices (status, due_on);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    invoice_id BIGINT NOT NULL REFERENCES invoices (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    paid_on DATE NOT NULL,
    reference TEXT NOT NULL DEFAULT '',
    recorded_by BIGINT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX payments_invoice_id ON payments (invoice_id);

-- The ledger: money in (positive) and out (negative). Append-only: a correction is a reversing entry.
CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    entry_date DATE NOT NULL,
    fiscal_year_id BIGINT NOT NULL REFERENCES fiscal_years (id),
    kind TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    base_amount_minor BIGINT NOT NULL,
    exchange_rate TEXT NOT NULL DEFAULT '1',
    member_id BIGINT REFERENCES members (id),
    invoice_id BIGINT REFERENCES invoices (id),
    payment_id BIGINT REFERENCES payments (id),
    reverses_entry_id BIGINT REFERENCES ledger_entries (id),
    memo TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    created_by BIGINT REFERENCES users (id)
);
CREATE INDEX ledger_entries_year_date ON ledger_entries (fiscal_year_id, entry_date);
CREATE UNIQUE INDEX ledger_entries_one_reversal ON ledger_entries (reverses_entry_id);
