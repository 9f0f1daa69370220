//! Rules and transactions for community health: tracked repositories and maintainers, collector runs (items
//! stored page by page with a resume cursor; observations written all at once when a run commits), file
//! imports (all or nothing), the computed series with their data quality, and links from metrics.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use utoipa::ToSchema;

use super::compute::{self, Data, Period, Scope, Value, SERIES};
use super::import::{self, Parsed, Skipped};
use super::model::{CollectorRun, CommunityItem, CoverageReport, Maintainer, MetricLink, Repository};
use crate::audit::{self, Actor, Event};
use crate::db::schema::{
    collector_runs, community_items, community_metric_links, coverage_reports, funding_priorities, metric_observations,
    metrics, repositories, repository_maintainers,
};
use crate::db::{self, DbConn};
use crate::domain::{self, FieldError, ServiceError};

// ------------------------------------------------------------------------------------------------ repositories

/// A repository as entered: `owner/name`.
#[derive(Clone, Debug, Default)]
pub struct RepositoryInput {
    pub full_name: String,
    pub subproject: String,
    pub priority_id: String,
    pub included: bool,
    pub exclusion_reason: String,
}

fn valid_part(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Splits `owner/name`, refusing anything GitHub would not accept as one.
pub fn split_full_name(raw: &str) -> Result<(String, String), String> {
    match raw.trim().split_once('/') {
        Some((o, n)) if valid_part(o) && valid_part(n) => Ok((o.to_string(), n.to_string())),
        _ => Err(format!("'{}' is not a repository like owner/name.", raw.trim())),
    }
}

struct CheckedRepository {
    owner: String,
    name: String,
    priority_id: Option<i64>,
    exclusion_reason: String,
}

fn check_repository(
    conn: &mut DbConn,
    input: &RepositoryInput,
    id: Option<i64>,
) -> Result<CheckedRepository, ServiceError> {
    let mut errors = Vec::new();
    let (owner, name) =
        split_full_name(&input.full_name).map_err(|e| errors.push(FieldError::new("full_name", e))).unwrap_or_default();
    if !owner.is_empty() {
        let mut q = repositories::table
            .filter(repositories::owner.eq(&owner))
            .filter(repositories::name.eq(&name))
            .into_boxed();
        if let Some(id) = id {
            q = q.filter(repositories::id.ne(id));
        }
        if q.count().get_result::<i64>(conn)? > 0 {
            errors.push(FieldError::new("full_name", format!("{owner}/{name} is tracked already.")));
        }
    }
    if input.subproject.trim().len() > 100 {
        errors.push(FieldError::new("subproject", "Keep the subproject under 100 characters."));
    }
    let priority_id = domain::parse_optional_id(&input.priority_id, "priority_id", &mut errors);
    if let Some(p) = priority_id {
        if funding_priorities::table.filter(funding_priorities::id.eq(p)).count().get_result::<i64>(conn)? == 0 {
            errors.push(FieldError::new("priority_id", "There is no such priority."));
        }
    }
    let reason = input.exclusion_reason.trim().to_string();
    if !input.included && reason.is_empty() {
        errors.push(FieldError::new("exclusion_reason", "Say why it is excluded (archived, documentation, ...)."));
    }
    if reason.len() > 500 {
        errors.push(FieldError::new("exclusion_reason", "Keep the reason under 500 characters."));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    Ok(CheckedRepository {
        owner,
        name,
        priority_id,
        exclusion_reason: if input.included { String::new() } else { reason },
    })
}

pub fn list_repositories(conn: &mut DbConn) -> Result<Vec<Repository>, ServiceError> {
    Ok(repositories::table
        .order((repositories::subproject, repositories::owner, repositories::name))
        .select(Repository::as_select())
        .load(conn)?)
}

pub fn find_repository(conn: &mut DbConn, id: i64) -> Result<Repository, ServiceError> {
    repositories::table
        .find(id)
        .select(Repository::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("repository"))
}

/// A tracked repository by `owner/name`; an untracked one is a validation error on `repo`.
pub fn find_by_full_name(conn: &mut DbConn, full_name: &str) -> Result<Repository, ServiceError> {
    let (owner, name) = split_full_name(full_name).map_err(|e| ServiceError::invalid("repo", e))?;
    repositories::table
        .filter(repositories::owner.eq(&owner))
        .filter(repositories::name.eq(&name))
        .select(Repository::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            ServiceError::invalid("repo", format!("{owner}/{name} is not a tracked repository; add it first."))
        })
}

pub fn create_repository(conn: &mut DbConn, actor: Actor, input: &RepositoryInput) -> Result<Repository, ServiceError> {
    db::write_transaction(conn, |conn| {
        let c = check_repository(conn, input, None)?;
        let now = db::now();
        let repo: Repository = crate::on_backend!(conn, |x| diesel::insert_into(repositories::table)
            .values((
                repositories::owner.eq(&c.owner),
                repositories::name.eq(&c.name),
                repositories::subproject.eq(input.subproject.trim()),
                repositories::priority_id.eq(c.priority_id),
                repositories::included.eq(input.included),
                repositories::exclusion_reason.eq(&c.exclusion_reason),
                repositories::created_at.eq(now),
                repositories::updated_at.eq(now),
            ))
            .returning(Repository::as_returning())
            .get_result(x))?;
        audit::record(
            conn,
            Event::new(actor, "community.repository_added")
                .target("repository", repo.id)
                .details(json!({ "repository": repo.full_name(), "included": repo.included })),
        )?;
        Ok(repo)
    })
}

pub fn update_repository(
    conn: &mut DbConn,
    actor: Actor,
    id: i64,
    input: &RepositoryInput,
) -> Result<Repository, ServiceError> {
    db::write_transaction(conn, |conn| {
        find_repository(conn, id)?;
        let c = check_repository(conn, input, Some(id))?;
        diesel::update(repositories::table.find(id))
            .set((
                repositories::owner.eq(&c.owner),
                repositories::name.eq(&c.name),
                repositories::subproject.eq(input.subproject.trim()),
                repositories::priority_id.eq(c.priority_id),
                repositories::included.eq(input.included),
                repositories::exclusion_reason.eq(&c.exclusion_reason),
                repositories::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
        let repo = find_repository(conn, id)?;
        audit::record(
            conn,
            Event::new(actor, "community.repository_changed").target("repository", id).details(json!({
                "repository": repo.full_name(), "included": repo.included, "reason": repo.exclusion_reason
            })),
        )?;
        Ok(repo)
    })
}

// ------------------------------------------------------------------------------------------------- maintainers

#[derive(Clone, Debug, Default)]
pub struct MaintainerInput {
    pub login: String,
    pub since: String,
    pub until: String,
    pub source: String,
}

pub const MAINTAINER_SOURCES: &[&str] = &["manual", "file", "team"];

pub fn maintainers(conn: &mut DbConn, repository_id: i64) -> Result<Vec<Maintainer>, ServiceError> {
    Ok(repository_maintainers::table
        .filter(repository_maintainers::repository_id.eq(repository_id))
        .order((repository_maintainers::login, repository_maintainers::since))
        .select(Maintainer::as_select())
        .load(conn)?)
}

pub fn add_maintainer(
    conn: &mut DbConn,
    actor: Actor,
    repository_id: i64,
    input: &MaintainerInput,
) -> Result<Maintainer, ServiceError> {
    let mut errors = Vec::new();
    let login = input.login.trim().trim_start_matches('@').to_string();
    if login.is_empty() || login.len() > 39 || !login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        errors.push(FieldError::new("login", "Enter a GitHub login (letters, digits and hyphens)."));
    }
    let since = domain::parse_date(&input.since, "since", &mut errors);
    let until =
        if input.until.trim().is_empty() { None } else { domain::parse_date(&input.until, "until", &mut errors) };
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            errors.push(FieldError::new("until", "The end cannot be before the start."));
        }
    }
    let source = if input.source.trim().is_empty() { "manual" } else { input.source.trim() };
    if !MAINTAINER_SOURCES.contains(&source) {
        errors.push(FieldError::new("source", "Choose entered by hand, maintainers file or team."));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let since = since.ok_or_else(|| ServiceError::invalid("since", "Enter a date."))?;
    db::write_transaction(conn, |conn| {
        let repo = find_repository(conn, repository_id)?;
        let m: Maintainer = crate::on_backend!(conn, |x| diesel::insert_into(repository_maintainers::table)
            .values((
                repository_maintainers::repository_id.eq(repository_id),
                repository_maintainers::login.eq(&login),
                repository_maintainers::since.eq(since),
                repository_maintainers::until.eq(until),
                repository_maintainers::source.eq(source),
                repository_maintainers::created_at.eq(db::now()),
            ))
            .returning(Maintainer::as_returning())
            .get_result(x))?;
        audit::record(
            conn,
            Event::new(actor, "community.maintainer_added").target("repository", repository_id).details(json!({
                "repository": repo.full_name(), "login": login, "since": since, "until": until
            })),
        )?;
        Ok(m)
    })
}

/// The GitHub logins named in a maintainers file: its `@login` mentions (CODEOWNERS, MAINTAINERS.md);
/// comments (`#`), e-mail addresses and teams (`@org/team`) are left out.
pub fn logins_in_file(text: &str) -> Vec<String> {
    let is_login = |s: &str| !s.is_empty() && s.len() <= 39 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '*' | '|' | '<' | '>'))
            .filter(|w| !w.is_empty())
            .collect();
        for login in words.iter().filter_map(|w| w.strip_prefix('@')).filter(|w| is_login(w)) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(login)) {
                out.push(login.to_string());
            }
        }
    }
    out
}

