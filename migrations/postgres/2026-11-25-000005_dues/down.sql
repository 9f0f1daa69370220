DROP TABLE ledger_entries;
DROP TABLE payments;
DROP TABLE invoices;
DROP TABLE sequences;
DROP TABLE fiscal_years;
