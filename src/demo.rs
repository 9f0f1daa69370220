//! `steward demo`: a fresh SQLite file filled with a realistic foundation, served at once.
//!
//! Every feature adds its part here, so the demo always shows all of them.

use std::path::Path;

use diesel::prelude::*;

use crate::accounts::model::AuthMethod;
use crate::accounts::service::{self as accounts, InviteInput, RequestMeta};
use crate::accounts::session::SessionPolicy;
use crate::accounts::{Identity, Role};
use crate::audit::Actor;
use crate::db::schema::{membership_tiers, users};
use crate::db::{self, DbConn};
use crate::domain::ServiceError;
use crate::funding::service::{self as funding, PriorityInput};
use crate::members::service::{self as members, MemberFields, TierInput};
use crate::settings::service as settings;

pub const FOUNDATION_NAME: &str = "Open Notebook Foundation";

/// Every demo account signs in with this password.
pub const DEMO_PASSWORD: &str = "steward-demo-passphrase";

/// The demo's accounts: (email, name, roles, slug of the organization for representatives).
pub const DEMO_USERS: &[(&str, &str, &[Role], Option<&str>)] = &[
    ("admin@demo.steward.invalid", "Ada Admin", &[Role::Admin], None),
    ("treasurer@demo.steward.invalid", "Tomás Treasurer", &[Role::Treasurer], None),
    ("council@demo.steward.invalid", "Chidi Council", &[Role::Council], None),
    ("rep@demo.steward.invalid", "Rae Representative", &[Role::MemberRep], Some("quanta-labs")),
    ("rep2@demo.steward.invalid", "Ravi Representative", &[Role::MemberRep], Some("northwind-analytics")),
];

/// Tiers: (name, yearly dues in dollars, benefits).
const TIERS: &[(&str, &str, &str)] = &[
    ("Platinum", "100000", "A seat on the council, logo on the website, quarterly briefing with the maintainers"),
    ("Gold", "50000", "Logo on the website, quarterly briefing with the maintainers"),
    ("Silver", "20000", "Logo on the website"),
    ("Community", "5000", "Listed as a supporter"),
];

/// Organizations: (slug, name, tier, status, joined, country).
const MEMBERS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("quanta-labs", "Quanta Labs", "Platinum", "active", "2023-02-01", "US"),
    ("northwind-analytics", "Northwind Analytics", "Gold", "active", "2023-04-15", "GB"),
    ("helio-university", "Helio University", "Community", "active", "2023-09-01", "DE"),
    ("bluefin-data", "Bluefin Data", "Gold", "active", "2024-01-10", "US"),
    ("cedar-health", "Cedar Health Research", "Silver", "active", "2024-02-01", "CA"),
    ("deltaforge", "DeltaForge Systems", "Platinum", "active", "2023-06-01", "US"),
    ("ember-ai", "Ember AI", "Silver", "active", "2024-03-18", "FR"),
    ("fjord-computing", "Fjord Computing", "Silver", "active", "2024-05-01", "NO"),
    ("granite-cloud", "Granite Cloud", "Gold", "active", "2023-11-01", "US"),
    ("harbor-institute", "Harbor Institute for Data Science", "Community", "active", "2024-07-01", "AU"),
    ("iris-genomics", "Iris Genomics", "Silver", "active", "2025-01-15", "CH"),
    ("juniper-bank", "Juniper Bank", "Gold", "active", "2025-02-01", "NL"),
    ("kestrel-robotics", "Kestrel Robotics", "Silver", "active", "2025-03-01", "JP"),
    ("lumen-press", "Lumen Press", "Community", "active", "2025-04-01", "US"),
    ("meridian-energy", "Meridian Energy", "Gold", "active", "2024-09-01", "ES"),
    ("nimbus-edu", "Nimbus Education Trust", "Community", "active", "2025-06-01", "IE"),
    ("orbital-insight", "Orbital Insight Lab", "Silver", "active", "2025-07-15", "US"),
    ("pioneer-pharma", "Pioneer Pharma", "Platinum", "active", "2024-10-01", "DK"),
    ("quartz-finance", "Quartz Finance", "Silver", "active", "2025-09-01", "SG"),
    ("riverbend-college", "Riverbend College", "Community", "active", "2025-10-01", "US"),
    ("sable-security", "Sable Security", "Silver", "active", "2026-01-05", "IL"),
    ("tundra-climate", "Tundra Climate Analytics", "Gold", "active", "2026-02-01", "SE"),
    ("umber-games", "Umber Games", "Community", "active", "2026-03-01", "PL"),
    ("vega-observatory", "Vega Observatory", "Community", "active", "2026-04-01", "CL"),
    ("willow-biotech", "Willow Biotech", "Silver", "active", "2026-05-01", "US"),
    ("xenon-materials", "Xenon Materials", "Silver", "lapsed", "2023-08-01", "KR"),
    ("yarrow-media", "Yarrow Media", "Community", "former", "2023-05-01", "IT"),
    ("zephyr-labs", "Zephyr Labs", "Gold", "prospective", "", "US"),
    ("atlas-logistics", "Atlas Logistics", "Silver", "prospective", "", "BR"),
    ("beacon-civic", "Beacon Civic Tech", "Community", "prospective", "", "KE"),
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
/// `base_url` is where the demo is served, for the links in the emails it queues.
pub fn seed(conn: &mut DbConn, base_url: &str) -> Result<(), ServiceError> {
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
            Actor::Cli,
            &PriorityInput {
                slug: slug.to_string(),
                title: title.to_string(),
                summary: summary.to_string(),
                outcomes: outcomes.iter().map(|o| o.to_string()).collect(),
            },
        )?;
    }
    seed_funding(conn)?;
    seed_metrics(conn)?;
    seed_surveys(conn, base_url)?;
    // FY2025 is over: its books are closed.
    let treasurer = acting_as(conn, "treasurer@demo.steward.invalid")?;
    let fy2025: i64 = crate::db::schema::fiscal_years::table
        .filter(crate::db::schema::fiscal_years::label.eq("FY2025"))
        .select(crate::db::schema::fiscal_years::id)
        .first(conn)?;
    crate::ledger::service::set_year_status(conn, treasurer.user_id, fy2025, "closed")?;
    seed_reports(conn, base_url)?;
    seed_community(conn)?;
    Ok(())
}

