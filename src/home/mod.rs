//! The start page.

pub mod pages;

use crate::accounts::{Access, Router};

pub fn routes(r: &mut Router) {
    r.get("/", Access::Public, pages::index);
}
