//! A large, realistic foundation for `steward bench web` (issue 12): a thousand member organizations with
//! their representatives, five fiscal years with a hundred thousand ledger entries, funding priorities with
//! budgets, initiatives, allocations and disbursements, outcome metrics with their history, and ten waves of
//! the member survey with thousands of complete responses.
//!
//! The few hundred rows that carry rules (tiers, years, budgets, initiatives and their steps, allocations,
//! disbursements, invoices and payments, metric and survey definitions, opening and closing surveys,
//! feedback) go through the features' own services, so they are exactly what the app writes. The volume rows
//! (organizations, accounts, ledger entries beyond those, observations, survey responses and answers) are
//! written in bulk, in the shapes those services write, checked against the same rules here.
//!
//! Everything is drawn from a fixed random seed, so two runs of the bench load the same foundation.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::BenchError;
use crate::accounts::model::AuthMethod;
use crate::accounts::tokens::{hash_token, random_token};
use crate::accounts::{Identity, Role};
use crate::audit::Actor;
use crate::db::schema::{
    allocations, audit_events, budget_lines, budgets, disbursements, feedback_items, fiscal_years, funding_priorities,
    initiatives, invoices, key_outcomes, ledger_entries, member_history, members, membership_tiers,
    metric_observations, metrics, outbox, payments, survey_answers, survey_invitations, survey_questions,
    survey_responses, surveys, user_roles, users,
};
use crate::db::{self, DbConn};
use crate::domain::ServiceError;
use crate::ledger::model::FiscalYear;
use crate::surveys::model::{Answer, Question};

/// How big a foundation to seed. `full()` is the issue's size; `scaled(f)` multiplies every count (at least 1).
#[derive(Clone, Debug)]
pub struct SeedOptions {
    /// Member organizations.
    pub organizations: u32,
    /// Representatives (accounts) per organization.
    pub representatives: u32,
    /// Calendar years ending with the current one.
    pub fiscal_years: u32,
    /// Ledger entries in all, across the years: payments and paid disbursements included.
    pub ledger_entries: u32,
    pub initiatives: u32,
    pub metrics: u32,
    pub observations_per_metric: u32,
    /// Half-yearly waves of the member survey, the newest last.
    pub surveys: u32,
    /// Complete (submitted) responses to every survey.
    pub responses_per_survey: u32,
}

impl SeedOptions {
    /// The foundation of issue 12.
    pub fn full() -> Self {
        Self {
            organizations: 1_000,
            representatives: 3,
            fiscal_years: 5,
            ledger_entries: 100_000,
            initiatives: 200,
            metrics: 100,
            observations_per_metric: 100,
            surveys: 10,
            responses_per_survey: 3_000,
        }
    }

    /// The full size times `factor`, each count rounded and at least 1.
    pub fn scaled(factor: f64) -> Self {
        let full = Self::full();
        // `as` saturates: a negative or NaN product becomes 0, then 1.
        let s = |n: u32| ((f64::from(n) * factor).round() as u32).max(1);
        Self {
            organizations: s(full.organizations),
            representatives: s(full.representatives),
            fiscal_years: s(full.fiscal_years),
            ledger_entries: s(full.ledger_entries),
            initiatives: s(full.initiatives),
            metrics: s(full.metrics),
            observations_per_metric: s(full.observations_per_metric),
            surveys: s(full.surveys),
            responses_per_survey: s(full.responses_per_survey),
        }
    }
}

