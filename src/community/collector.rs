//! The GitHub collector: reads pull requests, issues, comments, releases and security advisories of every
//! included repository through the REST API, page by page (`Link: <...>; rel="next"`), waiting out rate
//! limits (403/429 with `x-ratelimit-remaining: 0` until `x-ratelimit-reset`, or `retry-after`), storing each
//! page with the run's cursor so an interrupted run resumes, and committing the run's observations at the end.

use std::time::Duration;

use chrono::NaiveDate;

use super::import;
use super::model::CollectorRun;
use super::service;
use crate::audit::Actor;
use crate::config::Secret;
use crate::db::DbConn;
use crate::domain::ServiceError;

/// Why collecting stopped, in words for the person who ran it.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{0}")]
    Github(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A GitHub REST client: base URL (GitHub Enterprise or a test server), token, and how long it may wait for
/// a rate limit to reset.
pub struct GithubClient {
    base: String,
    token: Option<Secret>,
    agent: ureq::Agent,
    /// The longest wait for a rate limit; a later reset stops the run (it resumes next time).
    pub max_wait: Duration,
    /// How waiting is done (tests may count instead of sleeping).
    pub sleep: fn(Duration),
}

/// One page of results and the next page's URL.
pub struct Page {
    pub body: Vec<u8>,
    pub next: Option<String>,
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let url = pieces.next()?.trim().strip_prefix('<')?.strip_suffix('>')?;
        pieces.any(|p| p.trim().replace(' ', "") == "rel=\"next\"").then(|| url.to_string())
    })
}

/// How long to wait before trying again after a 403 or 429, if it is a rate limit at all.
pub fn rate_limit_wait(
    remaining: Option<&str>,
    reset: Option<&str>,
    retry_after: Option<&str>,
    now: i64,
) -> Option<Duration> {
    if let Some(s) = retry_after.and_then(|s| s.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(s));
    }
    if remaining.map(str::trim) == Some("0") {
        let reset = reset.and_then(|r| r.trim().parse::<i64>().ok())?;
        return Some(Duration::from_secs((reset - now).max(0) as u64 + 1));
    }
    None
}