/// Adds everyone a repository's maintainers file names, as maintainers from `since` (source `file`); those
/// already listed without an end date are left as they are. Returns how many were added.
pub fn add_maintainers_from_file(
    conn: &mut DbConn,
    actor: Actor,
    repository_id: i64,
    text: &str,
    since: &str,
) -> Result<usize, ServiceError> {
    let logins = logins_in_file(text);
    if logins.is_empty() {
        let mut errors = vec![FieldError::new("maintainers_file", "No GitHub login (@login) found in the file.")];
        domain::parse_date(since, "file_since", &mut errors);
        return Err(ServiceError::Validation(errors));
    }
    add_maintainer_logins(conn, actor, repository_id, &logins, since, "file")
}

/// Adds `logins` as maintainers from `since` with `source` (`file` or `team`); those already listed without an
/// end date are left as they are. Returns how many were added.
pub fn add_maintainer_logins(
    conn: &mut DbConn,
    actor: Actor,
    repository_id: i64,
    logins: &[String],
    since: &str,
    source: &str,
) -> Result<usize, ServiceError> {
    let mut errors = Vec::new();
    let since = domain::parse_date(since, "file_since", &mut errors);
    let Some(since) = since.filter(|_| errors.is_empty()) else {
        return Err(ServiceError::Validation(errors));
    };
    db::write_transaction(conn, |conn| {
        let repo = find_repository(conn, repository_id)?;
        let current: Vec<String> = repository_maintainers::table
            .filter(repository_maintainers::repository_id.eq(repository_id))
            .filter(repository_maintainers::until.is_null())
            .select(repository_maintainers::login)
            .load(conn)?;
        let mut added = Vec::new();
        for login in logins.iter().filter(|l| !current.iter().any(|c| c.eq_ignore_ascii_case(l))) {
            diesel::insert_into(repository_maintainers::table)
                .values((
                    repository_maintainers::repository_id.eq(repository_id),
                    repository_maintainers::login.eq(login),
                    repository_maintainers::since.eq(since),
                    repository_maintainers::source.eq(source),
                    repository_maintainers::created_at.eq(db::now()),
                ))
                .execute(conn)?;
            added.push(login.clone());
        }
        audit::record(
            conn,
            Event::new(actor, "community.maintainers_read").target("repository", repository_id).details(json!({
                "repository": repo.full_name(), "source": source, "since": since, "added": added
            })),
        )?;
        Ok(added.len())
    })
}

