//! Steward: members, dues, funding priorities, outcomes, surveys and reports of an open-source foundation.
//! See ARCHITECTURE.md for the map.

pub mod app;
pub mod bench;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod funding;
pub mod health;
pub mod home;
pub mod mail;
pub mod openapi;
pub mod settings;
pub mod telemetry;
pub mod web;