/// Three tracked repositories (one excluded) with maintainers, ten months of recorded activity imported as
/// GitHub JSON, releases, an advisory and coverage reports: enough for every community series to show.
fn seed_community(conn: &mut DbConn) -> Result<(), ServiceError> {
    use crate::community::service::{self as community, MaintainerInput, RepositoryInput};
    use serde_json::json;
    let repos = [
        ("notebook/core", "core", true, ""),
        ("notebook/widgets", "widgets", true, ""),
        ("notebook/website", "website", false, "documentation only"),
    ];
    for (name, subproject, included, reason) in repos {
        let input = RepositoryInput {
            full_name: name.into(),
            subproject: subproject.into(),
            priority_id: String::new(),
            included,
            exclusion_reason: reason.into(),
        };
        let repo = community::create_repository(conn, Actor::Cli, &input)?;
        let maintainers: &[(&str, &str, &str)] = match subproject {
            "core" => &[("ada", "2024-01-01", ""), ("lin", "2026-06-01", "")],
            "widgets" => &[("sam", "2025-01-01", "2026-03-31"), ("ada", "2025-01-01", "")],
            _ => &[],
        };
        for (login, since, until) in maintainers {
            let m = MaintainerInput {
                login: login.to_string(),
                since: since.to_string(),
                until: until.to_string(),
                source: "file".into(),
            };
            community::add_maintainer(conn, Actor::Cli, repo.id, &m)?;
        }
    }
    // The core coverage metric is fed by the core subproject's quarterly line coverage.
    let core_coverage: Option<i64> = crate::db::schema::metrics::table
        .filter(crate::db::schema::metrics::slug.eq("core-coverage"))
        .select(crate::db::schema::metrics::id)
        .first(conn)
        .optional()?;
    if let Some(metric) = core_coverage {
        let link = community::LinkInput {
            metric_id: metric.to_string(),
            series: "line_coverage".into(),
            scope: "subproject:core".into(),
            period: "quarter".into(),
        };
        community::link_metric(conn, Actor::Cli, &link)?;
    }
    const PEOPLE: &[&str] = &["ada", "lin", "sam", "kofi", "mei", "ravi", "jo", "ines", "tom", "yuki"];
    for (r, name) in ["notebook/core", "notebook/widgets", "notebook/website"].iter().enumerate() {
        let (mut prs, mut comments, mut releases) = (Vec::new(), Vec::new(), Vec::new());
        let base = (r as i64 + 1) * 100_000;
        for month in 1..=10u32 {
            // More people join as the months go by; everyone's activity is fixed by the month and index.
            let count = 3 + (month as usize + r) % 4;
            for i in 0..count {
                let n = i64::from(month) * 10 + i as i64;
                let author = PEOPLE[(i * 3 + month as usize / 3 + r) % (4 + month as usize * 6 / 10)];
                let day = 1 + (i as u32 * 5) % 25;
                let created = format!("2026-{month:02}-{day:02}T09:00:00Z");
                let merged = (i % 3 != 2).then(|| format!("2026-{month:02}-{:02}T15:00:00Z", day + 2));
                prs.push(json!({ "id": base + n, "number": n, "title": format!("Improvement {n}"),
                    "user": { "login": author }, "created_at": created, "updated_at": created,
                    "merged_at": merged, "head": { "ref": "topic" },
                    "html_url": format!("https://github.com/{name}/pull/{n}") }));
                let responder = if author == "ada" { "lin" } else { "ada" };
                comments.push(json!({ "id": base + 50_000 + n,
                    "issue_url": format!("https://api.github.com/repos/{name}/issues/{n}"),
                    "user": { "login": responder },
                    "created_at": format!("2026-{month:02}-{day:02}T{:02}:00:00Z", 10 + (i as u32 * 7) % 13) }));
            }
            if month % 3 == 0 {
                releases.push(
                    json!({ "id": base + 90_000 + i64::from(month), "tag_name": format!("v1.{}.0", month / 3),
                    "author": { "login": "ada" }, "published_at": format!("2026-{month:02}-20T12:00:00Z"),
                    "draft": false, "prerelease": false }),
                );
            }
        }
        releases.push(json!({ "id": base + 99_000, "tag_name": "v1.1.1", "author": { "login": "ada" },
            "published_at": "2026-04-10T12:00:00Z", "draft": false, "prerelease": false }));
        let advisories = json!([{ "ghsa_id": format!("GHSA-demo-{r}"), "published_at": "2026-04-02T00:00:00Z",
            "vulnerabilities": [{ "patched_versions": "1.1.1" }] }]);
        let files = vec![
            ("pulls.json".to_string(), json!(prs).to_string().into_bytes()),
            ("comments.json".to_string(), json!(comments).to_string().into_bytes()),
            ("releases.json".to_string(), json!(releases).to_string().into_bytes()),
            ("advisories.json".to_string(), advisories.to_string().into_bytes()),
        ];
        community::import_github(conn, Actor::Cli, name, &files)?;
        for (q, covered) in [("2026-03-31", 742), ("2026-06-30", 768), ("2026-09-30", 795)] {
            let lcov = format!("SF:src/lib.rs\nLF:1000\nLH:{}\nend_of_record\n", covered - r as i64 * 40);
            community::import_coverage(conn, Actor::Cli, name, q, "lcov.info", lcov.as_bytes())?;
        }
    }
    Ok(())
}