/// The repository a maintainer entry belongs to.
pub fn maintainer_repository(conn: &mut DbConn, id: i64) -> Result<i64, ServiceError> {
    repository_maintainers::table
        .find(id)
        .select(repository_maintainers::repository_id)
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("maintainer"))
}

/// Removes a maintainer entry (a mistake); returns its repository's id.
pub fn remove_maintainer(conn: &mut DbConn, actor: Actor, id: i64) -> Result<i64, ServiceError> {
    db::write_transaction(conn, |conn| {
        let m: Maintainer = repository_maintainers::table
            .find(id)
            .select(Maintainer::as_select())
            .first(conn)
            .optional()?
            .ok_or(ServiceError::NotFound("maintainer"))?;
        diesel::delete(repository_maintainers::table.find(id)).execute(conn)?;
        audit::record(
            conn,
            Event::new(actor, "community.maintainer_removed")
                .target("repository", m.repository_id)
                .details(json!({ "login": m.login, "since": m.since, "until": m.until })),
        )?;
        Ok(m.repository_id)
    })
}

// -------------------------------------------------------------------------------------------------------- runs

pub fn runs(conn: &mut DbConn, limit: i64) -> Result<Vec<CollectorRun>, ServiceError> {
    Ok(collector_runs::table
        .order(collector_runs::id.desc())
        .limit(limit)
        .select(CollectorRun::as_select())
        .load(conn)?)
}

pub fn find_run(conn: &mut DbConn, id: i64) -> Result<CollectorRun, ServiceError> {
    collector_runs::table
        .find(id)
        .select(CollectorRun::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("collector run"))
}

fn new_run(
    conn: &mut DbConn,
    kind: &str,
    since: Option<chrono::NaiveDateTime>,
    by: Option<i64>,
) -> Result<CollectorRun, ServiceError> {
    Ok(crate::on_backend!(conn, |x| diesel::insert_into(collector_runs::table)
        .values((
            collector_runs::kind.eq(kind),
            collector_runs::status.eq("running"),
            collector_runs::started_at.eq(db::now()),
            collector_runs::since.eq(since),
            collector_runs::started_by.eq(by),
        ))
        .returning(CollectorRun::as_returning())
        .get_result(x))?)
}