/// What the bench needs to sign in and find the pages it loads.
#[derive(Clone, Debug)]
pub struct Seeded {
    /// Every seeded account's password ([`BENCH_PASSWORD`]).
    pub password: String,
    pub admin_email: String,
    pub treasurer_email: String,
    pub council_email: String,
    /// A representative of organization 0.
    pub representative_email: String,
    /// Up to 64 representatives' addresses, for the sign-in burst: many people signing in at once, not one
    /// account signed into in parallel (which the per-account lockout limits, by design).
    pub sign_in_emails: Vec<String>,
    /// Organization 0's id.
    pub member_id: i64,
    pub member_slug: String,
    /// A closed survey with `responses_per_survey` complete responses (its results page).
    pub survey_id: i64,
    /// A metric with `observations_per_metric` observations.
    pub metric_id: i64,
    /// The current (open) fiscal year.
    pub fiscal_year_id: i64,
    /// Rows per main table after seeding, counted with `SELECT COUNT(*)`.
    pub counts: Vec<(&'static str, i64)>,
}

/// Every seeded account signs in with this password.
pub const BENCH_PASSWORD: &str = "bench passphrase for every seeded account";

const SITE_NAME: &str = "Bench Foundation";
const BASE_URL: &str = "https://steward.bench.invalid";
const DOMAIN: &str = "bench.steward.invalid";
/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's limits on bound parameters at 18 columns.
const CHUNK: usize = 500;
/// The base currency (the setting's default); every seeded amount is in it, so base amounts equal amounts.
const CURRENCY: &str = "USD";

/// Inserts `rows` (a `Vec` of column tuples) in chunks of [`CHUNK`], on the backend's own connection
/// (diesel's multi-backend connection has no multi-row INSERT).
macro_rules! insert_chunks {
    ($conn:expr, $table:expr, $rows:expr) => {
        for chunk in $rows.chunks(CHUNK) {
            crate::on_backend!($conn, |c| diesel::insert_into($table).values(chunk).execute(c))?;
        }
    };
}

/// Seeds an empty, migrated database with the foundation `options` describe, as it stands on `today` (pass
/// the current date: the services check some dates against the clock).
pub fn seed(conn: &mut DbConn, options: &SeedOptions, today: NaiveDate) -> Result<Seeded, BenchError> {
    check_options(options)?;
    let existing: i64 = users::table.count().get_result(conn)?;
    let existing_members: i64 = members::table.count().get_result(conn)?;
    if existing + existing_members > 0 {
        return Err(BenchError::Mismatch(
            "seeding needs an empty, migrated database (this one has accounts or members)".into(),
        ));
    }
    let hash = crate::accounts::password::hash_blocking(BENCH_PASSWORD)
        .map_err(|e| BenchError::Mismatch(format!("seeding: hashing the bench password: {e}")))?;
    let mut s = Seeder::new(options, today, hash);
    s.accounts_and_members(conn).map_err(step("organizations and accounts"))?;
    s.priorities_and_years(conn).map_err(step("priorities and fiscal years"))?;
    s.funding(conn).map_err(step("budgets, initiatives and allocations"))?;
    s.disbursements(conn).map_err(step("disbursements"))?;
    s.dues(conn).map_err(step("dues"))?;
    let metric_id = s.metrics(conn).map_err(step("metrics"))?;
    let survey_id = s.surveys(conn).map_err(step("surveys"))?;
    s.lapse(conn).map_err(step("lapsed organizations"))?;
    s.feedback(conn).map_err(step("feedback"))?;
    s.ledger(conn).map_err(step("ledger entries"))?;
    s.close_past_years(conn).map_err(step("closing past years"))?;
    s.mail_delivered(conn).map_err(step("the outbox"))?;
    let counts = count_rows(conn)?;
    let org = &s.orgs[0];
    Ok(Seeded {
        password: BENCH_PASSWORD.to_string(),
        admin_email: s.admin.email.clone(),
        treasurer_email: s.treasurer.email.clone(),
        council_email: s.council.email.clone(),
        representative_email: s.reps[0][0].1.clone(),
        sign_in_emails: s.reps.iter().flatten().take(64).map(|(_, email, _)| email.clone()).collect(),
        member_id: org.id,
        member_slug: org.slug.clone(),
        survey_id,
        metric_id,
        fiscal_year_id: s.years.last().map(|y| y.id).unwrap_or_default(),
        counts,
    })
}

fn check_options(o: &SeedOptions) -> Result<(), BenchError> {
    let all = [
        o.organizations,
        o.representatives,
        o.fiscal_years,
        o.ledger_entries,
        o.initiatives,
        o.metrics,
        o.observations_per_metric,
        o.surveys,
        o.responses_per_survey,
    ];
    if all.contains(&0) {
        return Err(BenchError::Mismatch(format!("seeding: every count must be at least 1: {o:?}")));
    }
    if o.fiscal_years > 50 {
        return Err(BenchError::Mismatch("seeding: at most 50 fiscal years".into()));
    }
    Ok(())
}

/// Names the step that failed, with the fields of a validation error (its own message says only "not valid").
fn step(what: &'static str) -> impl Fn(ServiceError) -> BenchError {
    move |e| match e {
        ServiceError::Validation(fields) => BenchError::Mismatch(format!(
            "seeding {what}: {}",
            fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        )),
        other => BenchError::Mismatch(format!("seeding {what}: {other}")),
    }
}

/// Rows per main table, in the order the bench prints them.
fn count_rows(conn: &mut DbConn) -> Result<Vec<(&'static str, i64)>, BenchError> {
    macro_rules! counts {
        ($($table:ident),*) => {
            vec![$((stringify!($table), $table::table.count().get_result::<i64>(conn)?)),*]
        };
    }
    Ok(counts!(
        members,
        users,
        user_roles,
        membership_tiers,
        fiscal_years,
        invoices,
        payments,
        ledger_entries,
        funding_priorities,
        budgets,
        initiatives,
        allocations,
        disbursements,
        metrics,
        metric_observations,
        surveys,
        survey_questions,
        survey_invitations,
        survey_responses,
        survey_answers,
        feedback_items,
        audit_events,
        outbox
    ))
}

// ------------------------------------------------------------------------------------------------ the data

const TIERS: [(&str, &str, &str); 3] = [
    ("Gold", "50000", "A seat at the council's briefings, logo on the website, quarterly call with the maintainers"),
    ("Silver", "20000", "Logo on the website, quarterly call with the maintainers"),
    ("Bronze", "5000", "Listed as a supporter"),
];

#[rustfmt::skip]
const ORG_FIRST: [&str; 20] = [
    "Acorn", "Bluefin", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper", "Kestrel",
    "Lumen", "Meridian", "Nimbus", "Orbital", "Pioneer", "Quartz", "Riverbend", "Sable", "Tundra",
];
#[rustfmt::skip]
const ORG_SECOND: [&str; 20] = [
    "Analytics", "Data", "Systems", "Labs", "Cloud", "Robotics", "Genomics", "Energy", "Finance", "Health", "Media",
    "Security", "Climate", "Materials", "Logistics", "Insight", "Compute", "Research", "Software", "Networks",
];
const ORG_KIND: [&str; 10] =
    ["Inc.", "Ltd", "GmbH", "University", "Institute", "Trust", "Group", "Partners", "Co.", "Collective"];
const COUNTRIES: [&str; 20] = [
    "US", "GB", "DE", "FR", "NL", "CA", "JP", "IN", "BR", "AU", "SE", "CH", "ES", "IT", "KE", "SG", "KR", "DK", "IE",
    "PL",
];
const FIRST_NAMES: [&str; 20] = [
    "Ada", "Bruno", "Chidi", "Dana", "Elif", "Farah", "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena", "Mei", "Nadia",
    "Omar", "Priya", "Quentin", "Rosa", "Samuel", "Tomás",
];
const LAST_NAMES: [&str; 20] = [
    "Adeyemi", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito", "Jansen", "Kowalski", "Liu",
    "Moreau", "Novak", "Okafor", "Petrova", "Quinn", "Rossi", "Silva", "Tanaka",
];

/// Funding priorities: (slug, title, summary, key outcomes).
const PRIORITIES: [(&str, &str, &str, [&str; 2]); 5] = [
    (
        "contributor-capacity",
        "Grow contributor capacity",
        "Bring in and keep contributors beyond the core maintainers: mentoring, onboarding sprints, paid triage.",
        ["More pull requests from people who are not maintainers", "More people who call themselves contributors"],
    ),
    (
        "reliability-security",
        "Reliability and security of the software",
        "Test coverage of key repositories, a steady release rhythm, and fast fixes for security problems.",
        ["Higher test coverage of key repositories", "Faster fixes for security advisories"],
    ),
    (
        "documentation",
        "Documentation and learning",
        "Documentation, tutorials and translations, so that newcomers succeed without asking.",
        ["Fewer questions the documentation already answers", "More people finish the tutorials"],
    ),
    (
        "community-events",
        "Community and events",
        "Community calls, sprints and the yearly summit, where users and maintainers meet.",
        ["More organizations take part in community events", "More first-time speakers at the summit"],
    ),
    (
        "develop-foundation",
        "Develop the foundation",
        "Members who see the value of membership, enough revenue for the other priorities, clear reporting.",
        ["Members who find value in their membership", "Enough revenue to fund the priorities"],
    ),
];

const ACTIONS: [&str; 15] = [
    "Documentation sprint for",
    "Test coverage push for",
    "Security audit of",
    "Release engineering for",
    "Mentoring program for",
    "Accessibility review of",
    "Performance work on",
    "Translation of",
    "Onboarding guide for",
    "Paid triage rotation for",
    "Fuzzing of",
    "Packaging of",
    "Design review of",
    "Community calls for",
    "Long-term support of",
];
const SUBJECTS: [&str; 15] = [
    "the core library",
    "the notebook server",
    "the widgets",
    "the kernel protocol",
    "the file format",
    "the converter",
    "the hub",
    "the language server",
    "the plotting library",
    "the data connectors",
    "the command line",
    "the extension API",
    "the website",
    "the desktop app",
    "the deployment kit",
];
/// Budget line items; each allocation draws on one.
const LINES: [&str; 3] = ["Contractor time", "Events", "Infrastructure"];
/// The statuses initiatives end in, by index (active first, so a small foundation has work in progress).
const STATUS_PATTERN: [&str; 10] =
    ["active", "approved", "completed", "proposed", "active", "active", "cancelled", "active", "completed", "active"];

/// Metric shapes: (unit, direction, name, baseline and target in thousandths, whole numbers only).
const METRIC_SHAPES: [(&str, &str, &str, i64, i64, bool); 5] = [
    ("count", "higher", "Pull requests from new contributors per month", 120_000, 200_000, true),
    ("percent", "higher", "Line coverage", 62_000, 85_000, false),
    ("days", "lower", "Median days to a first review", 14_000, 5_000, false),
    ("money", "higher", "Sponsorship income per quarter", 80_000_000, 120_000_000, true),
    ("score", "higher", "Documentation satisfaction score", 3_200, 4_200, false),
];
/// How much of the planned pace a metric keeps, in percent: on track, at risk, off track.
const PACES: [i64; 5] = [115, 100, 85, 60, 30];
/// Day-to-day noise, in percent of the planned change.
const WOBBLE: [i64; 7] = [0, 2, -1, 1, -2, 3, -3];

/// The member survey: (kind, question, required, options one per line).
const QUESTIONS: [(&str, &str, bool, &str); 9] = [
    ("likert", "Membership in the foundation is worth its dues", true, ""),
    ("nps", "How likely are you to recommend membership to a peer organization?", true, ""),
    (
        "single",
        "How does your organization use the software?",
        true,
        "In production\nIn research\nIn teaching\nStill evaluating",
    ),
    (
        "multi",
        "Which subprojects does your organization rely on?",
        true,
        "The core library\nThe notebook server\nThe widgets\nThe hub\nThe plotting library\nThe converter",
    ),
    (
        "ranking",
        "Rank what the foundation should improve first",
        true,
        "Documentation\nRelease cadence\nSecurity response\nOnboarding of contributors",
    ),
    ("points", "Spread 100 points over the funding priorities", true, ""),
    ("number", "How many people in your organization use the software every week?", false, ""),
    ("short_text", "In a few words: the foundation's greatest strength", false, ""),
    ("long_text", "What should the foundation change?", false, ""),
];
const STRENGTHS: [&str; 6] =
    ["Responsive maintainers", "Open governance", "Stable releases", "The community", "Clear reporting", "Security"];
const COMMENTS: [&str; 8] = [
    "More predictable releases would help us plan our upgrades.",
    "The security response has been excellent this year.",
    "Please invest in documentation for newcomers; our new hires struggle with the extension API.",
    "We would like a say in the roadmap of the core libraries.",
    "The summit was the most useful event we attended this year.",
    "Long-term support releases would let us stay on one version for longer.",
    "Translation of the tutorials would help our teams abroad.",
    "Keep doing what you are doing.",
];

const INCOME_MEMOS: [&str; 6] = [
    "Donation through the website",
    "Sponsorship of the community summit",
    "Grant instalment",
    "Summit ticket sales",
    "Training course income",
    "Corporate matching gift",
];
const SPENDING_MEMOS: [&str; 8] = [
    "Cloud hosting",
    "Continuous integration minutes",
    "Travel grant",
    "Contractor invoice",
    "Bank fees",
    "Legal services",
    "Event venue",
    "Accounting services",
];

/// (subject, body, priority index) of what representatives send between surveys.
const FEEDBACK: [(&str, &str, Option<usize>); 8] = [
    ("Release calendar", "Could the release dates be published a quarter ahead?", Some(1)),
    ("Documentation of the extension API", "Our developers keep asking the same questions about extensions.", Some(2)),
    ("Summit location", "Please consider a summit in Asia some year.", Some(3)),
    ("Invoice in euros", "Could we receive our dues invoice in euros?", None),
    ("Security advisories", "We would like advance notice of security releases.", Some(1)),
    ("Mentoring", "Two of our engineers would like to mentor newcomers.", Some(0)),
    ("Annual report", "The yearly report could show the money per subproject.", Some(4)),
    ("Tutorials", "A tutorial on deploying the hub would help many members.", Some(2)),
];

fn person(i: usize) -> String {
    format!("{} {}", FIRST_NAMES[i % 20], LAST_NAMES[(i / 20 + i * 7) % 20])
}

fn org_name(o: usize) -> String {
    let base = |o: usize| format!("{} {} {}", ORG_FIRST[o % 20], ORG_SECOND[(o / 20) % 20], ORG_KIND[(o / 400) % 10]);
    if o < 4000 {
        base(o)
    } else {
        format!("{} {}", base(o % 4000), o / 4000 + 1)
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn at(d: NaiveDate, hour: u32) -> NaiveDateTime {
    d.and_hms_opt(hour, 0, 0).unwrap_or_default()
}

/// Minor units of the base currency as typed into a form ("1234.50").
fn money(minor: i64) -> String {
    crate::money::plain(minor, CURRENCY)
}

/// A value in thousandths as typed into a form ("87.5").
fn milli(v: i64) -> String {
    let (whole, frac) = (v / 1000, (v % 1000).abs());
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:03}").trim_end_matches('0').to_string()
    }
}

fn identity(user_id: i64, email: &str, name: &str, member_id: Option<i64>, role: Role) -> Identity {
    Identity {
        user_id,
        email: email.to_string(),
        display_name: name.to_string(),
        member_id,
        roles: vec![role],
        has_two_factor: false,
        via: AuthMethod::ApiToken { token_id: 0 },
        time_zone: "UTC".into(),
    }
}

// ---------------------------------------------------------------------------------------------- the seeder

/// A member organization as planned and, once inserted, its id.
struct Org {
    id: i64,
    slug: String,
    name: String,
    tier: usize,
    joined_on: Option<NaiveDate>,
    renews_on: Option<NaiveDate>,
    country: &'static str,
    /// The status it ends in: `active`, `prospective` (from the start), or `lapsed` / `former` (it leaves after
    /// the surveys, so that every representative was asked while it was a member).
    fate: &'static str,
}

/// An initiative as planned: its allocations are (year index, amount in minor units, line index).
struct Planned {
    id: i64,
    priority: usize,
    status: &'static str,
    title: String,
    lead: String,
    allocations: Vec<(usize, i64, usize)>,
}

/// An allocation made: (id, initiative index, year index, amount in minor units).
type Made = (i64, usize, usize, i64);

struct Seeder<'a> {
    options: &'a SeedOptions,
    today: NaiveDate,
    now: NaiveDateTime,
    rng: StdRng,
    hash: String,
    admin: Identity,
    treasurer: Identity,
    council: Identity,
    tiers: Vec<i64>,
    orgs: Vec<Org>,
    /// Per organization: (user id, email, name) of its representatives.
    reps: Vec<Vec<(i64, String, String)>>,
    /// Whether the member survey asks each representative (else it is a community survey: there are fewer
    /// representatives than responses to seed).
    per_person: bool,
    /// Per priority: its id and its two key outcomes' ids.
    priorities: Vec<(i64, Vec<i64>)>,
    /// Oldest first; the last is the current year.
    years: Vec<FiscalYear>,
    initiatives: Vec<Planned>,
    allocations: Vec<Made>,
}