/// The last four quarterly reports, sent (in demo mode the emails become .eml files), the latest published
/// on the transparency page, which is on; the quarter in progress can be previewed.
fn seed_reports(conn: &mut DbConn, base_url: &str) -> Result<(), ServiceError> {
    use crate::reports::period::{Frequency, Period};
    use crate::reports::service as reports;
    use crate::transparency::service as transparency;
    let council = acting_as(conn, "council@demo.steward.invalid")?;
    let admin = acting_as(conn, "admin@demo.steward.invalid")?;
    let choices = transparency::choices(conn)?;
    transparency::save(
        conn,
        &admin,
        &transparency::ChoicesInput {
            enabled: Some(true),
            priorities: choices.priorities.iter().map(|p| p.0).collect(),
            initiatives: choices.initiatives.iter().map(|i| i.0).collect(),
            metrics: choices.metrics.iter().map(|m| m.0).collect(),
        },
    )?;
    let mail = crate::surveys::service::MailSettings {
        site_name: FOUNDATION_NAME.to_string(),
        base_url: base_url.to_string(),
        key: crate::config::SigningKey(settings::secret_key(conn)?),
    };
    let today = crate::db::now().date();
    let mut period = Period::last_ended(Frequency::Quarterly, today);
    let mut periods = Vec::new();
    for _ in 0..4 {
        periods.push(period);
        period = period.previous();
    }
    for (n, period) in periods.iter().rev().enumerate() {
        reports::set_words(
            conn,
            council.user_id,
            period,
            &format!(
                "Thank you for your membership this quarter. This report shows what your dues paid for in {}, \
                 and how the outcomes we fund are moving.",
                period.label()
            ),
            if n == 3 {
                "You asked for clearer release notes and a steadier release rhythm. From this quarter, every minor \
                 release comes with a migration guide, and releases follow a published calendar."
            } else {
                ""
            },
        )?;
        reports::generate(conn, Actor::Cli, period, today, FOUNDATION_NAME)?;
        reports::send(conn, Actor::User(council.user_id), &period.code(), &mail)?;
        reports::set_published(conn, council.user_id, &period.code(), true)?;
    }
    Ok(())
}