/// The GitHub run to work on: the last one that did not commit (it resumes from its cursor), or a new one
/// that fetches what changed since the last committed run started.
pub fn open_github_run(conn: &mut DbConn, actor: Actor) -> Result<(CollectorRun, bool), ServiceError> {
    db::write_transaction(conn, |conn| {
        let unfinished: Option<CollectorRun> = collector_runs::table
            .filter(collector_runs::kind.eq("github"))
            .filter(collector_runs::status.ne("committed"))
            .order(collector_runs::id.desc())
            .select(CollectorRun::as_select())
            .first(conn)
            .optional()?;
        if let Some(run) = unfinished {
            diesel::update(collector_runs::table.find(run.id))
                .set((collector_runs::status.eq("running"), collector_runs::error.eq("")))
                .execute(conn)?;
            return Ok((find_run(conn, run.id)?, true));
        }
        let since: Option<chrono::NaiveDateTime> = collector_runs::table
            .filter(collector_runs::kind.eq("github"))
            .filter(collector_runs::status.eq("committed"))
            .order(collector_runs::id.desc())
            .select(collector_runs::started_at)
            .first(conn)
            .optional()?;
        let by = match actor {
            Actor::User(id) => Some(id),
            _ => None,
        };
        let run = new_run(conn, "github", since, by)?;
        audit::record(conn, Event::new(actor, "community.run_started").target("collector_run", run.id))?;
        Ok((run, false))
    })
}

/// A run's cursor: for each `owner/name:endpoint`, the next page's URL or `done`.
pub fn cursor_of(run: &CollectorRun) -> Map<String, Json> {
    serde_json::from_str(&run.cursor).unwrap_or_default()
}

fn skipped_of(run: &CollectorRun) -> Vec<Json> {
    serde_json::from_str(&run.skipped).unwrap_or_default()
}

/// Stores one page of items and moves the run's cursor, in one transaction: after a crash the page is either
/// stored with the cursor past it, or neither.
pub fn store_page(
    conn: &mut DbConn,
    run_id: i64,
    repository_id: i64,
    key: &str,
    parsed: &Parsed,
    next: Option<&str>,
) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let run = find_run(conn, run_id)?;
        let repo = find_repository(conn, repository_id)?;
        upsert_items(conn, run_id, repository_id, parsed)?;
        let mut cursor = cursor_of(&run);
        cursor.insert(key.to_string(), Json::String(next.unwrap_or("done").to_string()));
        let mut skipped = skipped_of(&run);
        skipped.extend(
            parsed
                .skipped
                .iter()
                .map(|s| json!({ "repository": repo.full_name(), "item": s.item, "reason": s.reason })),
        );
        diesel::update(collector_runs::table.find(run_id))
            .set((
                collector_runs::cursor.eq(Json::Object(cursor).to_string()),
                collector_runs::skipped.eq(Json::Array(skipped).to_string()),
                collector_runs::items.eq(run.items + parsed.items.len() as i32),
            ))
            .execute(conn)?;
        Ok(())
    })
}

fn upsert_items(conn: &mut DbConn, run_id: i64, repository_id: i64, parsed: &Parsed) -> Result<(), ServiceError> {
    for item in &parsed.items {
        let values = (
            community_items::repository_id.eq(repository_id),
            community_items::kind.eq(item.kind.as_str()),
            community_items::github_id.eq(item.github_id),
            community_items::number.eq(item.number),
            community_items::author.eq(&item.author),
            community_items::occurred_at.eq(item.occurred_at),
            community_items::merged_at.eq(item.merged_at),
            community_items::title.eq(&item.title),
            community_items::detail.eq(&item.detail),
            community_items::url.eq(&item.url),
            community_items::run_id.eq(Some(run_id)),
        );
        let changes = (
            community_items::number.eq(item.number),
            community_items::author.eq(&item.author),
            community_items::occurred_at.eq(item.occurred_at),
            community_items::merged_at.eq(item.merged_at),
            community_items::title.eq(&item.title),
            community_items::detail.eq(&item.detail),
            community_items::url.eq(&item.url),
            community_items::run_id.eq(Some(run_id)),
        );
        crate::on_backend!(conn, |x| diesel::insert_into(community_items::table)
            .values(values)
            .on_conflict((community_items::repository_id, community_items::kind, community_items::github_id))
            .do_update()
            .set(changes)
            .execute(x))?;
    }
    Ok(())
}

/// Marks a run failed with a message; its items and cursor stay, so the next run resumes it.
pub fn fail_run(conn: &mut DbConn, run_id: i64, error: &str) -> Result<(), ServiceError> {
    let message: String = error.chars().take(2000).collect();
    db::write_transaction(conn, |conn| {
        diesel::update(collector_runs::table.find(run_id))
            .set((collector_runs::status.eq("failed"), collector_runs::error.eq(&message)))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::System, "community.run_failed")
                .target("collector_run", run_id)
                .details(json!({ "error": message })),
        )?;
        Ok(())
    })
}