impl<'a> Seeder<'a> {
    fn new(options: &'a SeedOptions, today: NaiveDate, hash: String) -> Self {
        let orgs = options.organizations as usize;
        let reps = options.representatives as usize;
        let responses = options.responses_per_survey as usize;
        // Prospective organizations are not asked; keep them out where they would leave too few people to ask.
        let prospective =
            if orgs * reps >= responses { (orgs / 100).min((orgs * reps - responses) / reps) } else { orgs / 100 };
        let former = orgs / 100;
        let lapsed = (orgs / 50).max(usize::from(orgs >= 10));
        let per_person = (orgs - prospective) * reps >= responses;
        let first_year = today.year() - options.fiscal_years as i32 + 1;
        let oldest_join = date(first_year - 3, 1, 1);
        let newest_join = today - Duration::days(30);
        let span = (newest_join - oldest_join).num_days().max(1);
        let planned = (0..orgs)
            .map(|o| {
                let from_end = orgs - 1 - o;
                let fate = if o == 0 {
                    "active"
                } else if from_end < prospective {
                    "prospective"
                } else if from_end < prospective + former {
                    "former"
                } else if from_end < prospective + former + lapsed {
                    "lapsed"
                } else {
                    "active"
                };
                let joined = oldest_join + Duration::days((o as i64 * 7919) % span);
                let (joined_on, renews_on) = if fate == "prospective" {
                    (None, None)
                } else {
                    // Renewal falls on the first anniversary after today.
                    let mut renews = joined;
                    while renews <= today {
                        renews = renews.checked_add_months(Months::new(12)).unwrap_or(today + Duration::days(1));
                    }
                    (Some(joined), Some(renews))
                };
                let slug = format!("org-{o:04}");
                Org {
                    id: 0,
                    name: org_name(o),
                    tier: match o % 10 {
                        0 => 0,
                        1..=3 => 1,
                        _ => 2,
                    },
                    joined_on,
                    renews_on,
                    country: COUNTRIES[(o * 3) % COUNTRIES.len()],
                    fate,
                    slug,
                }
            })
            .collect();
        let placeholder = identity(0, "", "", None, Role::Admin);
        Self {
            options,
            today,
            now: db::now(),
            rng: StdRng::seed_from_u64(0x5EED_0012),
            hash,
            admin: placeholder.clone(),
            treasurer: placeholder.clone(),
            council: placeholder,
            tiers: Vec::new(),
            orgs: planned,
            reps: Vec::new(),
            per_person,
            priorities: Vec::new(),
            years: Vec::new(),
            initiatives: Vec::new(),
            allocations: Vec::new(),
        }
    }

    fn current_year(&self) -> usize {
        self.years.len() - 1
    }

    /// The last day of `year` that is not after today.
    fn last_day(&self, year: &FiscalYear) -> NaiveDate {
        year.ends_on.min(self.today)
    }

    // ------------------------------------------------------------------------------------ accounts, members

