//! Steward: members, dues, funding priorities, outcomes, surveys and reports of an open-source foundation.
//! See ARCHITECTURE.md for the map.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod audit;
pub mod bench;
pub mod check;
pub mod community;
pub mod config;
pub mod db;
pub mod demo;
pub mod disbursements;
pub mod domain;
pub mod dues;
pub mod feedback;
pub mod funding;
pub mod health;
pub mod home;
pub mod jobs;
pub mod ledger;
pub mod locale;
pub mod mail;
pub mod members;
pub mod metrics;
pub mod money;
pub mod openapi;
pub mod reports;
pub mod settings;
pub mod surveys;
pub mod telemetry;
pub mod transparency;
pub mod treasury;
pub mod web;