/// Computes every linked series and writes them as observations (source `collector`, label `run N`) with
/// the run marked committed: all in one transaction, so a run commits all its observations or none.
/// Only periods that have ended become observations; a value equal to the current one is left alone, a
/// different one supersedes it (the history keeps both).
pub fn commit_run(conn: &mut DbConn, run_id: i64, today: NaiveDate) -> Result<CollectorRun, ServiceError> {
    db::write_transaction(conn, |conn| {
        let run = find_run(conn, run_id)?;
        if run.status == "committed" {
            return Err(ServiceError::Conflict(format!("Run {run_id} was committed already.")));
        }
        let data = load_data(conn)?;
        let links = links(conn)?;
        let label = format!("run {run_id}");
        let mut written = 0;
        for link in &links {
            let Ok(scope) = Scope::parse(&link.scope) else { continue };
            let Some((from, _)) = data.date_range(&scope) else { continue };
            let periods: Vec<Period> = Period::range(from, today, link.period == "quarter")
                .into_iter()
                .filter(|p| p.ends_on() < today)
                .collect();
            for (p, v) in periods.iter().zip(compute::compute(&data, &link.series, &scope, &periods)) {
                let Some(value) = v.value_milli else { continue };
                if write_observation(conn, link.metric_id, p.ends_on(), value, &label, &v.basis)? {
                    written += 1;
                }
            }
        }
        let now = db::now();
        diesel::update(collector_runs::table.find(run_id))
            .set((
                collector_runs::status.eq("committed"),
                collector_runs::finished_at.eq(now),
                collector_runs::observations.eq(written),
                collector_runs::error.eq(""),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::System, "community.run_committed")
                .target("collector_run", run_id)
                .details(json!({ "items": run.items, "observations": written })),
        )?;
        find_run(conn, run_id)
    })
}

/// Writes one collector observation unless the current one has this value; true when written.
fn write_observation(
    conn: &mut DbConn,
    metric_id: i64,
    on: NaiveDate,
    value: i64,
    label: &str,
    basis: &str,
) -> Result<bool, ServiceError> {
    let current: Option<(i64, i64)> = metric_observations::table
        .filter(metric_observations::metric_id.eq(metric_id))
        .filter(metric_observations::observed_on.eq(on))
        .filter(metric_observations::source.eq("collector"))
        .filter(metric_observations::superseded_at.is_null())
        .select((metric_observations::id, metric_observations::value_milli))
        .first(conn)
        .optional()?;
    if current.is_some_and(|(_, v)| v == value) {
        return Ok(false);
    }
    let now = db::now();
    if let Some((old, _)) = current {
        diesel::update(metric_observations::table.find(old))
            .set(metric_observations::superseded_at.eq(now))
            .execute(conn)?;
    }
    let note: String = basis.chars().take(1000).collect();
    let id: i64 = crate::on_backend!(conn, |x| diesel::insert_into(metric_observations::table)
        .values((
            metric_observations::metric_id.eq(metric_id),
            metric_observations::observed_on.eq(on),
            metric_observations::value_milli.eq(value),
            metric_observations::source.eq("collector"),
            metric_observations::source_label.eq(label),
            metric_observations::note.eq(&note),
            metric_observations::recorded_at.eq(now),
        ))
        .returning(metric_observations::id)
        .get_result(x))?;
    if let Some((old, _)) = current {
        diesel::update(metric_observations::table.find(old))
            .set(metric_observations::superseded_by.eq(id))
            .execute(conn)?;
    }
    Ok(true)
}

// ----------------------------------------------------------------------------------------------------- imports

