//! The start page.

pub mod pages;
pub mod service;

use crate::accounts::{Access, Router};

pub fn routes(r: &mut Router) {
    r.get("/", Access::Public, pages::index);
}