/// Initiatives: (priority slug, title, summary, subprojects, lead, final status, FY2025 and FY2026 allocations
/// in dollars, the FY2026 line item).
type InitiativeSeed =
    (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, u32, u32, &'static str);

const INITIATIVES: &[InitiativeSeed] = &[
    (
        "contributor-capacity",
        "Contributor onboarding sprints",
        "Two-day sprints at community events where newcomers land a first pull request with a maintainer beside them.",
        "JupyterLab, Notebook",
        "Priya Natarajan",
        "completed",
        30_000,
        0,
        "Events",
    ),
    (
        "contributor-capacity",
        "Mentoring program for new maintainers",
        "Six-month mentorships that pair regular contributors with maintainers, paid for the mentor's time.",
        "JupyterLab, Jupyter Server",
        "Samuel Okafor",
        "active",
        40_000,
        60_000,
        "Contractor time",
    ),
    (
        "contributor-capacity",
        "Paid triage and review rotation",
        "A rotation of paid reviewers so that pull requests from new contributors get a first answer within a week.",
        "JupyterLab, JupyterHub, Voila",
        "Lena Fischer",
        "active",
        35_000,
        50_000,
        "Contractor time",
    ),
    (
        "contributor-capacity",
        "Community calls and office hours",
        "Monthly community calls and weekly office hours, with notes published for those who cannot attend.",
        "All",
        "Marco Rossi",
        "approved",
        0,
        12_000,
        "Events",
    ),
    (
        "contributor-capacity",
        "Translation of the documentation",
        "Translate the user documentation into Spanish, Portuguese and Japanese with community reviewers.",
        "Documentation",
        "Aiko Tanaka",
        "proposed",
        0,
        0,
        "",
    ),
    (
        "reliability-security",
        "Test coverage push for core repositories",
        "Raise line coverage of the core repositories above 85% and keep it there with coverage checks in CI.",
        "Jupyter Server, nbformat, nbconvert",
        "Wei Chen",
        "active",
        50_000,
        55_000,
        "Contractor time",
    ),
    (
        "reliability-security",
        "Release engineering: a minor release every six weeks",
        "Automate the release process and fund a release manager so minor releases ship on a fixed rhythm.",
        "JupyterLab, Notebook",
        "Fatima Haddad",
        "active",
        40_000,
        45_000,
        "Contractor time",
    ),
    (
        "reliability-security",
        "Security response team retainer",
        "A retainer for a security firm that triages advisories within two days and helps ship fixed releases.",
        "All",
        "Jonas Berg",
        "completed",
        45_000,
        0,
        "",
    ),
    (
        "reliability-security",
        "Fuzzing of notebook parsers",
        "Continuous fuzzing of nbformat and the kernel message parsers.",
        "nbformat, Jupyter Client",
        "Nadia Petrova",
        "proposed",
        0,
        0,
        "",
    ),
    (
        "develop-foundation",
        "Member value study",
        "Interviews and the semi-annual survey, to learn what members get from membership and what they miss.",
        "Foundation",
        "Grace Liu",
        "active",
        15_000,
        20_000,
        "Research",
    ),
    (
        "develop-foundation",
        "Accounting and annual audit",
        "An accounting firm for the books and the yearly independent audit members ask for.",
        "Foundation",
        "Mira Costa",
        "active",
        25_000,
        28_000,
        "Professional services",
    ),
    (
        "develop-foundation",
        "Conference booth program",
        "Booths at three industry conferences to recruit members.",
        "Foundation",
        "Omar Haddad",
        "cancelled",
        0,
        0,
        "",
    ),
];

/// Budgets: (priority slug, FY2025 and FY2026 envelopes in dollars, line items for FY2026).
type BudgetSeed = (&'static str, u32, u32, &'static [(&'static str, u32)]);

const BUDGETS: &[BudgetSeed] = &[
    ("contributor-capacity", 120_000, 140_000, &[("Events", 25_000), ("Contractor time", 110_000)]),
    ("reliability-security", 150_000, 170_000, &[("Contractor time", 120_000), ("Infrastructure", 30_000)]),
    ("develop-foundation", 60_000, 70_000, &[("Professional services", 40_000), ("Research", 25_000)]),
];

/// Budgets, initiatives in every status, allocations, a year of disbursements (requested by the council,
/// approved and paid by the treasurer), transfers into each priority's fund, and a euro exchange rate.
fn seed_funding(conn: &mut DbConn) -> Result<(), ServiceError> {
    use crate::disbursements::service as disbursements;
    use crate::funding::service::{AllocationInput, BudgetInput, InitiativeInput};
    use crate::ledger::service::{self as ledger, TransferInput};
    let treasurer = acting_as(conn, "treasurer@demo.steward.invalid")?;
    let council = acting_as(conn, "council@demo.steward.invalid")?;
    let years: Vec<(String, i64)> = crate::db::schema::fiscal_years::table
        .select((crate::db::schema::fiscal_years::label, crate::db::schema::fiscal_years::id))
        .load(conn)?;
    let year = |label: &str| years.iter().find(|(l, _)| l == label).map(|(_, id)| *id).unwrap_or_default();
    let (fy2025, fy2026) = (year("FY2025"), year("FY2026"));
    let priorities = funding::all_priorities(conn)?;
    let priority = |slug: &str| priorities.iter().find(|p| p.slug == slug).map(|p| p.id).unwrap_or_default();
    let dollars = |n: u32| format!("{n}.00");

    for (slug, y2025, y2026, lines) in BUDGETS {
        let p = priority(slug);
        funding::set_budget(
            conn,
            treasurer.user_id,
            fy2025,
            p,
            &BudgetInput { amount: dollars(*y2025), lines: vec![] },
        )?;
        let lines = lines.iter().map(|(l, a)| (l.to_string(), dollars(*a))).collect();
        funding::set_budget(conn, treasurer.user_id, fy2026, p, &BudgetInput { amount: dollars(*y2026), lines })?;
        for (date, amount) in [("2025-01-20", y2025), ("2026-01-20", y2026)] {
            let input = TransferInput {
                entry_date: date.into(),
                amount: dollars(*amount),
                from_priority_id: None,
                to_priority_id: Some(p),
                memo: "The year's budget moves from the general fund to the priority's fund".into(),
            };
            ledger::post_transfer(conn, treasurer.user_id, &input)?;
        }
    }
    crate::ledger::rates::record(conn, treasurer.user_id, "EUR", "2026-01-01", "1.0850")?;

    let mut payment = 0u32;
    let lines: Vec<(i64, String, i64)> = crate::db::schema::budget_lines::table
        .inner_join(crate::db::schema::budgets::table)
        .filter(crate::db::schema::budgets::fiscal_year_id.eq(fy2026))
        .select((
            crate::db::schema::budget_lines::id,
            crate::db::schema::budget_lines::label,
            crate::db::schema::budgets::priority_id,
        ))
        .load(conn)?;
    for (slug, title, summary, subprojects, lead, status, a2025, a2026, line) in INITIATIVES {
        let input = InitiativeInput {
            priority_id: priority(slug).to_string(),
            title: title.to_string(),
            summary: summary.to_string(),
            subprojects: subprojects.to_string(),
            lead: lead.to_string(),
            starts_on: if *a2025 > 0 { "2025-02-01".into() } else { "2026-02-01".into() },
            ends_on: if *status == "completed" { "2025-12-31".into() } else { String::new() },
        };
        let initiative = funding::create_initiative(conn, council.user_id, &input)?;
        // A completed initiative is completed once its money is paid out, below.
        let path: &[&str] = match *status {
            "approved" => &["approved"],
            "active" | "completed" => &["approved", "active"],
            "cancelled" => &["cancelled"],
            _ => &[],
        };
        for step in path {
            let who = if *step == "approved" { &council } else { &treasurer };
            funding::change_status(conn, who, initiative.id, step, "")?;
        }
        for (fy, label, amount) in [(fy2025, "2025", *a2025), (fy2026, "2026", *a2026)] {
            if amount == 0 {
                continue;
            }
            let line_id = lines
                .iter()
                .find(|(_, l, p)| fy == fy2026 && l == line && *p == priority(slug))
                .map(|(id, _, _)| id.to_string())
                .unwrap_or_default();
            let input = AllocationInput {
                fiscal_year_id: fy.to_string(),
                amount: dollars(amount),
                budget_line_id: line_id,
                note: String::new(),
            };
            let allocation = funding::allocate(conn, treasurer.user_id, initiative.id, &input)?;
            if *status == "approved" {
                // Approved, funded, not started: nothing paid yet.
                continue;
            }
            // Monthly payments of about a twelfth, through November for the current year.
            let months = if label == "2025" { 12 } else { 11 };
            let paid_months = if *status == "completed" || label == "2025" { months } else { months - 1 };
            for month in 1..=months {
                payment += 1;
                let share = amount / 12;
                let euro = payment.is_multiple_of(9) && label == "2026";
                let request = disbursements::RequestInput {
                    allocation_id: allocation.id.to_string(),
                    payee: format!("{lead} (contractor)"),
                    amount: if euro { dollars(share * 92 / 100) } else { dollars(share) },
                    currency: if euro { "EUR".into() } else { String::new() },
                    purpose: format!("{title}: work in {label}-{month:02}"),
                    document_url: format!("https://invoices.example/{label}/{payment:04}.pdf"),
                };
                if label == "2026" && month > paid_months && *status != "completed" {
                    // This month's request waits: approved but unpaid, or not yet approved.
                    let d = disbursements::request(conn, council.user_id, &request)?;
                    if payment.is_multiple_of(2) {
                        disbursements::approve(conn, &treasurer, d.id)?;
                    }
                    continue;
                }
                let d = disbursements::request(conn, council.user_id, &request)?;
                disbursements::approve(conn, &treasurer, d.id)?;
                disbursements::pay(conn, treasurer.user_id, d.id, &format!("{label}-{month:02}-25"))?;
            }
        }
        if *status == "completed" {
            funding::change_status(conn, &treasurer, initiative.id, "completed", "Delivered and paid in full")?;
        }
    }
    Ok(())
}

/// Metrics: (slug, name, unit, direction, baseline, target, how much of the planned pace it keeps, key outcome
/// (priority slug, outcome position), source, months between values, initiatives it measures).
type MetricSeed = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    f64,
    (&'static str, i32),
    &'static str,
    u32,
    &'static [&'static str],
);

const METRICS: &[MetricSeed] = &[
    (
        "non-maintainer-prs",
        "Pull requests from non-maintainers per month",
        "count",
        "higher",
        180.0,
        300.0,
        1.1,
        ("contributor-capacity", 1),
        "import",
        1,
        &["Contributor onboarding sprints", "Mentoring program for new maintainers", "Paid triage and review rotation"],
    ),
    (
        "self-identified-contributors",
        "People who identify as contributors",
        "count",
        "higher",
        420.0,
        600.0,
        0.86,
        ("contributor-capacity", 2),
        "survey",
        6,
        &["Community calls and office hours"],
    ),
    (
        "core-coverage",
        "Line coverage of the core repositories",
        "percent",
        "higher",
        71.0,
        85.0,
        1.08,
        ("reliability-security", 1),
        "import",
        1,
        &["Test coverage push for core repositories"],
    ),
    (
        "minor-releases",
        "Minor releases per quarter",
        "count",
        "higher",
        2.0,
        4.0,
        0.45,
        ("reliability-security", 2),
        "import",
        3,
        &["Release engineering: a minor release every six weeks"],
    ),
    (
        "days-to-fix",
        "Median days from a security advisory to its fixed release",
        "days",
        "lower",
        24.0,
        7.0,
        1.15,
        ("reliability-security", 3),
        "import",
        1,
        &["Security response team retainer"],
    ),
    (
        "member-value",
        "Members who agree membership is worth its dues",
        "percent",
        "higher",
        68.0,
        80.0,
        0.84,
        ("develop-foundation", 1),
        "survey",
        6,
        &["Member value study"],
    ),
    (
        "dues-revenue",
        "Dues received over the last twelve months",
        "money",
        "higher",
        1_100_000.0,
        1_500_000.0,
        0.7,
        ("develop-foundation", 2),
        "manual",
        3,
        &["Accounting and annual audit"],
    ),
];

/// Two years of values for each key outcome's metric: some keep pace with their targets, some do not.
fn seed_metrics(conn: &mut DbConn) -> Result<(), ServiceError> {
    use crate::metrics::service::{self as metrics, MetricInput, ObservationInput, Provenance};
    let council = acting_as(conn, "council@demo.steward.invalid")?;
    let priorities = funding::all_priorities(conn)?;
    let outcomes: Vec<(i64, i64, i32)> = crate::db::schema::key_outcomes::table
        .select((
            crate::db::schema::key_outcomes::id,
            crate::db::schema::key_outcomes::priority_id,
            crate::db::schema::key_outcomes::position,
        ))
        .load(conn)?;
    let initiatives: Vec<(i64, String)> = crate::db::schema::initiatives::table
        .select((crate::db::schema::initiatives::id, crate::db::schema::initiatives::title))
        .load(conn)?;
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    for (n, (slug, name, unit, direction, baseline, target, pace, (priority_slug, outcome), source, every, linked)) in
        METRICS.iter().enumerate()
    {
        let priority = priorities.iter().find(|p| p.slug == *priority_slug).map(|p| p.id);
        let outcome = outcomes.iter().find(|o| Some(o.1) == priority && o.2 == *outcome).map(|o| o.0);
        let input = MetricInput {
            slug: slug.to_string(),
            name: name.to_string(),
            description: String::new(),
            unit: unit.to_string(),
            direction: direction.to_string(),
            priority_id: priority.map(|p| p.to_string()).unwrap_or_default(),
            key_outcome_id: outcome.map(|o| o.to_string()).unwrap_or_default(),
            initiative_ids: initiatives
                .iter()
                .filter(|(_, t)| linked.contains(&t.as_str()))
                .map(|(id, _)| id.to_string())
                .collect(),
            baseline: format!("{baseline}"),
            baseline_on: start.to_string(),
            target: format!("{target}"),
            target_on: "2026-12-31".into(),
            source: if *source == "survey" { "manual".to_string() } else { source.to_string() },
            survey_question_id: String::new(),
            survey_aggregate: if *source == "survey" { "share_agreeing".into() } else { String::new() },
            expected_interval_days: (31 * every + 15).to_string(),
            scope_notes: if *source == "import" {
                "Counted from the repositories of JupyterLab, Notebook, Jupyter Server, nbformat and nbconvert.".into()
            } else {
                String::new()
            },
        };
        let metric = metrics::create_metric(conn, council.user_id, &input)?;
        // Values at the end of every `every` months through October 2026, keeping `pace` of the straight line
        // from baseline to target, with a small wobble so the chart looks like real data.
        let mut values = Vec::new();
        let mut month = *every;
        while month <= 22 {
            let date = start.checked_add_months(chrono::Months::new(month)).and_then(|d| d.pred_opt()).unwrap_or(start);
            let share = f64::from(month) / 24.0 * pace;
            let wobble = [0.0, 0.03, -0.02, 0.01, -0.03, 0.02][(month as usize + n) % 6] * (target - baseline).abs();
            let value = baseline + (target - baseline) * share + wobble;
            let value =
                if *unit == "count" || *unit == "money" { value.round() } else { (value * 10.0).round() / 10.0 };
            values.push(ObservationInput {
                observed_on: date.to_string(),
                value: format!("{value}"),
                note: String::new(),
            });
            month += every;
        }
        let from = Provenance {
            source: match *source {
                "import" => "import",
                "survey" => "survey",
                _ => "manual",
            },
            label: match *source {
                "import" => "repository data".into(),
                "survey" => "member survey".into(),
                _ => String::new(),
            },
            actor: Some(council.user_id),
        };
        metrics::record_observations(conn, metric.id, &values, &from)?;
    }
    Ok(())
}

/// The member survey's questions: (kind, question, options).
const SURVEY_QUESTIONS: &[(&str, &str, &[&str])] = &[
    ("likert", "Membership in the foundation is worth its dues", &[]),
    ("nps", "How likely are you to recommend membership to a peer organization?", &[]),
    ("likert", "The software is reliable enough for our work", &[]),
    (
        "ranking",
        "Rank what the foundation should improve first",
        &["Documentation", "Release cadence", "Security response", "Onboarding of contributors"],
    ),
    ("points", "Spread 100 points over the funding priorities", &[]),
    ("long_text", "What should the foundation change?", &[]),
];

/// A closed 2026-H1 member survey answered by most members, and an open 2026-H2 wave that repeats it.
fn seed_surveys(conn: &mut DbConn, base_url: &str) -> Result<(), ServiceError> {
    use crate::surveys::service::{self as surveys, MailSettings, QuestionInput, SurveyInput};
    let council = acting_as(conn, "council@demo.steward.invalid")?;
    let settings = MailSettings {
        site_name: FOUNDATION_NAME.into(),
        base_url: base_url.into(),
        key: crate::config::SigningKey(settings::secret_key(conn)?),
    };
    let now = db::now();
    let input = |title: &str, cycle: &str| SurveyInput {
        title: title.into(),
        introduction: "Ten minutes, twice a year: what membership is worth to you, how the software serves you, and \
                       where the foundation should spend next."
            .into(),
        cycle: cycle.into(),
        opens_at: (now - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M").to_string(),
        closes_at: (now + chrono::Duration::days(20)).format("%Y-%m-%dT%H:%M").to_string(),
        audience: "per_organization".into(),
        anonymous: true,
        min_group_size: "5".into(),
        reminder_days: "7, 2".into(),
        targets: Vec::new(),
    };
    let h1 = surveys::create_survey(conn, council.user_id, &input("Member survey", "2026-H1"))?;
    for (kind, prompt, options) in SURVEY_QUESTIONS {
        let q = QuestionInput {
            kind: kind.to_string(),
            prompt: prompt.to_string(),
            required: *kind != "long_text",
            options: options.join("\n"),
        };
        surveys::add_question(conn, council.user_id, h1.id, &q)?;
    }
    surveys::open_survey(conn, council.user_id, h1.id, &settings)?;
    let questions = surveys::questions(conn, h1.id)?;
    let priorities = funding::all_priorities(conn)?.into_iter().filter(|p| p.active).count();
    // Most organizations answer, through the links in their invitations.
    let links: Vec<String> = crate::db::schema::outbox::table
        .filter(crate::db::schema::outbox::idempotency_key.like(format!("survey:{}:invitation:%", h1.id)))
        .order(crate::db::schema::outbox::id)
        .select(crate::db::schema::outbox::body_text)
        .load(conn)?;
    let comments = [
        "More predictable releases would help us plan upgrades.",
        "The security response has been excellent this year.",
        "Please invest in documentation for newcomers.",
        "",
        "We would like a say in the roadmap of the core libraries.",
    ];
    for (i, body) in links.iter().enumerate() {
        if i % 6 == 5 {
            continue;
        }
        let Some(token) = body.split("/s/").nth(1).and_then(|t| t.split_whitespace().next()) else { continue };
        let mut raw = crate::surveys::service::RawAnswers::new();
        for q in &questions {
            let values: Vec<String> = match q.kind.as_str() {
                "likert" => vec![(2 + (i * 7 + q.position as usize) % 4).to_string()],
                "nps" => vec![(4 + (i * 5) % 7).to_string()],
                "ranking" => {
                    let n = q.labels().len();
                    (0..n).map(|o| ((o + i) % n + 1).to_string()).collect()
                }
                "points" => {
                    let first = 20 + (i * 13) % 50;
                    let mut p = vec![first.to_string(), (100 - first).to_string()];
                    p.resize(priorities, "0".into());
                    if priorities >= 3 {
                        let second = (100 - first) / 2;
                        p[1] = second.to_string();
                        p[2] = (100 - first - second).to_string();
                    }
                    p
                }
                _ => vec![comments[i % comments.len()].to_string()],
            };
            raw.insert(q.id, values);
        }
        surveys::answer(conn, &settings.key, token, &raw, true)?;
    }
    // The first wave ran in the spring.
    diesel::update(crate::db::schema::surveys::table.find(h1.id))
        .set((
            crate::db::schema::surveys::opens_at
                .eq(chrono::NaiveDate::from_ymd_opt(2026, 5, 4).and_then(|d| d.and_hms_opt(9, 0, 0)).unwrap_or(now)),
            crate::db::schema::surveys::closes_at
                .eq(chrono::NaiveDate::from_ymd_opt(2026, 6, 15).and_then(|d| d.and_hms_opt(17, 0, 0)).unwrap_or(now)),
        ))
        .execute(conn)?;
    // Closing counts the pooled anonymous answers, in one shuffled batch.
    surveys::close_survey(conn, &settings.key, council.user_id, h1.id)?;
    // The second wave repeats the questions, so the waves compare, and feeds the member-value metric.
    let h2 = surveys::create_survey(conn, council.user_id, &input("Member survey", "2026-H2"))?;
    surveys::copy_questions(conn, council.user_id, h2.id, h1.id)?;
    surveys::open_survey(conn, council.user_id, h2.id, &settings)?;
    let worth = surveys::questions(conn, h2.id)?.into_iter().next().map(|q| q.id);
    let metric: Option<i64> = crate::db::schema::metrics::table
        .filter(crate::db::schema::metrics::slug.eq("member-value"))
        .select(crate::db::schema::metrics::id)
        .first(conn)
        .optional()?;
    if let (Some(metric), Some(question)) = (metric, worth) {
        diesel::update(crate::db::schema::metrics::table.find(metric))
            .set((
                crate::db::schema::metrics::source.eq("survey"),
                crate::db::schema::metrics::survey_question_id.eq(question),
                crate::db::schema::metrics::survey_aggregate.eq("share_agreeing"),
            ))
            .execute(conn)?;
    }
    // The demo's mail is not for anyone: the links above served to fill in the answers.
    Ok(())
}

/// The demo acts as its treasurer when it adds tiers and organizations.
fn acting_as(conn: &mut DbConn, email: &str) -> Result<Identity, ServiceError> {
    let user_id: i64 = users::table.filter(users::email.eq(email)).select(users::id).first(conn)?;
    let user = accounts::find_user(conn, user_id)?;
    Ok(Identity {
        user_id,
        email: user.email,
        display_name: user.display_name,
        member_id: None,
        roles: crate::accounts::session::roles_of(conn, user_id)?,
        has_two_factor: false,
        via: AuthMethod::ApiToken { token_id: 0 },
        time_zone: "UTC".into(),
    })
}

fn seed_accounts(conn: &mut DbConn) -> Result<(), ServiceError> {
    let hash = crate::accounts::password::hash_blocking(DEMO_PASSWORD)
        .map_err(|e| ServiceError::Internal(format!("hashing the demo password: {e}")))?;
    let policy = SessionPolicy {
        idle: std::time::Duration::from_secs(60),
        absolute: std::time::Duration::from_secs(60),
        sign_ins_per_ip: 30,
    };
    let add_user = |conn: &mut DbConn, email: &str, name: &str, roles: &[Role], member_id: Option<i64>| {
        let input =
            InviteInput { email: email.to_string(), display_name: name.to_string(), roles: roles.to_vec(), member_id };
        let (user, token) = accounts::invite_user(conn, Actor::Cli, &input, None, &RequestMeta::default())?;
        accounts::accept_invitation_with_hash(conn, &token, name, &hash, &RequestMeta::default(), policy)?;
        Ok::<_, ServiceError>(user.id)
    };
    for (email, name, roles, _) in DEMO_USERS.iter().filter(|u| u.3.is_none()) {
        add_user(conn, email, name, roles, None)?;
    }
    let treasurer = acting_as(conn, "treasurer@demo.steward.invalid")?;
    for (name, dues, benefits) in TIERS {
        let input = TierInput {
            name: name.to_string(),
            annual_dues: dues.to_string(),
            currency: "USD".into(),
            benefits: benefits.to_string(),
        };
        members::create_tier(conn, treasurer.user_id, &input)?;
    }
    let tiers: Vec<(String, i64)> =
        membership_tiers::table.select((membership_tiers::name, membership_tiers::id)).load(conn)?;
    for (slug, name, tier, status, joined, country) in MEMBERS {
        let joined_on = chrono::NaiveDate::parse_from_str(joined, "%Y-%m-%d").ok();
        // Renewal falls on the anniversary after today.
        let renews_on = joined_on.map(|j| {
            let mut r = j;
            while r <= db::now().date() {
                r = r.checked_add_months(chrono::Months::new(12)).unwrap_or(r);
            }
            r
        });
        let fields = MemberFields {
            name: name.to_string(),
            slug: slug.to_string(),
            tier: tiers.iter().find(|(n, _)| n == tier).map(|(_, id)| id.to_string()).unwrap_or_default(),
            status: status.to_string(),
            joined_on: joined_on.map(|d| d.to_string()).unwrap_or_default(),
            renews_on: renews_on.map(|d| d.to_string()).unwrap_or_default(),
            website: format!("https://{slug}.example"),
            country: country.to_string(),
            logo_url: String::new(),
            notes: String::new(),
        };
        members::create_member(conn, &treasurer, &fields)?;
    }
    for (email, name, roles, member) in DEMO_USERS.iter() {
        let Some(slug) = member else { continue };
        let member_id: i64 = crate::db::schema::members::table
            .filter(crate::db::schema::members::slug.eq(slug))
            .select(crate::db::schema::members::id)
            .first(conn)?;
        let user_id = add_user(conn, email, name, roles, Some(member_id))?;
        members::set_contacts(conn, &treasurer, member_id, Some(user_id), Some(user_id))?;
    }
    // Every other active organization has a representative too (not for signing in: the demo prints only the
    // accounts above), so that surveys and reminders reach the whole membership.
    for (slug, name, _, status, _, _) in MEMBERS {
        if *status != "active" || DEMO_USERS.iter().any(|u| u.3 == Some(*slug)) {
            continue;
        }
        let member_id: i64 = crate::db::schema::members::table
            .filter(crate::db::schema::members::slug.eq(slug))
            .select(crate::db::schema::members::id)
            .first(conn)?;
        let email = format!("{slug}@members.demo.steward.invalid");
        let user_id = add_user(conn, &email, &format!("{name} representative"), &[Role::MemberRep], Some(member_id))?;
        members::set_contacts(conn, &treasurer, member_id, Some(user_id), Some(user_id))?;
    }
    seed_dues(conn, &treasurer)?;
    // The sessions the invitations opened are not for anyone's browser.
    diesel::delete(crate::db::schema::sessions::table).execute(conn)?;
    Ok(())
}

/// Two fiscal years of dues: 2025 invoiced, paid and closed; 2026 invoiced, mostly paid, some overdue and
/// some paid in part.
fn seed_dues(conn: &mut DbConn, treasurer: &Identity) -> Result<(), ServiceError> {
    use crate::dues::service as dues;
    use crate::ledger::service as ledger;
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
    let fy2025 = ledger::create_year(conn, treasurer.user_id, "FY2025", "2025-01-01", "2025-12-31")?;
    let fy2026 = ledger::create_year(conn, treasurer.user_id, "FY2026", "2026-01-01", "2026-12-31")?;
    for year in [&fy2025, &fy2026] {
        ledger::set_year_status(conn, treasurer.user_id, year.id, "open")?;
    }
    dues::issue_for_year(conn, treasurer, fy2025.id, date("2025-01-15"))?;
    dues::issue_for_year(conn, treasurer, fy2026.id, date("2026-01-15"))?;
    let all: Vec<(i64, i64, i64, i64)> = crate::db::schema::invoices::table
        .order(crate::db::schema::invoices::number)
        .select((
            crate::db::schema::invoices::id,
            crate::db::schema::invoices::fiscal_year_id,
            crate::db::schema::invoices::amount_minor,
            crate::db::schema::invoices::number,
        ))
        .load(conn)?;
    for (i, (id, year_id, amount, number)) in all.into_iter().enumerate() {
        let amount = crate::money::plain(amount, "USD");
        let reference = format!("Wire {number:05}");
        if year_id == fy2025.id {
            let paid_on = format!("2025-{:02}-{:02}", 2 + i % 3, 1 + i % 27);
            dues::record_payment(conn, treasurer, id, &amount, &paid_on, &reference)?;
        } else if i % 7 == 3 {
            // Paid in part.
            dues::record_payment(conn, treasurer, id, "1000", "2026-02-20", &reference)?;
        } else if i % 5 != 4 {
            let paid_on = format!("2026-{:02}-{:02}", 2 + i % 4, 1 + i % 27);
            dues::record_payment(conn, treasurer, id, &amount, &paid_on, &reference)?;
        }
        // The rest stay open past their due date: overdue.
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