/// Imports GitHub JSON files for one repository: every file is read first, and nothing is written unless all
/// are good; then the items are stored and the run committed in one transaction.
pub fn import_github(
    conn: &mut DbConn,
    actor: Actor,
    repo: &str,
    files: &[(String, Vec<u8>)],
) -> Result<CollectorRun, ServiceError> {
    let repository = find_by_full_name(conn, repo)?;
    if files.is_empty() {
        return Err(ServiceError::invalid("file", "Choose at least one JSON file."));
    }
    let mut errors = Vec::new();
    let mut all = Vec::new();
    for (name, data) in files {
        match import::parse_github_json(data) {
            Ok(parsed) => all.push(parsed),
            Err(e) => errors.push(FieldError::new("file", format!("{name} {e}"))),
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let today = db::now().date();
    db::write_transaction(conn, |conn| {
        let run = new_run(conn, "import", None, user_of(&actor))?;
        for (parsed, (name, _)) in all.iter().zip(files) {
            store_page(conn, run.id, repository.id, &format!("{}:file:{name}", repository.full_name()), parsed, None)?;
        }
        audit::record(
            conn,
            Event::new(actor, "community.github_imported").target("collector_run", run.id).details(json!({
                "repository": repository.full_name(),
                "files": files.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
                "items": all.iter().map(|p| p.items.len()).sum::<usize>(),
            })),
        )?;
        commit_run(conn, run.id, today)
    })
}

fn user_of(actor: &Actor) -> Option<i64> {
    match actor {
        Actor::User(id) => Some(*id),
        _ => None,
    }
}

/// Imports a coverage report (Cobertura XML or LCOV) for a repository and date; a second report for the same
/// date replaces the first.
pub fn import_coverage(
    conn: &mut DbConn,
    actor: Actor,
    repo: &str,
    date: &str,
    filename: &str,
    data: &[u8],
) -> Result<CollectorRun, ServiceError> {
    let mut errors = Vec::new();
    let repository = match find_by_full_name(conn, repo) {
        Ok(r) => Some(r),
        Err(ServiceError::Validation(e)) => {
            errors.extend(e);
            None
        }
        Err(e) => return Err(e),
    };
    let on = domain::parse_date(date, "date", &mut errors);
    if on.is_some_and(|d| d > db::now().date()) {
        errors.push(FieldError::new("date", "The report cannot be from the future."));
    }
    let coverage =
        import::parse_coverage(data).map_err(|e| errors.push(FieldError::new("file", format!("{filename} {e}")))).ok();
    let (Some(repository), Some(on), Some(coverage)) = (repository, on, coverage) else {
        return Err(ServiceError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let today = db::now().date();
    db::write_transaction(conn, |conn| {
        let run = new_run(conn, "import", None, user_of(&actor))?;
        let values = (
            coverage_reports::repository_id.eq(repository.id),
            coverage_reports::measured_on.eq(on),
            coverage_reports::lines_covered.eq(coverage.covered),
            coverage_reports::lines_valid.eq(coverage.valid),
            coverage_reports::format.eq(coverage.format),
            coverage_reports::filename.eq(filename),
            coverage_reports::run_id.eq(Some(run.id)),
        );
        let changes = (
            coverage_reports::lines_covered.eq(coverage.covered),
            coverage_reports::lines_valid.eq(coverage.valid),
            coverage_reports::format.eq(coverage.format),
            coverage_reports::filename.eq(filename),
            coverage_reports::run_id.eq(Some(run.id)),
        );
        crate::on_backend!(conn, |x| diesel::insert_into(coverage_reports::table)
            .values(values)
            .on_conflict((coverage_reports::repository_id, coverage_reports::measured_on))
            .do_update()
            .set(changes)
            .execute(x))?;
        diesel::update(collector_runs::table.find(run.id)).set(collector_runs::items.eq(1)).execute(conn)?;
        audit::record(
            conn,
            Event::new(actor, "community.coverage_imported").target("collector_run", run.id).details(json!({
                "repository": repository.full_name(), "date": on, "covered": coverage.covered, "valid": coverage.valid
            })),
        )?;
        commit_run(conn, run.id, today)
    })
}

// ------------------------------------------------------------------------------------------------------ series

/// Everything the computations read.
pub fn load_data(conn: &mut DbConn) -> Result<Data, ServiceError> {
    let repos = list_repositories(conn)?
        .into_iter()
        .map(|r| compute::Repo { id: r.id, full_name: r.full_name(), subproject: r.subproject, included: r.included })
        .collect();
    let items = community_items::table
        .select(CommunityItem::as_select())
        .load(conn)?
        .into_iter()
        .map(|i| compute::Item {
            id: i.id,
            repository_id: i.repository_id,
            kind: i.kind,
            number: i.number,
            author: i.author,
            occurred_at: i.occurred_at,
            merged_at: i.merged_at,
            title: i.title,
            detail: i.detail,
        })
        .collect();
    let maintainers = repository_maintainers::table
        .select(Maintainer::as_select())
        .load(conn)?
        .into_iter()
        .map(|m| compute::Span { repository_id: m.repository_id, login: m.login, since: m.since, until: m.until })
        .collect();
    let coverage = coverage_reports::table
        .select(CoverageReport::as_select())
        .load(conn)?
        .into_iter()
        .map(|c| compute::Coverage {
            id: c.id,
            repository_id: c.repository_id,
            measured_on: c.measured_on,
            covered: c.lines_covered,
            valid: c.lines_valid,
        })
        .collect();
    Ok(Data { repos, items, maintainers, coverage })
}

/// One series' row of the table.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SeriesRow {
    pub series: String,
    pub label: String,
    pub unit: String,
    pub values: Vec<Value>,
}

/// What the numbers stand on: shown next to them.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Quality {
    pub repositories: Vec<String>,
    pub excluded: Vec<Excluded>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub skipped: Vec<SkippedItem>,
    pub last_run: Option<CollectorRun>,
}

/// A repository left out of every number, and why.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Excluded {
    pub repository: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct SkippedItem {
    #[serde(default)]
    pub repository: String,
    pub item: String,
    pub reason: String,
}

/// Every series for a scope, by month or quarter, with the data quality.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SeriesTable {
    pub scope: String,
    /// `month` or `quarter`.
    pub period: String,
    pub periods: Vec<String>,
    pub rows: Vec<SeriesRow>,
    pub quality: Quality,
}

/// Parses a scope and period kind typed in a query.
pub fn parse_view(scope: &str, period: &str) -> Result<(Scope, bool), ServiceError> {
    let scope = Scope::parse(scope).map_err(|e| ServiceError::invalid("scope", e))?;
    let quarterly = match period.trim() {
        "" | "quarter" => true,
        "month" => false,
        other => return Err(ServiceError::invalid("period", format!("'{other}' is neither month nor quarter."))),
    };
    Ok((scope, quarterly))
}

pub fn series_table(conn: &mut DbConn, scope: &Scope, quarterly: bool) -> Result<SeriesTable, ServiceError> {
    let data = load_data(conn)?;
    let today = db::now().date();
    let range = data.date_range(scope);
    let periods = match range {
        Some((from, _)) => Period::range(from, today, quarterly),
        None => Vec::new(),
    };
    let rows = SERIES
        .iter()
        .map(|(key, label, unit)| SeriesRow {
            series: key.to_string(),
            label: label.to_string(),
            unit: unit.to_string(),
            values: compute::compute(&data, key, scope, &periods),
        })
        .collect();
    let ids = scope.repository_ids(&data.repos);
    let repos = list_repositories(conn)?;
    let names: Vec<String> = repos.iter().filter(|r| ids.contains(&r.id)).map(Repository::full_name).collect();
    let mut skipped = Vec::new();
    for run in collector_runs::table.select(CollectorRun::as_select()).order(collector_runs::id).load(conn)? {
        for s in skipped_of(&run) {
            if let Ok(s) = serde_json::from_value::<SkippedItem>(s) {
                if names.contains(&s.repository)
                    && !skipped.iter().any(|k: &SkippedItem| k.item == s.item && k.repository == s.repository)
                {
                    skipped.push(s);
                }
            }
        }
    }
    let quality = Quality {
        repositories: names,
        excluded: repos
            .iter()
            .filter(|r| !r.included)
            .map(|r| Excluded { repository: r.full_name(), reason: r.exclusion_reason.clone() })
            .collect(),
        from: range.map(|r| r.0),
        to: range.map(|r| r.1),
        skipped,
        last_run: runs(conn, 1)?.into_iter().next(),
    };
    Ok(SeriesTable {
        scope: scope.code(),
        period: if quarterly { "quarter" } else { "month" }.into(),
        periods: periods.iter().map(Period::code).collect(),
        rows,
        quality,
    })
}

/// An item a value was computed from, for the page that shows the work.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SourceItem {
    pub repository: String,
    pub kind: String,
    pub what: String,
    pub author: String,
    pub date: String,
    pub url: String,
}