impl GithubClient {
    pub fn new(base: &str, token: Option<Secret>) -> Self {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).user_agent("steward-collector").build();
        Self {
            base: base.trim().trim_end_matches('/').to_string(),
            token,
            agent,
            max_wait: Duration::from_secs(15 * 60),
            sleep: std::thread::sleep,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Fetches one page, waiting out rate limits (at most a few times).
    pub fn get(&self, url: &str) -> Result<Page, FetchError> {
        for _ in 0..5 {
            let mut request = self
                .agent
                .get(url)
                .set("Accept", "application/vnd.github+json")
                .set("X-GitHub-Api-Version", "2022-11-28");
            if let Some(token) = &self.token {
                request = request.set("Authorization", &format!("Bearer {}", token.expose()));
            }
            match request.call() {
                Ok(response) => {
                    let next = response.header("link").and_then(next_link);
                    let mut body = Vec::new();
                    std::io::Read::read_to_end(&mut response.into_reader(), &mut body)
                        .map_err(|e| FetchError::Other(format!("reading {url}: {e}")))?;
                    return Ok(Page { body, next });
                }
                Err(ureq::Error::Status(code, response)) => {
                    let wait = if matches!(code, 403 | 429) {
                        rate_limit_wait(
                            response.header("x-ratelimit-remaining"),
                            response.header("x-ratelimit-reset"),
                            response.header("retry-after"),
                            chrono::Utc::now().timestamp(),
                        )
                    } else {
                        None
                    };
                    let message = github_message(response);
                    match wait {
                        Some(w) if w <= self.max_wait => {
                            tracing::info!(seconds = w.as_secs(), "GitHub rate limit reached; waiting for its reset");
                            (self.sleep)(w);
                        }
                        Some(w) => {
                            return Err(FetchError::Other(format!(
                                "GitHub's rate limit resets in {} minutes, longer than this run waits; run again then \
                                 (it resumes where it stopped)",
                                w.as_secs().div_ceil(60)
                            )))
                        }
                        None => return Err(FetchError::Status(code, message)),
                    }
                }
                Err(e) => return Err(FetchError::Other(format!("cannot reach {}: {e}", self.base))),
            }
        }
        Err(FetchError::Other("GitHub kept answering that the rate limit is reached".into()))
    }
}

fn github_message(response: ureq::Response) -> String {
    let text = response.into_string().unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

#[derive(Debug)]
pub enum FetchError {
    Status(u16, String),
    Other(String),
}

/// The endpoints read for each repository, in order.
pub const ENDPOINTS: &[&str] = &["pulls", "issues", "comments", "releases", "advisories"];

fn first_url(base: &str, full_name: &str, endpoint: &str, since: Option<&str>) -> String {
    let since = since.map(|s| format!("&since={s}")).unwrap_or_default();
    match endpoint {
        "pulls" => format!("{base}/repos/{full_name}/pulls?state=all&sort=updated&direction=desc&per_page=100"),
        "issues" => format!("{base}/repos/{full_name}/issues?state=all&per_page=100{since}"),
        "comments" => format!("{base}/repos/{full_name}/issues/comments?per_page=100{since}"),
        "releases" => format!("{base}/repos/{full_name}/releases?per_page=100"),
        _ => format!("{base}/repos/{full_name}/security-advisories?state=published&per_page=100"),
    }
}

/// What the command line shows while a run goes.
pub struct Progress<'a> {
    pub repository: &'a str,
    pub endpoint: &'a str,
    pub repository_index: usize,
    pub repositories: usize,
    pub items: usize,
}

/// Collects every included repository and commits the run. An unfinished earlier run is resumed from its
/// cursor; otherwise only what changed since the last committed run is fetched. On failure the run is
/// marked failed (its stored pages stay) and the error says why.
pub fn collect(
    conn: &mut DbConn,
    client: &GithubClient,
    actor: Actor,
    today: NaiveDate,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<(CollectorRun, bool), CollectError> {
    let (run, resumed) = service::open_github_run(conn, actor)?;
    match collect_run(conn, client, &run, progress) {
        Ok(()) => {
            let run = service::commit_run(conn, run.id, today).inspect_err(|e| {
                let _ = service::fail_run(conn, run.id, &e.to_string());
            })?;
            Ok((run, resumed))
        }
        Err(e) => {
            service::fail_run(conn, run.id, &e.to_string())?;
            Err(e)
        }
    }
}

fn collect_run(
    conn: &mut DbConn,
    client: &GithubClient,
    run: &CollectorRun,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<(), CollectError> {
    let repos: Vec<_> = service::list_repositories(conn)?.into_iter().filter(|r| r.included).collect();
    let since = run.since.map(|s| s.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let mut items = run.items.max(0) as usize;
    for (index, repo) in repos.iter().enumerate() {
        let full_name = repo.full_name();
        for endpoint in ENDPOINTS {
            let key = format!("{full_name}:{endpoint}");
            let cursor = service::cursor_of(&service::find_run(conn, run.id)?);
            let mut url = match cursor.get(&key).and_then(|v| v.as_str()) {
                Some("done") => continue,
                Some(next) => next.to_string(),
                None => first_url(client.base(), &full_name, endpoint, since.as_deref()),
            };
            loop {
                progress(&Progress {
                    repository: &full_name,
                    endpoint,
                    repository_index: index + 1,
                    repositories: repos.len(),
                    items,
                });
                let page = match client.get(&url) {
                    Ok(page) => page,
                    Err(FetchError::Status(401, m)) => {
                        return Err(CollectError::Github(format!(
                            "GitHub refused the token (401 {m}); check STEWARD_GITHUB_TOKEN or --token"
                        )))
                    }
                    Err(FetchError::Status(404, _)) if *endpoint == "pulls" => {
                        return Err(CollectError::Github(format!(
                            "{full_name}: GitHub has no such repository, or the token cannot see it (404)"
                        )))
                    }
                    Err(FetchError::Status(code @ (403 | 404), m)) if *endpoint == "advisories" => {
                        let parsed = import::Parsed {
                            items: Vec::new(),
                            skipped: vec![import::Skipped {
                                item: "security advisories".into(),
                                reason: format!("not readable with this token ({code} {m})"),
                            }],
                        };
                        service::store_page(conn, run.id, repo.id, &key, &parsed, None)?;
                        break;
                    }
                    Err(FetchError::Status(code, m)) => {
                        return Err(CollectError::Github(format!("{full_name} {endpoint}: GitHub answered {code} {m}")))
                    }
                    Err(FetchError::Other(m)) => {
                        return Err(CollectError::Github(format!("{full_name} {endpoint}: {m}")))
                    }
                };
                let parsed = import::parse_github_json(&page.body)
                    .map_err(|e| CollectError::Github(format!("{full_name} {endpoint}: the answer {e}")))?;
                // Pull requests come newest change first: once a whole page is older than the last run, stop.
                let stale = *endpoint == "pulls"
                    && run.since.is_some_and(|s| {
                        !parsed.items.is_empty() && parsed.items.iter().all(|i| i.updated_at.is_some_and(|u| u < s))
                    });
                let next = if stale { None } else { page.next };
                // The token goes only to the API it was given for.
                if next.as_deref().is_some_and(|n| !n.starts_with(&format!("{}/", client.base()))) {
                    return Err(CollectError::Github(format!(
                        "{full_name} {endpoint}: the next page is not on {}; not following it",
                        client.base()
                    )));
                }
                items += parsed.items.len();
                service::store_page(conn, run.id, repo.id, &key, &parsed, next.as_deref())?;
                match next {
                    Some(n) => url = n,
                    None => break,
                }
            }
        }
    }
    Ok(())
}

/// Where a repository's maintainers are listed on GitHub.
#[derive(Clone, Debug)]
pub enum MaintainerSource {
    /// A file in the repository (MAINTAINERS.md, CODEOWNERS, ...): its `@login` mentions.
    File(String),
    /// A team's members: `org/slug`.
    Team(String),
}

/// Reads a repository's maintainers from GitHub (a file in the repository, or a team's members) and adds
/// them from `since`, in one transaction; nothing is added when anything fails.
pub fn read_maintainers(
    conn: &mut DbConn,
    client: &GithubClient,
    actor: Actor,
    repository_id: i64,
    source: &MaintainerSource,
    since: &str,
) -> Result<usize, CollectError> {
    let repo = service::find_repository(conn, repository_id)?;
    let full_name = repo.full_name();
    let refused = |what: &str, code: u16, m: String| {
        CollectError::Github(match code {
            401 => format!("GitHub refused the token (401 {m}); check STEWARD_GITHUB_TOKEN or --token"),
            404 => format!("{what}: not found, or the token cannot see it (404)"),
            _ => format!("{what}: GitHub answered {code} {m}"),
        })
    };
    let fetch_error = |what: &str, e: FetchError| match e {
        FetchError::Status(code, m) => refused(what, code, m),
        FetchError::Other(m) => CollectError::Github(format!("{what}: {m}")),
    };
    match source {
        MaintainerSource::File(path) => {
            let path = path.trim().trim_start_matches('/');
            let what = format!("{full_name}: the file {path}");
            let url = format!("{}/repos/{full_name}/contents/{path}", client.base());
            let page = client.get(&url).map_err(|e| fetch_error(&what, e))?;
            let text = file_text(&page.body).map_err(|m| CollectError::Github(format!("{what}: {m}")))?;
            Ok(service::add_maintainers_from_file(conn, actor, repository_id, &text, since)?)
        }
        MaintainerSource::Team(team) => {
            let (org, slug) = team
                .trim()
                .split_once('/')
                .filter(|(o, s)| !o.is_empty() && !s.is_empty())
                .ok_or_else(|| CollectError::Github(format!("'{team}' is not a team like org/team-slug")))?;
            let what = format!("the team {org}/{slug}");
            let mut url = Some(format!("{}/orgs/{org}/teams/{slug}/members?per_page=100", client.base()));
            let mut logins = Vec::new();
            while let Some(u) = url {
                let page = client.get(&u).map_err(|e| fetch_error(&what, e))?;
                let members: Vec<serde_json::Value> = serde_json::from_slice(&page.body)
                    .map_err(|e| CollectError::Github(format!("{what}: the answer is not a list of members ({e})")))?;
                logins.extend(members.iter().filter_map(|m| m["login"].as_str().map(str::to_string)));
                url = page.next.filter(|n| n.starts_with(&format!("{}/", client.base())));
            }
            if logins.is_empty() {
                return Err(CollectError::Github(format!("{what} has no members")));
            }
            Ok(service::add_maintainer_logins(conn, actor, repository_id, &logins, since, "team")?)
        }
    }
}

/// The text of a file from GitHub's contents API (base64 with line breaks).
pub fn file_text(body: &[u8]) -> Result<String, String> {
    use base64::Engine;
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON ({e})"))?;
    if v["type"].as_str().is_some_and(|t| t != "file") {
        return Err("it is not a file".into());
    }
    let content: String = v["content"].as_str().ok_or("the answer has no content")?.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(content).map_err(|e| format!("bad base64 ({e})"))?;
    String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let h = r#"<https://api.github.com/repositories/1/pulls?page=2>; rel="next", <https://api.github.com/repositories/1/pulls?page=5>; rel="last""#;
        assert_eq!(next_link(h).as_deref(), Some("https://api.github.com/repositories/1/pulls?page=2"));
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn rate_limits() {
        assert_eq!(rate_limit_wait(Some("0"), Some("1010"), None, 1000), Some(Duration::from_secs(11)));
        assert_eq!(rate_limit_wait(Some("0"), Some("900"), None, 1000), Some(Duration::from_secs(1)));
        assert_eq!(rate_limit_wait(None, None, Some("7"), 1000), Some(Duration::from_secs(7)));
        assert_eq!(rate_limit_wait(Some("42"), Some("1010"), None, 1000), None);
        assert_eq!(rate_limit_wait(Some("0"), Some("soon"), None, 1000), None);
    }
}
