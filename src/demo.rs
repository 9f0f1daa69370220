//! `steward demo`: a fresh SQLite file filled with a realistic foundation, served at once.
//!
//! Every feature adds its part here, so the demo always shows all of them.

use std::path::Path;

use diesel::prelude::*;

use crate::accounts::service::{self as accounts, InviteInput, RequestMeta};
use crate::accounts::session::SessionPolicy;
use crate::accounts::Role;
use crate::audit::Actor;
use crate::db::schema::members;
use crate::db::{self, DbConn};
use crate::domain::ServiceError;
use crate::funding::service::{self as funding, PriorityInput};
use crate::settings::service as settings;

pub const FOUNDATION_NAME: &str = "Open Notebook Foundation";

/// Every demo account signs in with this password.
pub const DEMO_PASSWORD: &str = "steward-demo-passphrase";

/// The demo's accounts: (email, name, roles, index into MEMBERS for representatives).
pub const DEMO_USERS: &[(&str, &str, &[Role], Option<usize>)] = &[
    ("admin@demo.steward.invalid", "Ada Admin", &[Role::Admin], None),
    ("treasurer@demo.steward.invalid", "Tomás Treasurer", &[Role::Treasurer], None),
    ("council@demo.steward.invalid", "Chidi Council", &[Role::Council], None),
    ("rep@demo.steward.invalid", "Rae Representative", &[Role::MemberRep], Some(0)),
    ("rep2@demo.steward.invalid", "Ravi Representative", &[Role::MemberRep], Some(1)),
];

const MEMBERS: &[(&str, &str)] = &[
    ("quanta-labs", "Quanta Labs"),
    ("northwind-analytics", "Northwind Analytics"),
    ("helio-university", "Helio University"),
];

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
    seed_accounts(conn)?;
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

fn seed_accounts(conn: &mut DbConn) -> Result<(), ServiceError> {
    let now = db::now();
    let mut member_ids = Vec::new();
    for (slug, name) in MEMBERS {
        let id: i64 = crate::on_backend!(conn, |c| diesel::insert_into(members::table)
            .values((
                members::slug.eq(slug),
                members::name.eq(name),
                members::created_at.eq(now),
                members::updated_at.eq(now)
            ))
            .returning(members::id)
            .get_result(c))?;
        member_ids.push(id);
    }
    let hash = crate::accounts::password::hash_blocking(DEMO_PASSWORD)
        .map_err(|e| ServiceError::Internal(format!("hashing the demo password: {e}")))?;
    let policy =
        SessionPolicy { idle: std::time::Duration::from_secs(60), absolute: std::time::Duration::from_secs(60) };
    for (email, name, roles, member) in DEMO_USERS {
        let input = InviteInput {
            email: email.to_string(),
            display_name: name.to_string(),
            roles: roles.to_vec(),
            member_id: member.map(|i| member_ids[i]),
        };
        let (_, token) = accounts::invite_user(conn, Actor::Cli, &input, None, &RequestMeta::default())?;
        accounts::accept_invitation_with_hash(conn, &token, name, &hash, &RequestMeta::default(), policy)?;
    }
    // The sessions the invitations opened are not for anyone's browser.
    diesel::delete(crate::db::schema::sessions::table).execute(conn)?;
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