/// One value and the items it was computed from.
pub fn value_sources(
    conn: &mut DbConn,
    series: &str,
    scope: &Scope,
    period: &str,
) -> Result<(Value, Vec<SourceItem>), ServiceError> {
    if compute::series_label(series).is_none() {
        return Err(ServiceError::NotFound("series"));
    }
    let p = Period::parse(period).ok_or(ServiceError::NotFound("period"))?;
    let data = load_data(conn)?;
    let value = compute::compute(&data, series, scope, &[p]).remove(0);
    let names: std::collections::HashMap<i64, String> =
        data.repos.iter().map(|r| (r.id, r.full_name.clone())).collect();
    let mut out = Vec::new();
    if series == "line_coverage" {
        for c in data.coverage.iter().filter(|c| value.items.contains(&c.id)) {
            out.push(SourceItem {
                repository: names.get(&c.repository_id).cloned().unwrap_or_default(),
                kind: "coverage report".into(),
                what: format!("{} of {} lines", c.covered, c.valid),
                author: String::new(),
                date: c.measured_on.to_string(),
                url: String::new(),
            });
        }
    } else {
        let rows: Vec<CommunityItem> = community_items::table
            .filter(community_items::id.eq_any(&value.items))
            .order((community_items::occurred_at, community_items::id))
            .select(CommunityItem::as_select())
            .load(conn)?;
        for i in rows {
            let what = match (i.number, i.kind.as_str()) {
                (_, "release" | "advisory") => i.title.clone(),
                (Some(n), "comment") => format!("on #{n}"),
                (Some(n), _) => format!("#{n} {}", i.title),
                (None, _) => i.title.clone(),
            };
            out.push(SourceItem {
                repository: names.get(&i.repository_id).cloned().unwrap_or_default(),
                kind: i.kind.replace('_', " "),
                what,
                author: i.author,
                date: i.occurred_at.format("%Y-%m-%d %H:%M").to_string(),
                url: i.url,
            });
        }
    }
    Ok((value, out))
}

