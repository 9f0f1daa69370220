//! Integration tests: the real app over HTTP against a fresh database per test, on SQLite and PostgreSQL.
//! One binary (faster to link); one module per feature.

mod support;

mod access;
mod accounts;
mod admin;
mod anonymity;
mod api_fuzz;
mod audit;
mod bench;
mod bench_seed;
mod browser;
mod check;
mod cli;
mod community;
mod db;
mod dues;
mod faults;
mod funding;
mod fuzz_corpus;
mod harness;
mod health;
mod home;
mod hostile_input;
mod limits;
mod mail;
mod members;
mod metrics;
mod money;
mod pages;
mod payloads;
mod queries;
mod reports;
mod soak;
mod sqlmap;
mod surveys;