    /// Staff accounts, tiers, every organization with its history and representatives, their contacts.
    fn accounts_and_members(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        use crate::settings::service as settings;
        settings::set(conn, settings::FOUNDATION_NAME, SITE_NAME)?;
        settings::set(
            conn,
            settings::FOUNDATION_TAGLINE,
            "A thousand member organizations fund the open notebook ecosystem; this is where their money goes.",
        )?;
        let now = self.now;
        for (role, name) in
            [(Role::Admin, "Ada Admin"), (Role::Treasurer, "Tomás Treasurer"), (Role::Council, "Chidi Council")]
        {
            let email = format!("{}@{DOMAIN}", role.as_str());
            let hash = self.hash.as_str();
            let id = db::write_transaction(conn, |conn| {
                let id = crate::on_backend!(conn, |c| diesel::insert_into(users::table)
                    .values((
                        users::email.eq(&email),
                        users::display_name.eq(name),
                        users::password_hash.eq(Some(hash)),
                        users::status.eq("active"),
                        users::password_changed_at.eq(Some(now)),
                        users::created_at.eq(now),
                        users::updated_at.eq(now),
                    ))
                    .returning(users::id)
                    .get_result::<i64>(c))?;
                diesel::insert_into(user_roles::table)
                    .values((
                        user_roles::user_id.eq(id),
                        user_roles::role.eq(role.as_str()),
                        user_roles::granted_at.eq(now),
                    ))
                    .execute(conn)?;
                Ok::<_, ServiceError>(id)
            })?;
            let who = identity(id, &email, name, None, role);
            match role {
                Role::Admin => self.admin = who,
                Role::Treasurer => self.treasurer = who,
                _ => self.council = who,
            }
        }
        for (name, dues, benefits) in TIERS {
            let input = crate::members::service::TierInput {
                name: name.into(),
                annual_dues: dues.into(),
                currency: CURRENCY.into(),
                benefits: benefits.into(),
            };
            self.tiers.push(crate::members::service::create_tier(conn, self.treasurer.user_id, &input)?.id);
        }
        let (treasurer, reps, hash) =
            (self.treasurer.user_id, self.options.representatives as usize, self.hash.clone());
        let tiers = self.tiers.clone();
        let orgs = &mut self.orgs;
        let rep_lists = db::write_transaction(conn, |conn| {
            let rows: Vec<_> = orgs
                .iter()
                .map(|o| {
                    let created = o.joined_on.map(|j| at(j, 9)).unwrap_or(now);
                    (
                        members::slug.eq(o.slug.clone()),
                        members::name.eq(o.name.clone()),
                        members::created_at.eq(created),
                        members::updated_at.eq(now),
                        members::tier_id.eq(Some(tiers[o.tier])),
                        members::status.eq(if o.fate == "prospective" { "prospective" } else { "active" }),
                        members::joined_on.eq(o.joined_on),
                        members::renews_on.eq(o.renews_on),
                        members::website.eq(Some(format!("https://{}.example", o.slug))),
                        members::country.eq(Some(o.country)),
                        members::notes.eq(""),
                    )
                })
                .collect();
            insert_chunks!(conn, members::table, rows);
            let ids: HashMap<String, i64> =
                members::table.select((members::slug, members::id)).load::<(String, i64)>(conn)?.into_iter().collect();
            for o in orgs.iter_mut() {
                o.id = ids.get(&o.slug).copied().ok_or(ServiceError::NotFound("seeded member"))?;
            }
            let history: Vec<_> = orgs
                .iter()
                .map(|o| {
                    let status = if o.fate == "prospective" { "prospective" } else { "active" };
                    let on = o.joined_on.unwrap_or(now.date());
                    (
                        member_history::member_id.eq(o.id),
                        member_history::status.eq(status),
                        member_history::tier_id.eq(Some(tiers[o.tier])),
                        member_history::changed_on.eq(on),
                        member_history::changed_at.eq(o.joined_on.map(|j| at(j, 9)).unwrap_or(now)),
                        member_history::changed_by.eq(Some(treasurer)),
                        member_history::note.eq("created"),
                    )
                })
                .collect();
            insert_chunks!(conn, member_history::table, history);
            let mut people = Vec::with_capacity(orgs.len() * reps);
            for (o, org) in orgs.iter().enumerate() {
                for r in 0..reps {
                    let email = format!("rep-{o:04}-{r}@{DOMAIN}");
                    let name = person(o * reps + r);
                    people.push((org.id, email, name));
                }
            }
            let rows: Vec<_> = people
                .iter()
                .map(|(member_id, email, name)| {
                    (
                        users::email.eq(email.as_str()),
                        users::display_name.eq(name.as_str()),
                        users::password_hash.eq(Some(hash.as_str())),
                        users::status.eq("active"),
                        users::member_id.eq(Some(*member_id)),
                        users::password_changed_at.eq(Some(now)),
                        users::created_at.eq(now),
                        users::updated_at.eq(now),
                    )
                })
                .collect();
            insert_chunks!(conn, users::table, rows);
            let ids: HashMap<String, i64> = users::table
                .filter(users::member_id.is_not_null())
                .select((users::email, users::id))
                .load::<(String, i64)>(conn)?
                .into_iter()
                .collect();
            let mut lists: Vec<Vec<(i64, String, String)>> = vec![Vec::with_capacity(reps); orgs.len()];
            for (i, (_, email, name)) in people.into_iter().enumerate() {
                let id = ids.get(&email).copied().ok_or(ServiceError::NotFound("seeded user"))?;
                lists[i / reps].push((id, email, name));
            }
            let roles: Vec<_> = lists
                .iter()
                .flatten()
                .map(|(id, _, _)| {
                    (
                        user_roles::user_id.eq(*id),
                        user_roles::role.eq(Role::MemberRep.as_str()),
                        user_roles::granted_at.eq(now),
                    )
                })
                .collect();
            insert_chunks!(conn, user_roles::table, roles);
            // The first representative is the primary contact, the second (if any) the billing contact.
            for (org, list) in orgs.iter().zip(&lists) {
                let primary = list.first().map(|r| r.0);
                let billing = list.get(1).or(list.first()).map(|r| r.0);
                diesel::update(members::table.find(org.id))
                    .set((members::primary_contact_id.eq(primary), members::billing_contact_id.eq(billing)))
                    .execute(conn)?;
            }
            Ok::<_, ServiceError>(lists)
        })?;
        self.reps = rep_lists;
        Ok(())
    }

    // ------------------------------------------------------------------------------- priorities and years