// ------------------------------------------------------------------------------------------------ metric links

pub fn links(conn: &mut DbConn) -> Result<Vec<MetricLink>, ServiceError> {
    Ok(community_metric_links::table
        .order(community_metric_links::metric_id)
        .select(MetricLink::as_select())
        .load(conn)?)
}

#[derive(Clone, Debug, Default)]
pub struct LinkInput {
    pub metric_id: String,
    pub series: String,
    pub scope: String,
    pub period: String,
}

/// Feeds a metric from a series (replacing any earlier link of that metric). Its unit must match.
pub fn link_metric(conn: &mut DbConn, actor: Actor, input: &LinkInput) -> Result<MetricLink, ServiceError> {
    let mut errors = Vec::new();
    let metric_id = domain::parse_optional_id(&input.metric_id, "metric_id", &mut errors);
    let unit = compute::series_unit(input.series.trim());
    if unit.is_none() {
        errors.push(FieldError::new("series", "Choose a series."));
    }
    let scope = Scope::parse(&input.scope).map_err(|e| errors.push(FieldError::new("scope", e))).ok();
    if !matches!(input.period.trim(), "month" | "quarter") {
        errors.push(FieldError::new("period", "Choose month or quarter."));
    }
    db::write_transaction(conn, |conn| {
        let metric: Option<(String, String)> = match metric_id {
            Some(id) => metrics::table.find(id).select((metrics::unit, metrics::slug)).first(conn).optional()?,
            None => None,
        };
        match (&metric, unit) {
            (None, _) => errors.push(FieldError::new("metric_id", "Choose a metric.")),
            (Some((u, slug)), Some(unit)) if u != unit => errors.push(FieldError::new(
                "series",
                format!("The metric {slug} is measured in {u}; this series gives {unit}."),
            )),
            _ => {}
        }
        let (Some(metric_id), Some(scope), true) = (metric_id, scope.clone(), errors.is_empty()) else {
            return Err(ServiceError::Validation(std::mem::take(&mut errors)));
        };
        diesel::delete(community_metric_links::table.find(metric_id)).execute(conn)?;
        diesel::insert_into(community_metric_links::table)
            .values((
                community_metric_links::metric_id.eq(metric_id),
                community_metric_links::series.eq(input.series.trim()),
                community_metric_links::scope.eq(scope.code()),
                community_metric_links::period.eq(input.period.trim()),
                community_metric_links::created_at.eq(db::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(actor, "community.metric_linked").target("metric", metric_id).details(json!({
                "series": input.series.trim(), "scope": scope.code(), "period": input.period.trim()
            })),
        )?;
        Ok(community_metric_links::table.find(metric_id).select(MetricLink::as_select()).first(conn)?)
    })
}

pub fn unlink_metric(conn: &mut DbConn, actor: Actor, metric_id: i64) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let n = diesel::delete(community_metric_links::table.find(metric_id)).execute(conn)?;
        if n == 0 {
            return Err(ServiceError::NotFound("link"));
        }
        audit::record(conn, Event::new(actor, "community.metric_unlinked").target("metric", metric_id))?;
        Ok(())
    })
}

/// Metrics that can be fed: (id, "slug: name (unit)").
pub fn metric_choices(conn: &mut DbConn) -> Result<Vec<(i64, String)>, ServiceError> {
    let rows: Vec<(i64, String, String, String)> = metrics::table
        .order(metrics::slug)
        .select((metrics::id, metrics::slug, metrics::name, metrics::unit))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, slug, name, unit)| (id, format!("{slug}: {name} ({unit})"))).collect())
}

/// Skipped items of a run, for the CLI.
pub fn run_skipped(run: &CollectorRun) -> Vec<Skipped> {
    skipped_of(run)
        .into_iter()
        .filter_map(|s| serde_json::from_value::<SkippedItem>(s).ok())
        .map(|s| Skipped { item: format!("{} {}", s.repository, s.item), reason: s.reason })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintainers_files_name_logins() {
        let codeowners = "# Owners\n* @ada @lin\n/docs/ @notebook/docs-team ada@example.org\n";
        assert_eq!(logins_in_file(codeowners), ["ada", "lin"]);
        let md = "Maintainers\n\n- Ada (@ada)\n- @Sam, since 2025\nkofi\n";
        assert_eq!(logins_in_file(md), ["ada", "Sam"]);
        assert!(logins_in_file("").is_empty());
        assert_eq!(split_full_name("a/b").unwrap(), ("a".to_string(), "b".to_string()));
        assert!(split_full_name("a b/c").is_err());
    }
}
