DROP INDEX survey_responses_status;
DROP INDEX invoices_fiscal_year;
DROP INDEX survey_answers_question;
DROP INDEX ledger_entries_disbursement;
DROP INDEX ledger_entries_allocation;
DROP INDEX ledger_entries_invoice;
DROP INDEX ledger_entries_date;
DROP INDEX ledger_entries_sums;
