//! `steward demo`: a fresh SQLite file filled with a realistic foundation, served at once.
//!
//! Every feature adds its part here, so the demo always shows all of them.

use std::path::Path;

use crate::db::DbConn;
use crate::domain::ServiceError;
use crate::funding::service::{self as funding, PriorityInput};
use crate::settings::service as settings;

pub const FOUNDATION_NAME: &str = "Open Notebook Foundation";

/// Removes a previous demo database and its WAL files, so the demo always starts from the same data.
pub fn remove_database(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Fills an empty, migrated database with the demo foundation.
pub fn seed(conn: &mut DbConn) -> Result<(), ServiceError> {
    settings::set(conn, settings::FOUNDATION_NAME, FOUNDATION_NAME)?;
    settings::set(
        conn,
        settings::FOUNDATION_TAGLINE,
        "Member organizations fund the open notebook ecosystem; this is where their money goes and what it changes.",
    )?;
    for (slug, title, summary, outcomes) in PRIORITIES {
        funding::create_priority(
            conn,
            &PriorityInput {
                slug: slug.to_string(),
                title: title.to_string(),
                summary: summary.to_string(),
                outcomes: outcomes.iter().map(|o| o.to_string()).collect(),
            },
        )?;
    }
    Ok(())
}

type PrioritySeed = (&'static str, &'static str, &'static str, &'static [&'static str]);

const PRIORITIES: &[PrioritySeed] = &[
    (
        "contributor-capacity",
        "Grow contributor capacity",
        "Bring in and keep contributors beyond the core maintainers, so the work does not rest on a few people: \
         mentoring, onboarding sprints, paid triage and review time.",
        &[
            "More pull requests and issue participation from people who are not maintainers",
            "More people who identify as contributors to the project",
        ],
    ),
    (
        "reliability-security",
        "Reliability, security and consistency of the software",
        "Make the software dependable for the organizations that build on it: test coverage of key \
         repositories, a steady release rhythm, and fast fixes for security problems.",
        &[
            "Higher test coverage of key repositories",
            "More frequent minor releases",
            "Faster fixes for security advisories",
        ],
    ),
    (
        "develop-foundation",
        "Develop the foundation",
        "Run the foundation well: members who see the value of membership, enough revenue for the other \
         priorities, and clear reporting on what the money did.",
        &["Members who find value in their membership", "Enough revenue to fund the priorities"],
    ),
];
