-- Indexes for what the main pages filter, join and sum (measured by `steward bench web`).
-- Year and month sums of the ledger read only this index: year, date, fund, amount and how to classify it.
CREATE INDEX ledger_entries_sums
    ON ledger_entries (fiscal_year_id, entry_date, priority_id, base_amount_minor, kind, reverses_entry_id, transfer_of_entry_id);
-- Listing entries newest first, of every year.
CREATE INDEX ledger_entries_date ON ledger_entries (entry_date, id);
CREATE INDEX ledger_entries_invoice ON ledger_entries (invoice_id);
CREATE INDEX ledger_entries_allocation ON ledger_entries (allocation_id);
CREATE INDEX ledger_entries_disbursement ON ledger_entries (disbursement_id);
-- Survey results read each question's answers (the value stays out: a long text answer would not fit a
-- btree entry).
CREATE INDEX survey_answers_question ON survey_answers (question_id, response_id);
CREATE INDEX invoices_fiscal_year ON invoices (fiscal_year_id, status);
-- Survey lists count answered responses per survey; results read their tiers from it.
CREATE INDEX survey_responses_status ON survey_responses (survey_id, status, id, tier_id);
