//! Foundation-wide settings: the foundation's name and how it describes itself.

pub mod service;

pub use service::{Site, SiteCache};