    fn priorities_and_years(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        use crate::funding::service::{self as funding, PriorityInput};
        for (slug, title, summary, outcomes) in PRIORITIES {
            let input = PriorityInput {
                slug: slug.into(),
                title: title.into(),
                summary: summary.into(),
                outcomes: outcomes.iter().map(|o| o.to_string()).collect(),
            };
            let priority = funding::create_priority(conn, Actor::User(self.council.user_id), &input)?;
            let outcomes: Vec<i64> = key_outcomes::table
                .filter(key_outcomes::priority_id.eq(priority.id))
                .order(key_outcomes::position)
                .select(key_outcomes::id)
                .load(conn)?;
            self.priorities.push((priority.id, outcomes));
        }
        let treasurer = self.treasurer.user_id;
        let current = self.today.year();
        for k in 0..self.options.fiscal_years as i32 {
            let y = current - self.options.fiscal_years as i32 + 1 + k;
            let year = crate::ledger::service::create_year(
                conn,
                treasurer,
                &format!("FY{y}"),
                &format!("{y}-01-01"),
                &format!("{y}-12-31"),
            )?;
            // Every year is open while it is seeded; the past ones close at the end.
            crate::ledger::service::set_year_status(conn, treasurer, year.id, "open")?;
            self.years.push(crate::ledger::service::find_year(conn, year.id)?);
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------------- funding

    /// Plans the initiatives and their allocations, sets budgets that hold them (with line items), moves each
    /// year's budget into its priority's fund, then proposes, approves, starts and funds the initiatives.
    fn funding(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        use crate::funding::service::{self as funding, AllocationInput, BudgetInput, InitiativeInput};
        let (n_years, cur) = (self.years.len(), self.current_year());
        for i in 0..self.options.initiatives as usize {
            let status = STATUS_PATTERN[i % STATUS_PATTERN.len()];
            let years: Vec<usize> = match status {
                "approved" => vec![cur],
                "active" if n_years >= 2 && i % 3 != 0 => vec![cur - 1, cur],
                "active" => vec![cur],
                "completed" if n_years >= 2 => vec![(i / 10) % (n_years - 1)],
                "completed" => vec![cur],
                _ => Vec::new(),
            };
            let dollars = 5_000 + ((i as i64 * 37) % 56) * 1_000;
            let mut title = format!("{} {}", ACTIONS[i % 15], SUBJECTS[(i / 15) % 15]);
            if i >= 225 {
                title = format!("{title} (phase {})", i / 225 + 1);
            }
            self.initiatives.push(Planned {
                id: 0,
                priority: i % PRIORITIES.len(),
                status,
                title,
                lead: person(i * 11 + 3),
                allocations: years.into_iter().map(|y| (y, dollars * 100, i % LINES.len())).collect(),
            });
        }
        let treasurer = self.treasurer.user_id;
        let round_up = |minor: i64, step: i64| (minor + step - 1) / step * step;
        for (y, year) in self.years.iter().enumerate() {
            for (p, (priority_id, _)) in self.priorities.iter().enumerate() {
                let mut per_line = [0i64; 3];
                for plan in self.initiatives.iter().filter(|x| x.priority == p) {
                    for (_, amount, line) in plan.allocations.iter().filter(|a| a.0 == y) {
                        per_line[*line] += amount;
                    }
                }
                let lines: Vec<(String, String)> = LINES
                    .iter()
                    .zip(per_line)
                    .map(|(label, sum)| (label.to_string(), money(round_up(sum * 6 / 5, 100_000).max(1_000_000))))
                    .collect();
                let lined: i64 = per_line.iter().map(|sum| round_up(sum * 6 / 5, 100_000).max(1_000_000)).sum();
                let envelope = lined + 2_500_000;
                funding::set_budget(
                    conn,
                    treasurer,
                    year.id,
                    *priority_id,
                    &BudgetInput { amount: money(envelope), lines },
                )?;
            }
        }
        // The year's budgets move from the general fund to each priority's fund early in the year.
        let transfers = 2 * self.years.len() * self.priorities.len();
        if transfers as u32 <= self.options.ledger_entries / 4 {
            db::write_transaction(conn, |conn| {
                let envelopes: Vec<(i64, i64, i64)> = budgets::table
                    .select((budgets::fiscal_year_id, budgets::priority_id, budgets::amount_minor))
                    .load(conn)?;
                for year in &self.years {
                    let on = (year.starts_on + Duration::days(9)).min(self.today);
                    for (_, priority_id, amount) in envelopes.iter().filter(|e| e.0 == year.id) {
                        let input = crate::ledger::service::TransferInput {
                            entry_date: on.to_string(),
                            amount: money(*amount),
                            from_priority_id: None,
                            to_priority_id: Some(*priority_id),
                            memo: format!("{}: the budget moves to the priority's fund", year.label),
                        };
                        crate::ledger::service::post_transfer(conn, treasurer, &input)?;
                    }
                }
                Ok::<_, ServiceError>(())
            })?;
        }
        let lines: Vec<(i64, String, i64, i64)> = budget_lines::table
            .inner_join(budgets::table)
            .select((budget_lines::id, budget_lines::label, budgets::fiscal_year_id, budgets::priority_id))
            .load(conn)?;
        let (council, treasurer_who) = (self.council.clone(), self.treasurer.clone());
        let (years, priorities, today) = (&self.years, &self.priorities, self.today);
        let plans = &mut self.initiatives;
        let made = &mut self.allocations;
        db::write_transaction(conn, |conn| {
            for (i, plan) in plans.iter_mut().enumerate() {
                let first = plan.allocations.first().map(|a| &years[a.0]);
                let starts_on = first.map(|y| (y.starts_on + Duration::days(31)).min(today));
                let ends_on = match (plan.status, first) {
                    ("completed", Some(y)) => Some(y.ends_on.min(today).max(starts_on.unwrap_or(y.starts_on))),
                    _ => None,
                };
                let input = InitiativeInput {
                    priority_id: priorities[plan.priority].0.to_string(),
                    title: plan.title.clone(),
                    summary: format!(
                        "{}: funded work with a named lead, milestones and a public report at the end.",
                        plan.title
                    ),
                    subprojects: SUBJECTS[(i / 15) % 15].trim_start_matches("the ").to_string(),
                    lead: plan.lead.clone(),
                    starts_on: starts_on.map(|d| d.to_string()).unwrap_or_default(),
                    ends_on: ends_on.map(|d| d.to_string()).unwrap_or_default(),
                };
                plan.id = funding::create_initiative(conn, council.user_id, &input)?.id;
                let steps: &[&str] = match plan.status {
                    "approved" => &["approved"],
                    "active" | "completed" => &["approved", "active"],
                    "cancelled" if i % 20 == 6 => &["cancelled"],
                    "cancelled" => &["approved", "cancelled"],
                    _ => &[],
                };
                for to in steps {
                    let who = if *to == "approved" || (*to == "cancelled" && i % 20 == 6) {
                        &council
                    } else {
                        &treasurer_who
                    };
                    let note = match *to {
                        "approved" => "Approved at the council meeting",
                        "cancelled" => "The lead moved on; the work is paused",
                        _ => "",
                    };
                    funding::change_status(conn, who, plan.id, to, note)?;
                }
                for (y, amount, line) in &plan.allocations {
                    let year = &years[*y];
                    let line_id = lines
                        .iter()
                        .find(|l| l.1 == LINES[*line] && l.2 == year.id && l.3 == priorities[plan.priority].0)
                        .map(|l| l.0.to_string())
                        .unwrap_or_default();
                    let input = AllocationInput {
                        fiscal_year_id: year.id.to_string(),
                        amount: money(*amount),
                        budget_line_id: line_id,
                        note: String::new(),
                    };
                    let allocation = funding::allocate(conn, treasurer, plan.id, &input)?;
                    made.push((allocation.id, i, *y, *amount));
                }
            }
            Ok::<_, ServiceError>(())
        })
    }

    // ------------------------------------------------------------------------------------- disbursements

    /// Paid disbursements in every year (posted to the ledger), and this year's open work for the treasurer:
    /// requests to approve, approved ones to pay, a few turned down. Then completed initiatives complete.
    fn disbursements(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        use crate::disbursements::service::{self as disbursements, RequestInput};
        let per_year = 8;
        let paid_cap = (per_year * self.years.len()).min(self.options.ledger_entries as usize / 8);
        let (council, treasurer) = (self.council.clone(), self.treasurer.clone());
        let cur = self.current_year();
        let mut committed: HashMap<i64, i64> = HashMap::new();
        let mut n = 0usize;
        let mut request = |conn: &mut DbConn, made: &Made, share: i64, cap: i64, plans: &[Planned]| {
            let (allocation, i, y, amount) = *made;
            let used = committed.entry(allocation).or_insert(0);
            let minor = ((amount - *used) / share).min(cap) / 100 * 100;
            if minor < 10_000 {
                return Ok(None);
            }
            *used += minor;
            n += 1;
            let plan = &plans[i];
            let input = RequestInput {
                allocation_id: allocation.to_string(),
                payee: format!("{} (contractor)", plan.lead),
                amount: money(minor),
                currency: String::new(),
                purpose: format!("{}: milestone {}", plan.title, n),
                document_url: format!("https://invoices.example/{y}/{n:04}.pdf"),
            };
            disbursements::request(conn, council.user_id, &input).map(|d| Some(d.id))
        };
        let plans = &self.initiatives;
        let allocations = &self.allocations;
        let years = &self.years;
        let today = self.today;
        db::write_transaction(conn, |conn| {
            let mut paid = vec![0usize; years.len()];
            let mut total = 0;
            for made in allocations.iter().filter(|m| matches!(plans[m.1].status, "active" | "completed")) {
                if total >= paid_cap || paid[made.2] >= per_year {
                    continue;
                }
                let Some(id) = request(conn, made, 4, 900_000, plans)? else { continue };
                disbursements::approve(conn, &treasurer, id)?;
                let year = &years[made.2];
                let month = 2 + (paid[made.2] as u32 % 10);
                let on = date(year.starts_on.year(), month, 25).min(today).max(year.starts_on);
                disbursements::pay(conn, treasurer.user_id, id, &on.to_string())?;
                paid[made.2] += 1;
                total += 1;
            }
            // This year's open work: (requests, of which approved, of which turned down).
            let open: Vec<&Made> = allocations
                .iter()
                .filter(|m| m.2 == cur && matches!(plans[m.1].status, "active" | "approved"))
                .collect();
            for k in 0..12 {
                let Some(made) = open.get(k % open.len().max(1)) else { break };
                let Some(id) = request(conn, made, 5, 800_000, plans)? else { continue };
                match k % 12 {
                    0..=4 => {}
                    5..=9 => {
                        disbursements::approve(conn, &treasurer, id)?;
                    }
                    _ => {
                        disbursements::reject(conn, &treasurer, id, "Please attach the signed statement of work.")?;
                    }
                }
            }
            for plan in plans.iter().filter(|p| p.status == "completed") {
                crate::funding::service::change_status(conn, &treasurer, plan.id, "completed", "Delivered and paid")?;
            }
            Ok::<_, ServiceError>(())
        })
    }

    // ---------------------------------------------------------------------------------------------- dues

    /// This year's invoice for every active organization; most paid in full, some in part, the rest overdue.
    fn dues(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        use crate::dues::service as dues;
        let year = &self.years[self.current_year()];
        let issued_on = (year.starts_on + Duration::days(14)).min(self.today);
        dues::issue_for_year(conn, &self.treasurer, year.id, issued_on)?;
        let all: Vec<(i64, i64, i64, NaiveDate)> = invoices::table
            .filter(invoices::fiscal_year_id.eq(year.id))
            .order(invoices::number)
            .select((invoices::id, invoices::number, invoices::amount_minor, invoices::period_start))
            .load(conn)?;
        let cap = self.options.ledger_entries as usize / 4;
        let (treasurer, today) = (&self.treasurer, self.today);
        db::write_transaction(conn, |conn| {
            let mut paid = 0;
            for (j, (id, number, amount, period_start)) in all.iter().enumerate() {
                let amount = match j % 10 {
                    0..=6 => *amount,
                    7 => *amount / 2,
                    _ => 0,
                };
                let earliest = issued_on.max(*period_start);
                if paid >= cap || amount <= 0 || earliest > today {
                    continue;
                }
                let paid_on = (earliest + Duration::days((j as i64 * 13) % 75)).min(today);
                let reference = format!("Wire {number:05}");
                dues::record_payment(conn, treasurer, *id, &money(amount), &paid_on.to_string(), &reference)?;
                paid += 1;
            }
            Ok::<_, ServiceError>(())
        })
    }

    // ------------------------------------------------------------------------------------------- metrics

    /// Metrics through the service, each tied to a priority, a key outcome and some of its initiatives; their
    /// observations in bulk, every few days back from today, as an import of repository data would write
    /// them. Returns the first metric's id.
    fn metrics(&mut self, conn: &mut DbConn) -> Result<i64, ServiceError> {
        use crate::metrics::service::{self as metrics_service, MetricInput};
        let per_metric = self.options.observations_per_metric as i64;
        let target_on = date(self.today.year() + 1, 12, 31);
        let mut first = None;
        let mut rows = Vec::new();
        for m in 0..self.options.metrics as usize {
            let (unit, direction, base_name, baseline, target, whole) = METRIC_SHAPES[m % METRIC_SHAPES.len()];
            let p = m % self.priorities.len();
            let (priority_id, outcomes) = &self.priorities[p];
            let linked: Vec<String> = self
                .initiatives
                .iter()
                .filter(|x| x.priority == p && x.status != "cancelled")
                .skip(m / self.priorities.len() % 3)
                .take(2)
                .map(|x| x.id.to_string())
                .collect();
            let step = 1 + (m as i64 % 5);
            // Every seventeenth metric has had no value for a while: stale.
            let last = self.today - Duration::days(if m % 17 == 16 { 90 } else { m as i64 % 4 });
            let baseline_on = last - Duration::days(step * (per_metric - 1));
            let area = SUBJECTS[(m / METRIC_SHAPES.len()) % SUBJECTS.len()].trim_start_matches("the ");
            let mut name = format!("{base_name}: {area}");
            if m >= METRIC_SHAPES.len() * SUBJECTS.len() {
                name = format!("{name} ({})", m / (METRIC_SHAPES.len() * SUBJECTS.len()) + 1);
            }
            let input = MetricInput {
                slug: format!("metric-{m:03}"),
                name,
                description: format!("Measured for the priority '{}'.", PRIORITIES[p].1),
                unit: unit.into(),
                direction: direction.into(),
                priority_id: priority_id.to_string(),
                key_outcome_id: outcomes
                    .get((m / self.priorities.len()) % 2)
                    .map(|o| o.to_string())
                    .unwrap_or_default(),
                initiative_ids: linked,
                baseline: milli(baseline),
                baseline_on: baseline_on.to_string(),
                target: milli(target),
                target_on: target_on.to_string(),
                source: "import".into(),
                survey_question_id: String::new(),
                survey_aggregate: String::new(),
                expected_interval_days: (step * 3 + 7).to_string(),
                scope_notes: "Counted from the foundation's repositories.".into(),
            };
            let metric = metrics_service::create_metric(conn, self.council.user_id, &input)?;
            first.get_or_insert(metric.id);
            let pace = PACES[(m / METRIC_SHAPES.len()) % PACES.len()];
            let plan_days = i128::from((target_on - baseline_on).num_days().max(1));
            let change = i128::from(target - baseline);
            let round = if whole { 1000 } else { 100 };
            for i in 0..per_metric {
                let on = baseline_on + Duration::days(step * i);
                let elapsed = i128::from((on - baseline_on).num_days());
                let planned = change * i128::from(pace) * elapsed / (100 * plan_days);
                let wobble = change.abs() * i128::from(WOBBLE[(i as usize + m) % WOBBLE.len()]) / 100;
                let value = (i128::from(baseline) + planned + wobble).max(0) as i64;
                let value = (value + round / 2) / round * round;
                rows.push((metric.id, on, value));
            }
        }
        let (council, now) = (self.council.user_id, self.now);
        db::write_transaction(conn, |conn| {
            let values: Vec<_> = rows
                .iter()
                .map(|(metric, on, value)| {
                    (
                        metric_observations::metric_id.eq(*metric),
                        metric_observations::observed_on.eq(*on),
                        metric_observations::value_milli.eq(*value),
                        metric_observations::source.eq("import"),
                        metric_observations::source_label.eq("repository data"),
                        metric_observations::note.eq(""),
                        metric_observations::recorded_by.eq(Some(council)),
                        metric_observations::recorded_at.eq(now),
                    )
                })
                .collect();
            insert_chunks!(conn, metric_observations::table, values);
            Ok::<_, ServiceError>(())
        })?;
        first.ok_or(ServiceError::NotFound("seeded metric"))
    }

    // ------------------------------------------------------------------------------------------- surveys

    /// Half-yearly waves of the anonymous member survey, the newest last, each repeating the questions of
    /// the one before. Each is drafted, opened (personal links to every representative, through the outbox)
    /// and, but for the newest when there are several, closed through the service; its complete responses
    /// are written in bulk as `surveys::service::answer` writes them. Returns the newest closed wave's id.
    fn surveys(&mut self, conn: &mut DbConn) -> Result<i64, ServiceError> {
        use crate::surveys::service::{self as surveys_service, MailSettings, QuestionInput, SurveyInput};
        let mail = MailSettings {
            site_name: SITE_NAME.into(),
            base_url: BASE_URL.into(),
            key: crate::config::SigningKey(crate::settings::service::secret_key(conn)?),
        };
        let council = self.council.user_id;
        let waves = self.options.surveys as usize;
        let responses = self.options.responses_per_survey as usize;
        let tier_of: HashMap<i64, i64> = self.orgs.iter().map(|o| (o.id, self.tiers[o.tier])).collect();
        let current_half = self.today.year() * 2 + i32::from(self.today.month() > 6);
        let mut previous: Option<i64> = None;
        let mut closed = None;
        let mut used_ids: HashSet<i64> = HashSet::new();
        for k in 0..waves {
            let stays_open = k + 1 == waves && waves >= 2;
            let half = current_half - (waves - 1 - k) as i32;
            let (year, h) = (half.div_euclid(2), half.rem_euclid(2) + 1);
            // The service opens a survey only while its closing time is ahead; the real dates follow below.
            let now = db::now();
            let input = SurveyInput {
                title: if self.per_person { "Member survey" } else { "Community survey" }.into(),
                introduction: "Ten minutes, twice a year: what membership is worth to you, how the software serves \
                               you, and where the foundation should spend next."
                    .into(),
                cycle: format!("{year}-H{h}"),
                opens_at: (now - Duration::days(1)).format("%Y-%m-%dT%H:%M").to_string(),
                closes_at: (now + Duration::days(20)).format("%Y-%m-%dT%H:%M").to_string(),
                audience: if self.per_person { "per_person" } else { "community" }.into(),
                anonymous: true,
                min_group_size: "5".into(),
                reminder_days: "7, 2".into(),
                targets: Vec::new(),
            };
            let survey = surveys_service::create_survey(conn, council, &input)?;
            match previous {
                Some(earlier) => {
                    surveys_service::copy_questions(conn, council, survey.id, earlier)?;
                }
                None => {
                    for (kind, prompt, required, options) in QUESTIONS {
                        let q = QuestionInput {
                            kind: kind.into(),
                            prompt: prompt.into(),
                            required,
                            options: options.into(),
                        };
                        surveys_service::add_question(conn, council, survey.id, &q)?;
                    }
                }
            }
            surveys_service::open_survey(conn, council, survey.id, &mail)?;
            let questions = surveys_service::questions(conn, survey.id)?;
            let (opens_at, closes_at) = if stays_open {
                (now - Duration::days(10), now + Duration::days(14))
            } else {
                let start = date(year, if h == 1 { 2 } else { 8 }, 1);
                let closes = at(start + Duration::days(42), 17).min(now - Duration::hours(1));
                (at(start, 9).min(closes - Duration::days(14)), closes)
            };
            let first_day = opens_at.date();
            let last_day = closes_at.min(now).date().max(first_day);
            let days = (last_day - first_day).num_days() + 1;
            // Who answered: the first `responses` invitations (each representative answers once); a community
            // survey has no invitations and no tiers.
            let answered: Vec<(i64, Option<i64>)> = if self.per_person {
                let invited: Vec<(i64, Option<i64>)> = survey_invitations::table
                    .filter(survey_invitations::survey_id.eq(survey.id))
                    .order(survey_invitations::id)
                    .select((survey_invitations::id, survey_invitations::member_id))
                    .load(conn)?;
                if invited.len() < responses {
                    return Err(ServiceError::Internal(format!(
                        "{} people were asked, fewer than the {responses} responses to seed",
                        invited.len()
                    )));
                }
                invited.into_iter().take(responses).collect()
            } else {
                vec![(0, None); responses]
            };
            let mut response_rows = Vec::with_capacity(responses);
            let mut answer_rows = Vec::with_capacity(responses * questions.len());
            for (_, member) in &answered {
                let id = loop {
                    let candidate = self.rng.random::<i64>() & i64::MAX;
                    if candidate > 0 && used_ids.insert(candidate) {
                        break candidate;
                    }
                };
                let tier = member.and_then(|m| tier_of.get(&m).copied());
                let day = first_day + Duration::days(self.rng.random_range(0..days));
                response_rows.push((id, hash_token(&format!("resume:{}", random_token())), tier, day));
                for q in &questions {
                    if let Some(a) = answer_to(q, &mut self.rng) {
                        let value = serde_json::to_string(&a).map_err(|e| ServiceError::Internal(e.to_string()))?;
                        answer_rows.push((id, q.id, value));
                    }
                }
            }
            db::write_transaction(conn, |conn| {
                let rows: Vec<_> = response_rows
                    .iter()
                    .map(|(id, resume, tier, day)| {
                        (
                            survey_responses::id.eq(*id),
                            survey_responses::survey_id.eq(survey.id),
                            survey_responses::resume_hash.eq(resume.as_str()),
                            survey_responses::tier_id.eq(*tier),
                            survey_responses::status.eq("submitted"),
                            survey_responses::updated_on.eq(*day),
                        )
                    })
                    .collect();
                insert_chunks!(conn, survey_responses::table, rows);
                let rows: Vec<_> = answer_rows
                    .iter()
                    .map(|(response, question, value)| {
                        (
                            survey_answers::response_id.eq(*response),
                            survey_answers::question_id.eq(*question),
                            survey_answers::value.eq(value.as_str()),
                        )
                    })
                    .collect();
                insert_chunks!(conn, survey_answers::table, rows);
                // Their links were used (which response is whose is not recorded).
                let used: Vec<i64> = answered.iter().map(|a| a.0).collect();
                for chunk in used.chunks(CHUNK).filter(|_| self.per_person) {
                    diesel::update(survey_invitations::table.filter(survey_invitations::id.eq_any(chunk)))
                        .set(survey_invitations::used.eq(true))
                        .execute(conn)?;
                }
                diesel::update(survey_invitations::table.filter(survey_invitations::survey_id.eq(survey.id)))
                    .set(survey_invitations::sent_on.eq(first_day))
                    .execute(conn)?;
                diesel::update(surveys::table.find(survey.id))
                    .set((surveys::opens_at.eq(opens_at), surveys::closes_at.eq(closes_at)))
                    .execute(conn)?;
                Ok::<_, ServiceError>(())
            })?;
            if !stays_open {
                surveys_service::close_survey(conn, &mail.key, council, survey.id)?;
                closed = Some(survey.id);
            }
            previous = Some(survey.id);
        }
        closed.ok_or(ServiceError::NotFound("closed seeded survey"))
    }

    // ---------------------------------------------------------------------------------- lapsed, feedback

    /// A few organizations lapse or leave after the surveys, through the member service (with history).
    fn lapse(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        let treasurer = self.treasurer.clone();
        let leaving: Vec<&Org> = self.orgs.iter().filter(|o| matches!(o.fate, "lapsed" | "former")).collect();
        let tiers = &self.tiers;
        db::write_transaction(conn, |conn| {
            for o in leaving {
                // A lapsed organization missed its last renewal; a former one has none.
                let renews_on = match o.fate {
                    "lapsed" => o
                        .renews_on
                        .and_then(|r| r.checked_sub_months(Months::new(12)))
                        .filter(|r| Some(*r) > o.joined_on)
                        .or(o.renews_on),
                    _ => None,
                };
                let fields = crate::members::service::MemberFields {
                    name: o.name.clone(),
                    slug: o.slug.clone(),
                    tier: tiers[o.tier].to_string(),
                    status: o.fate.into(),
                    joined_on: o.joined_on.map(|d| d.to_string()).unwrap_or_default(),
                    renews_on: renews_on.map(|d| d.to_string()).unwrap_or_default(),
                    website: format!("https://{}.example", o.slug),
                    country: o.country.into(),
                    logo_url: String::new(),
                    notes: if o.fate == "lapsed" { "Did not renew; in talks." } else { "Left the foundation." }.into(),
                };
                crate::members::service::update_member(conn, &treasurer, o.id, &fields)?;
            }
            Ok::<_, ServiceError>(())
        })
    }

    /// A few suggestions from representatives; the council answers some of them (which queues an email).
    fn feedback(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        use crate::feedback::service::{self as feedback, FeedbackInput};
        let active: Vec<usize> = (0..self.orgs.len()).filter(|o| self.orgs[*o].fate == "active").collect();
        for (k, (subject, body, priority)) in FEEDBACK.iter().enumerate() {
            let Some(o) = active.get(k % active.len().max(1)) else { break };
            let (user_id, email, name) = &self.reps[*o][0];
            let sender = identity(*user_id, email, name, Some(self.orgs[*o].id), Role::MemberRep);
            let input = FeedbackInput {
                subject: subject.to_string(),
                body: body.to_string(),
                priority_id: priority.map(|p| self.priorities[p].0.to_string()).unwrap_or_default(),
                initiative_id: String::new(),
            };
            let item = feedback::send(conn, &sender, &input)?;
            let (status, quotable) = match k % 4 {
                0 => ("answered", true),
                1 => ("planned", true),
                2 => ("declined", false),
                _ => continue,
            };
            let answer = "Thank you: the council discussed this at its last meeting.";
            feedback::answer(conn, self.council.user_id, item.id, status, answer, quotable, SITE_NAME, BASE_URL)?;
        }
        Ok(())
    }

    // -------------------------------------------------------------------------------------------- ledger

    /// The rest of the ledger, so that it holds `ledger_entries` in all: adjustments in and out (donations,
    /// sponsorships, hosting, travel), most charged to a priority's fund, spread over every day of the years
    /// up to today, in the base currency at the rate 1, as `ledger::service::post_adjustment` writes them.
    fn ledger(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        let posted: i64 = ledger_entries::table.count().get_result(conn)?;
        let missing = i64::from(self.options.ledger_entries) - posted;
        if missing < 0 {
            return Err(ServiceError::Internal(format!(
                "the services posted {posted} entries, more than the {} asked for",
                self.options.ledger_entries
            )));
        }
        // Days each year covers (up to today), to spread the entries evenly over time.
        let spans: Vec<(i64, NaiveDate, i64)> =
            self.years.iter().map(|y| (y.id, y.starts_on, (self.last_day(y) - y.starts_on).num_days() + 1)).collect();
        let total_days: i64 = spans.iter().map(|s| s.2).sum();
        let (treasurer, now) = (self.treasurer.user_id, self.now);
        let mut rows = Vec::with_capacity(missing as usize);
        for n in 0..missing {
            let mut offset = self.rng.random_range(0..total_days);
            let (year_id, on) = spans
                .iter()
                .find_map(|(id, start, days)| {
                    if offset < *days {
                        Some((*id, *start + Duration::days(offset)))
                    } else {
                        offset -= days;
                        None
                    }
                })
                .unwrap_or((spans[0].0, spans[0].1));
            let income = self.rng.random_bool(0.55);
            let (amount, memo) = if income {
                (self.rng.random_range(2_500..=250_000i64), INCOME_MEMOS[self.rng.random_range(0..INCOME_MEMOS.len())])
            } else {
                (
                    -self.rng.random_range(1_000..=150_000i64),
                    SPENDING_MEMOS[self.rng.random_range(0..SPENDING_MEMOS.len())],
                )
            };
            let priority =
                self.rng.random_bool(0.8).then(|| self.priorities[self.rng.random_range(0..self.priorities.len())].0);
            rows.push((on, year_id, amount, priority, format!("{memo} (ref {:06})", n + 1)));
        }
        db::write_transaction(conn, |conn| {
            let values: Vec<_> = rows
                .iter()
                .map(|(on, year_id, amount, priority, memo)| {
                    (
                        ledger_entries::entry_date.eq(*on),
                        ledger_entries::fiscal_year_id.eq(*year_id),
                        ledger_entries::kind.eq("adjustment"),
                        ledger_entries::amount_minor.eq(*amount),
                        ledger_entries::currency.eq(CURRENCY),
                        ledger_entries::base_amount_minor.eq(*amount),
                        ledger_entries::exchange_rate.eq("1"),
                        ledger_entries::memo.eq(memo.as_str()),
                        ledger_entries::created_at.eq(now),
                        ledger_entries::created_by.eq(Some(treasurer)),
                        ledger_entries::priority_id.eq(*priority),
                    )
                })
                .collect();
            insert_chunks!(conn, ledger_entries::table, values);
            Ok::<_, ServiceError>(())
        })
    }

    /// Every year before the current one is closed, as the treasurer closes a year once its books are done.
    fn close_past_years(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        for year in &self.years[..self.current_year()] {
            crate::ledger::service::set_year_status(conn, self.treasurer.user_id, year.id, "closed")?;
        }
        Ok(())
    }

    /// The emails the services queued (survey invitations, feedback answers) went out when they were due: a
    /// bench server must not spend its time delivering years of history. Marked as the worker marks a
    /// delivery.
    fn mail_delivered(&mut self, conn: &mut DbConn) -> Result<(), ServiceError> {
        mark_mail_delivered(conn).map(drop)
    }
}

/// One respondent's answer to `q`, as `surveys::service::check_answers` would store it: every required
/// question answered, the optional ones often left blank (then no row).
fn answer_to(q: &Question, rng: &mut StdRng) -> Option<Answer> {
    let pick = |rng: &mut StdRng, weights: &[u32]| -> i64 {
        let total: u32 = weights.iter().sum();
        let mut x = rng.random_range(0..total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i as i64;
            }
            x -= w;
        }
        0
    };
    let options = q.labels().len();
    Some(match q.kind.as_str() {
        // Points 1 to 5, leaning to agreement.
        "likert" => Answer::Number(1 + pick(rng, &[1, 2, 3, 5, 3])),
        // 0 to 10: promoters, passives and some detractors.
        "nps" => Answer::Number(pick(rng, &[1, 1, 1, 1, 2, 3, 4, 6, 8, 7, 6])),
        "single" => Answer::Number(pick(rng, &[6, 3, 2, 1][..options.min(4)])),
        "multi" => {
            let mut chosen: Vec<i64> = (0..options as i64).filter(|_| rng.random_bool(0.4)).collect();
            if chosen.is_empty() {
                chosen.push(rng.random_range(0..options as i64));
            }
            Answer::List(chosen)
        }
        "ranking" => {
            let mut order: Vec<i64> = (0..options as i64).collect();
            order.shuffle(rng);
            Answer::List(order)
        }
        "points" => {
            let n = q.priority_ids().len();
            // Cut 100 into n parts at random multiples of 5.
            let mut cuts: Vec<i64> = (1..n).map(|_| rng.random_range(0..=20) * 5).collect();
            cuts.sort();
            let mut points = Vec::with_capacity(n);
            let mut last = 0;
            for c in cuts.into_iter().chain(std::iter::once(100)) {
                points.push(c - last);
                last = c;
            }
            Answer::List(points)
        }
        "number" if rng.random_bool(0.8) => Answer::Number(rng.random_range(1..=400) * 1000),
        "short_text" if rng.random_bool(0.6) => {
            Answer::Text(STRENGTHS[rng.random_range(0..STRENGTHS.len())].to_string())
        }
        "long_text" if rng.random_bool(0.35) => Answer::Text(COMMENTS[rng.random_range(0..COMMENTS.len())].to_string()),
        _ => return None,
    })
}

/// Marks every pending email as sent (the bench delivers nothing): how many there were.
pub(crate) fn mark_mail_delivered(conn: &mut DbConn) -> Result<usize, ServiceError> {
    let now = crate::db::now();
    Ok(diesel::update(outbox::table.filter(outbox::status.eq("pending")))
        .set((
            outbox::status.eq("sent"),
            outbox::attempts.eq(1),
            outbox::sent_at.eq(Some(now)),
            outbox::updated_at.eq(now),
        ))
        .execute(conn)?)
}
