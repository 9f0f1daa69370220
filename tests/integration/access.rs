//! Who may call what: every route of the app against every role and anonymous, from a table written here
//! by hand, with real ids of a demo foundation: for routes whose id belongs to an organization or a person,
//! once with the caller's own and once with another's. A route the app has and this table lacks (or the other
//! way round), or a path parameter the sweep cannot fill, fails the test.

use steward::accounts::{Access, Role};

use crate::backend_tests;
use crate::support::TestApp;

/// Who the table says may call a route.
#[derive(Clone, Copy, Debug, PartialEq)]
enum May {
    Anyone,
    SignedIn,
    Only(&'static [Role]),
}

use May::{Anyone, Only, SignedIn};

const ADMIN: May = Only(&[Role::Admin]);
const TREASURER: May = Only(&[Role::Treasurer]);
/// Representatives pass the route's check; the service then limits them to their own organization.
const WITH_REPS: May = Only(&[Role::Treasurer, Role::Council, Role::Admin, Role::MemberRep]);
const EDITORS: May = Only(&[Role::Treasurer, Role::MemberRep]);
/// The treasurer and the council: the funding picture.
const FUNDING: May = Only(&[Role::Treasurer, Role::Council]);
const RULE_SETTERS: May = Only(&[Role::Council, Role::Admin]);
const COUNCIL: May = Only(&[Role::Council]);
/// Community health: the council manages it; the treasurer and admins read it.
const COMMUNITY: May = Only(&[Role::Council, Role::Treasurer, Role::Admin]);

const TABLE: &[(&str, &str, May)] = &[
    ("GET", "/healthz", Anyone),
    ("GET", "/readyz", Anyone),
    ("GET", "/static/{name}", Anyone),
    ("POST", "/csp-report", Anyone),
    ("GET", "/email/unsubscribe", Anyone),
    ("POST", "/email/unsubscribe", Anyone),
    ("GET", "/api/v1/openapi.json", Anyone),
    ("GET", "/api/docs", Anyone),
    ("GET", "/", Anyone),
    ("GET", "/priorities", Anyone),
    ("GET", "/sign-in", Anyone),
    ("POST", "/sign-in", Anyone),
    ("GET", "/sign-in/two-factor", Anyone),
    ("POST", "/sign-in/two-factor", Anyone),
    ("POST", "/sign-out", Anyone),
    ("GET", "/password/forgot", Anyone),
    ("POST", "/password/forgot", Anyone),
    ("GET", "/password/reset/{token}", Anyone),
    ("POST", "/password/reset/{token}", Anyone),
    ("GET", "/invitation/{token}", Anyone),
    ("POST", "/invitation/{token}", Anyone),
    ("GET", "/account", SignedIn),
    ("POST", "/account/password", SignedIn),
    ("POST", "/account/time-zone", SignedIn),
    ("POST", "/account/sessions/sign-out-everywhere", SignedIn),
    ("GET", "/account/two-factor", SignedIn),
    ("POST", "/account/two-factor/confirm", SignedIn),
    ("POST", "/account/two-factor/disable", SignedIn),
    ("GET", "/account/tokens", SignedIn),
    ("POST", "/account/tokens", SignedIn),
    ("POST", "/account/tokens/{id}/revoke", SignedIn),
    ("GET", "/admin/users", ADMIN),
    ("GET", "/admin/users/invite", ADMIN),
    ("POST", "/admin/users/invite", ADMIN),
    ("GET", "/admin/users/{id}", ADMIN),
    ("POST", "/admin/users/{id}/roles", ADMIN),
    ("POST", "/admin/users/{id}/disable", ADMIN),
    ("POST", "/admin/users/{id}/enable", ADMIN),
    ("POST", "/admin/users/{id}/resend-invitation", ADMIN),
    ("GET", "/admin/audit", ADMIN),
    ("GET", "/admin/settings", ADMIN),
    ("POST", "/admin/settings", ADMIN),
    ("GET", "/admin/mail", ADMIN),
    ("POST", "/admin/mail/{id}/retry", ADMIN),
    ("POST", "/admin/mail/{id}/cancel", ADMIN),
    ("GET", "/api/v1/me", SignedIn),
    ("GET", "/api/v1/users", ADMIN),
    ("POST", "/api/v1/users", ADMIN),
    ("GET", "/api/v1/users/{id}", ADMIN),
    ("PATCH", "/api/v1/users/{id}", ADMIN),
    ("GET", "/api/v1/tokens", SignedIn),
    ("POST", "/api/v1/tokens", SignedIn),
    ("DELETE", "/api/v1/tokens/{id}", SignedIn),
    ("GET", "/api/v1/audit-events", ADMIN),
    ("GET", "/members", Only(&[Role::Treasurer, Role::Council, Role::Admin])),
    ("GET", "/members/new", TREASURER),
    ("POST", "/members/new", TREASURER),
    ("GET", "/members/export.csv", Only(&[Role::Treasurer, Role::Council, Role::Admin])),
    ("GET", "/members/import", TREASURER),
    ("POST", "/members/import", TREASURER),
    ("GET", "/my-organization", Only(&[Role::MemberRep])),
    ("GET", "/members/{slug}", WITH_REPS),
    ("GET", "/members/{slug}/edit", EDITORS),
    ("POST", "/members/{slug}/edit", EDITORS),
    ("POST", "/members/{slug}/contacts", EDITORS),
    ("POST", "/members/{slug}/representatives", Only(&[Role::Treasurer, Role::Admin, Role::MemberRep])),
    ("GET", "/tiers", SignedIn),
    ("GET", "/tiers/new", TREASURER),
    ("POST", "/tiers/new", TREASURER),
    ("GET", "/tiers/{id}/edit", TREASURER),
    ("POST", "/tiers/{id}/edit", TREASURER),
    ("POST", "/tiers/{id}/retire", TREASURER),
    ("POST", "/tiers/{id}/reinstate", TREASURER),
    ("POST", "/tiers/{id}/delete", TREASURER),
    ("GET", "/api/v1/members", WITH_REPS),
    ("POST", "/api/v1/members", TREASURER),
    ("GET", "/api/v1/members/{id}", WITH_REPS),
    ("PATCH", "/api/v1/members/{id}", EDITORS),
    ("GET", "/api/v1/tiers", SignedIn),
    ("POST", "/api/v1/tiers", TREASURER),
    ("GET", "/fiscal-years", FUNDING),
    ("POST", "/fiscal-years", TREASURER),
    ("POST", "/fiscal-years/{id}/status", TREASURER),
    ("GET", "/ledger", Only(&[Role::Treasurer, Role::Council])),
    ("GET", "/ledger/export.csv", Only(&[Role::Treasurer, Role::Council])),
    ("GET", "/invoices", WITH_REPS),
    ("POST", "/invoices/issue", TREASURER),
    ("GET", "/invoices/export.csv", WITH_REPS),
    ("GET", "/invoices/reminders", TREASURER),
    ("POST", "/invoices/reminders", TREASURER),
    ("GET", "/invoices/{id}", WITH_REPS),
    ("POST", "/invoices/{id}/payments", TREASURER),
    ("POST", "/invoices/{id}/void", TREASURER),
    ("GET", "/api/v1/invoices", WITH_REPS),
    ("GET", "/api/v1/invoices/{id}", WITH_REPS),
    ("POST", "/api/v1/invoices/{id}/payments", TREASURER),
    ("POST", "/ledger/adjustments", TREASURER),
    ("POST", "/ledger/transfers", TREASURER),
    ("POST", "/ledger/{id}/reverse", TREASURER),
    ("GET", "/exchange-rates", FUNDING),
    ("POST", "/exchange-rates", TREASURER),
    ("GET", "/api/v1/fiscal-years", FUNDING),
    ("GET", "/api/v1/ledger/entries", FUNDING),
    ("GET", "/api/v1/ledger/balances", FUNDING),
    ("POST", "/api/v1/ledger/adjustments", TREASURER),
    ("POST", "/api/v1/ledger/transfers", TREASURER),
    ("POST", "/api/v1/ledger/entries/{id}/reverse", TREASURER),
    ("GET", "/api/v1/exchange-rates", FUNDING),
    ("POST", "/api/v1/exchange-rates", TREASURER),
    ("GET", "/priorities/new", FUNDING),
    ("POST", "/priorities/new", FUNDING),
    ("GET", "/priorities/{id}/edit", FUNDING),
    ("POST", "/priorities/{id}/edit", FUNDING),
    ("GET", "/budgets", FUNDING),
    ("GET", "/budgets/{year}/{priority}", TREASURER),
    ("POST", "/budgets/{year}/{priority}", TREASURER),
    ("GET", "/initiatives", Anyone),
    ("GET", "/initiatives/new", FUNDING),
    ("POST", "/initiatives/new", FUNDING),
    ("GET", "/initiatives/{id}", Anyone),
    ("GET", "/initiatives/{id}/edit", FUNDING),
    ("POST", "/initiatives/{id}/edit", FUNDING),
    ("POST", "/initiatives/{id}/status", FUNDING),
    ("POST", "/initiatives/{id}/allocations", TREASURER),
    ("POST", "/allocations/{id}", TREASURER),
    ("GET", "/api/v1/priorities", SignedIn),
    ("POST", "/api/v1/priorities", FUNDING),
    ("PUT", "/api/v1/priorities/{id}", FUNDING),
    ("GET", "/api/v1/budgets", FUNDING),
    ("PUT", "/api/v1/budgets/{fiscal_year_id}/{priority_id}", TREASURER),
    ("GET", "/api/v1/initiatives", SignedIn),
    ("POST", "/api/v1/initiatives", FUNDING),
    ("GET", "/api/v1/initiatives/{id}", SignedIn),
    ("PUT", "/api/v1/initiatives/{id}", FUNDING),
    ("POST", "/api/v1/initiatives/{id}/status", FUNDING),
    ("POST", "/api/v1/initiatives/{id}/allocations", TREASURER),
    ("GET", "/api/v1/allocations", FUNDING),
    ("PUT", "/api/v1/allocations/{id}", TREASURER),
    ("GET", "/disbursements", FUNDING),
    ("GET", "/disbursements/approval-rule", RULE_SETTERS),
    ("POST", "/disbursements/approval-rule", RULE_SETTERS),
    ("GET", "/disbursements/new", FUNDING),
    ("POST", "/disbursements/new", FUNDING),
    ("GET", "/disbursements/{id}", FUNDING),
    ("POST", "/disbursements/{id}/approve", FUNDING),
    ("POST", "/disbursements/{id}/reject", FUNDING),
    ("POST", "/disbursements/{id}/pay", TREASURER),
    ("GET", "/api/v1/disbursements/approval-rule", SignedIn),
    ("PUT", "/api/v1/disbursements/approval-rule", RULE_SETTERS),
    ("GET", "/api/v1/disbursements", FUNDING),
    ("POST", "/api/v1/disbursements", FUNDING),
    ("GET", "/api/v1/disbursements/{id}", FUNDING),
    ("POST", "/api/v1/disbursements/{id}/approve", FUNDING),
    ("POST", "/api/v1/disbursements/{id}/reject", FUNDING),
    ("POST", "/api/v1/disbursements/{id}/pay", TREASURER),
    ("GET", "/treasury", FUNDING),
    ("GET", "/surveys", COUNCIL),
    ("GET", "/surveys/new", COUNCIL),
    ("POST", "/surveys/new", COUNCIL),
    ("GET", "/surveys/{id}", COUNCIL),
    ("POST", "/surveys/{id}/questions", COUNCIL),
    ("POST", "/surveys/{id}/copy", COUNCIL),
    ("POST", "/surveys/{id}/open", COUNCIL),
    ("POST", "/surveys/{id}/close", COUNCIL),
    ("GET", "/surveys/{id}/results", COUNCIL),
    ("GET", "/surveys/{id}/results.csv", COUNCIL),
    ("GET", "/surveys/{id}/responses.csv", COUNCIL),
    ("POST", "/surveys/questions/{id}/remove", COUNCIL),
    ("GET", "/feedback", Only(&[Role::MemberRep])),
    ("POST", "/feedback", Only(&[Role::MemberRep])),
    ("GET", "/feedback/triage", COUNCIL),
    ("POST", "/feedback/{id}/answer", COUNCIL),
    ("GET", "/api/v1/feedback", Only(&[Role::MemberRep, Role::Council])),
    ("POST", "/api/v1/feedback", Only(&[Role::MemberRep])),
    ("POST", "/api/v1/feedback/{id}/answer", COUNCIL),
    ("GET", "/my-surveys", Only(&[Role::MemberRep])),
    ("POST", "/my-surveys/{id}/link", Only(&[Role::MemberRep])),
    ("POST", "/my-surveys/{id}/answer", Only(&[Role::MemberRep])),
    ("GET", "/s/{token}", Anyone),
    ("GET", "/c/{token}", Anyone),
    ("POST", "/c/{token}", Anyone),
    ("POST", "/api/v1/community-answers", Anyone),
    ("POST", "/s/{token}", Anyone),
    ("GET", "/api/v1/surveys", COUNCIL),
    ("POST", "/api/v1/surveys", COUNCIL),
    ("GET", "/api/v1/surveys/{id}", COUNCIL),
    ("POST", "/api/v1/surveys/{id}/questions", COUNCIL),
    ("POST", "/api/v1/surveys/{id}/open", COUNCIL),
    ("POST", "/api/v1/surveys/{id}/close", COUNCIL),
    ("GET", "/api/v1/surveys/{id}/results", COUNCIL),
    ("POST", "/api/v1/survey-answers", Anyone),
    ("GET", "/metrics", SignedIn),
    ("GET", "/metrics/new", COUNCIL),
    ("POST", "/metrics/new", COUNCIL),
    ("GET", "/metrics/import", COUNCIL),
    ("POST", "/metrics/import", COUNCIL),
    ("GET", "/metrics/{id}", SignedIn),
    ("GET", "/metrics/{id}/edit", COUNCIL),
    ("POST", "/metrics/{id}/edit", COUNCIL),
    ("POST", "/metrics/{id}/observations", COUNCIL),
    ("GET", "/metrics/{id}/observations.csv", SignedIn),
    ("POST", "/metrics/observations/{id}/correct", COUNCIL),
    ("GET", "/api/v1/metrics", SignedIn),
    ("POST", "/api/v1/metrics", COUNCIL),
    ("GET", "/api/v1/metrics/{id}", SignedIn),
    ("PUT", "/api/v1/metrics/{id}", COUNCIL),
    ("POST", "/api/v1/metrics/{id}/observations", COUNCIL),
    ("POST", "/api/v1/metrics/{id}/observations/bulk", COUNCIL),
    ("POST", "/api/v1/observations/{id}/correct", COUNCIL),
    ("GET", "/api/v1/treasury", FUNDING),
    ("GET", "/reports", SignedIn),
    ("POST", "/reports", RULE_SETTERS),
    ("GET", "/reports/schedule", ADMIN),
    ("POST", "/reports/schedule", ADMIN),
    ("GET", "/reports/{period}", SignedIn),
    ("GET", "/reports/{period}/email", SignedIn),
    ("POST", "/reports/{period}/words", RULE_SETTERS),
    ("GET", "/reports/{period}/preview", RULE_SETTERS),
    ("GET", "/reports/{period}/preview/email", RULE_SETTERS),
    ("GET", "/reports/{period}/send", RULE_SETTERS),
    ("POST", "/reports/{period}/send", RULE_SETTERS),
    ("POST", "/reports/{period}/publish", RULE_SETTERS),
    ("GET", "/api/v1/reports", SignedIn),
    ("GET", "/api/v1/reports/schedule", RULE_SETTERS),
    ("PUT", "/api/v1/reports/schedule", ADMIN),
    ("GET", "/api/v1/reports/{period}", SignedIn),
    ("GET", "/community", COMMUNITY),
    ("GET", "/community/values", COMMUNITY),
    ("GET", "/community/repositories", COMMUNITY),
    ("POST", "/community/repositories", COUNCIL),
    ("GET", "/community/repositories/{id}", COMMUNITY),
    ("POST", "/community/repositories/{id}", COUNCIL),
    ("POST", "/community/repositories/{id}/maintainers", COUNCIL),
    ("POST", "/community/repositories/{id}/maintainers/file", COUNCIL),
    ("POST", "/community/maintainers/{id}/remove", COUNCIL),
    ("GET", "/community/import", COUNCIL),
    ("POST", "/community/import/github", COUNCIL),
    ("POST", "/community/import/coverage", COUNCIL),
    ("GET", "/community/metrics", COMMUNITY),
    ("POST", "/community/metrics", COUNCIL),
    ("POST", "/community/metrics/{id}/unlink", COUNCIL),
    ("GET", "/community/runs", COMMUNITY),
    ("GET", "/api/v1/community/repositories", COMMUNITY),
    ("POST", "/api/v1/community/repositories", COUNCIL),
    ("GET", "/api/v1/community/runs", COMMUNITY),
    ("GET", "/api/v1/community/series", COMMUNITY),
    ("GET", "/transparency", Anyone),
    ("GET", "/transparency/feed.atom", Anyone),
    ("GET", "/transparency/reports/{period}", Anyone),
    ("GET", "/admin/transparency", RULE_SETTERS),
    ("POST", "/admin/transparency", RULE_SETTERS),
];

#[test]
fn every_route_is_in_the_table_and_declares_what_the_table_says() {
    let declared = steward::app::route_table();
    let mut problems = Vec::new();
    for spec in &declared {
        match TABLE.iter().find(|(m, p, _)| *m == spec.method.as_str() && *p == spec.path) {
            None => problems.push(format!("{} {} is not in the access table", spec.method, spec.path)),
            Some((_, _, may)) => {
                let same = match (may, spec.access) {
                    (Anyone, Access::Public) | (SignedIn, Access::SignedIn) => true,
                    (Only(a), Access::Roles(b)) => a == &b,
                    _ => false,
                };
                if !same {
                    problems.push(format!(
                        "{} {}: table says {may:?}, route declares {:?}",
                        spec.method, spec.path, spec.access
                    ));
                }
            }
        }
    }
    for (method, path, _) in TABLE {
        if !declared.iter().any(|s| s.method.as_str() == *method && s.path == *path) {
            problems.push(format!("{method} {path} is in the table but not an app route"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[derive(Clone, Copy, Debug)]
enum Caller {
    Anonymous,
    As(Role),
}

const CALLERS: [Caller; 5] = [
    Caller::Anonymous,
    Caller::As(Role::MemberRep),
    Caller::As(Role::Treasurer),
    Caller::As(Role::Council),
    Caller::As(Role::Admin),
];

/// Whose a path parameter's value is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Owner {
    /// The foundation's: one real row, the same for every caller.
    Foundation,
    /// An organization's: representatives may reach only their own.
    Organization,
    /// A person's (API tokens): everyone may reach only their own.
    Person,
}

/// Which of the two ids the sweep uses for a parameter that belongs to someone.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Whose {
    Own,
    Other,
}

/// How the sweep fills each path parameter: the path up to the parameter (without `/api/v1`), whose it is, and
/// the SQL that finds a real value (`{org}` is the organization's id, `{user}` the person's). A route with a
/// parameter missing here fails the test.
const PARAMETERS: &[(&str, Owner, &str)] = &[
    ("/members/{slug}", Owner::Organization, "SELECT slug AS v FROM members WHERE id = {org}"),
    ("/members/{id}", Owner::Organization, "SELECT CAST(id AS TEXT) AS v FROM members WHERE id = {org}"),
    ("/invoices/{id}", Owner::Organization, "SELECT CAST(MIN(id) AS TEXT) AS v FROM invoices WHERE member_id = {org}"),
    ("/account/tokens/{id}", Owner::Person, "SELECT CAST(MAX(id) AS TEXT) AS v FROM api_tokens WHERE user_id = {user}"),
    ("/tokens/{id}", Owner::Person, "SELECT CAST(MAX(id) AS TEXT) AS v FROM api_tokens WHERE user_id = {user}"),
    (
        "/admin/users/{id}",
        Owner::Foundation,
        "SELECT CAST(id AS TEXT) AS v FROM users WHERE email = 'target@example.org'",
    ),
    ("/users/{id}", Owner::Foundation, "SELECT CAST(id AS TEXT) AS v FROM users WHERE email = 'target@example.org'"),
    ("/admin/mail/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM outbox"),
    ("/tiers/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM membership_tiers"),
    ("/fiscal-years/{id}", Owner::Foundation, "SELECT CAST(MAX(id) AS TEXT) AS v FROM fiscal_years"),
    ("/ledger/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM ledger_entries"),
    ("/ledger/entries/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM ledger_entries"),
    ("/priorities/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM funding_priorities"),
    ("/budgets/{year}", Owner::Foundation, "SELECT CAST(MIN(fiscal_year_id) AS TEXT) AS v FROM budgets"),
    ("/budgets/{year}/{priority}", Owner::Foundation, "SELECT CAST(MIN(priority_id) AS TEXT) AS v FROM budgets"),
    ("/budgets/{fiscal_year_id}", Owner::Foundation, "SELECT CAST(MIN(fiscal_year_id) AS TEXT) AS v FROM budgets"),
    (
        "/budgets/{fiscal_year_id}/{priority_id}",
        Owner::Foundation,
        "SELECT CAST(MIN(priority_id) AS TEXT) AS v FROM budgets",
    ),
    ("/initiatives/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM initiatives"),
    ("/allocations/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM allocations"),
    ("/disbursements/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM disbursements"),
    ("/surveys/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM surveys"),
    ("/surveys/questions/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM survey_questions"),
    ("/my-surveys/{id}", Owner::Foundation, "SELECT CAST(MAX(id) AS TEXT) AS v FROM surveys"),
    ("/feedback/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM feedback_items"),
    ("/metrics/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM metrics"),
    ("/metrics/observations/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM metric_observations"),
    ("/observations/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM metric_observations"),
    ("/reports/{period}", Owner::Foundation, "SELECT MAX(period) AS v FROM reports"),
    ("/transparency/reports/{period}", Owner::Foundation, "SELECT MAX(period) AS v FROM reports"),
    ("/community/repositories/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM repositories"),
    ("/community/maintainers/{id}", Owner::Foundation, "SELECT CAST(MIN(id) AS TEXT) AS v FROM repository_maintainers"),
    (
        "/community/metrics/{id}",
        Owner::Foundation,
        "SELECT CAST(MIN(metric_id) AS TEXT) AS v FROM community_metric_links",
    ),
    // Secret links: a guessed token reaches nothing, whoever calls.
    ("/password/reset/{token}", Owner::Foundation, "SELECT 'not-a-real-token' AS v"),
    ("/invitation/{token}", Owner::Foundation, "SELECT 'not-a-real-token' AS v"),
    ("/s/{token}", Owner::Foundation, "SELECT 'not-a-real-token' AS v"),
    ("/c/{token}", Owner::Foundation, "SELECT 'not-a-real-token' AS v"),
];

/// Each `{param}` of a route pattern with the key it is filled by (the pattern up to it, without `/api/v1`).
fn parameters_of(pattern: &str) -> Vec<(String, String)> {
    let bare = pattern.strip_prefix("/api/v1").unwrap_or(pattern);
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = bare[from..].find('{').map(|i| i + from) {
        let end = bare[start..].find('}').map(|i| i + start).expect("a closed path parameter");
        found.push((bare[start..=end].to_string(), bare[..=end].to_string()));
        from = end + 1;
    }
    found
}

#[derive(diesel::QueryableByName)]
struct Value {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    v: Option<String>,
}

/// The organizations and people one sweep works with.
struct Parties {
    own_org: i64,
    other_org: i64,
    target_user: i64,
}

/// The real value for one parameter key, for this caller and whose id it should be.
async fn value_for(
    app: &TestApp,
    key: &str,
    parties: &Parties,
    caller: Option<i64>,
    whose: Whose,
) -> Result<String, String> {
    if key == "/static/{name}" {
        return Ok(steward::web::assets::stylesheet_path().trim_start_matches("/static/").to_string());
    }
    let Some((_, _, sql)) = PARAMETERS.iter().find(|(k, _, _)| *k == key) else {
        return Err(format!("no entry in PARAMETERS for {key}"));
    };
    let org = match whose {
        Whose::Own => parties.own_org,
        Whose::Other => parties.other_org,
    };
    let user = match (whose, caller) {
        (Whose::Own, Some(id)) => id,
        _ => parties.target_user,
    };
    let sql = sql.replace("{org}", &org.to_string()).replace("{user}", &user.to_string());
    let found = app
        .with_conn(move |conn| {
            use diesel::RunQueryDsl;
            steward::on_backend!(conn, |c| diesel::sql_query(&sql).get_result::<Value>(c))
        })
        .await;
    match found {
        Ok(Value { v: Some(v) }) => Ok(v),
        other => Err(format!("the demo has no value for {key} ({whose:?}): {:?}", other.map(|v| v.v))),
    }
}

/// Status of a JSON POST with a bearer token.
async fn client_json(app: &TestApp, token: &str, path: &str, body: &'static str) -> u16 {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The caller's token, or a new one when the sweep has ended it ("sign out everywhere" and a new password end
/// a person's tokens, and the sweep calls those routes too).
async fn live_token(app: &TestApp, tokens: &mut std::collections::HashMap<i64, String>, user_id: i64) -> String {
    let token = tokens[&user_id].clone();
    let hash = steward::accounts::tokens::hash_token(&token);
    let live: i64 = app
        .with_conn(move |conn| {
            use diesel::prelude::*;
            use steward::db::schema::api_tokens;
            api_tokens::table
                .filter(api_tokens::token_hash.eq(hash))
                .filter(api_tokens::revoked_at.is_null())
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    if live == 1 {
        return token;
    }
    let fresh = app.api_token_for(user_id).await;
    tokens.insert(user_id, fresh.clone());
    fresh
}

fn owner_of(pattern: &str) -> Owner {
    let mut owner = Owner::Foundation;
    for (_, key) in parameters_of(pattern) {
        if let Some((_, o, _)) = PARAMETERS.iter().find(|(k, _, _)| *k == key) {
            if *o != Owner::Foundation {
                owner = *o;
            }
        }
    }
    owner
}

backend_tests! {
    async fn every_route_answers_every_role_as_the_table_says_with_own_and_other_ids(backend) {
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        // Two organizations with invoices: the representative's own and another.
        let orgs: Vec<i64> = app
            .with_conn(|conn| {
                use diesel::prelude::*;
                use steward::db::schema::invoices;
                invoices::table.select(invoices::member_id).distinct().order(invoices::member_id).limit(2).load(conn).unwrap()
            })
            .await;
        assert_eq!(orgs.len(), 2, "the demo has invoices for two organizations");
        let mut users = Vec::new();
        for (i, role) in Role::ALL.iter().enumerate() {
            let member_id = (*role == Role::MemberRep).then_some(orgs[0]);
            let user = app.create_user(&format!("caller{i}@example.org"), &[*role], member_id).await;
            let token = app.api_token_for(user.id).await;
            // A second token of the caller's own: the one the sweep may revoke.
            app.api_token_for(user.id).await;
            users.push((*role, user, token));
        }
        let target = app.create_user("target@example.org", &[Role::Council], None).await;
        app.api_token_for(target.id).await;
        let parties = Parties { own_org: orgs[0], other_org: orgs[1], target_user: target.id };
        // Feedback for the council to answer (the demo has none).
        let rep_token = &users.iter().find(|(r, _, _)| *r == Role::MemberRep).unwrap().2;
        let sent = client_json(&app, rep_token, "/api/v1/feedback", r#"{"subject": "Sweep", "body": "A question."}"#).await;
        assert_eq!(sent, 201, "the representative's feedback is accepted");
        // Values are read once, before any request could delete what they name; later callers get the same id.
        let mut values: std::collections::HashMap<(String, Option<i64>, bool), Result<String, String>> =
            std::collections::HashMap::new();
        let anon_csrf = "anonymous-csrf-token-anonymous-csrf-token-0";
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut failures = Vec::new();
        let (mut requests, mut with_other_ids) = (0usize, 0usize);
        let mut tokens: std::collections::HashMap<i64, String> = users.iter().map(|(_, u, t)| (u.id, t.clone())).collect();

        for (method, pattern, may) in TABLE {
            let owner = owner_of(pattern);
            let api = pattern.starts_with("/api/");
            for caller in CALLERS {
                let role = match caller {
                    Caller::Anonymous => None,
                    Caller::As(role) => Some(role),
                };
                let caller_user = role.map(|r| users.iter().find(|(u, _, _)| *u == r).unwrap());
                let variants: &[Whose] = if owner == Owner::Foundation { &[Whose::Own] } else { &[Whose::Own, Whose::Other] };
                for whose in variants {
                    let mut path = pattern.to_string();
                    let mut unfilled = None;
                    for (param, key) in parameters_of(pattern) {
                        let caller_id = caller_user.map(|(_, u, _)| u.id);
                        // Only a person's things differ by caller; the rest is read once for everyone.
                        let per_caller = PARAMETERS.iter().any(|(k, o, _)| *k == key && *o == Owner::Person);
                        let cache_key = (key.clone(), caller_id.filter(|_| per_caller), *whose == Whose::Other);
                        if !values.contains_key(&cache_key) {
                            let found = value_for(&app, &key, &parties, caller_id, *whose).await;
                            values.insert(cache_key.clone(), found);
                        }
                        match values[&cache_key].clone() {
                            Ok(value) => path = path.replacen(&param, &value, 1),
                            Err(why) => unfilled = Some(why),
                        }
                    }
                    if let Some(why) = unfilled {
                        failures.push(format!("{method} {pattern}: {why}"));
                        continue;
                    }
                    let mut req = client.request(method.parse().unwrap(), app.url(&path));
                    match caller_user {
                        None => {
                            req = req.header("cookie", format!("steward_csrf={anon_csrf}")).header("x-csrf-token", anon_csrf);
                        }
                        Some((_, user, _)) => {
                            if api {
                                req = req.bearer_auth(live_token(&app, &mut tokens, user.id).await);
                            } else {
                                let (cookie, csrf) = app.session_for(user.id).await;
                                req = req.header("cookie", format!("steward_session={cookie}")).header("x-csrf-token", csrf);
                            }
                        }
                    }
                    if *method != "GET" {
                        req = if api {
                            req.header("content-type", "application/json").body("{}")
                        } else {
                            req.header("content-type", "application/x-www-form-urlencoded").body("")
                        };
                    }
                    let res = req.send().await.unwrap();
                    requests += 1;
                    let status = res.status().as_u16();
                    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    let to_sign_in = status == 303 && location.starts_with("/sign-in?next=");
                    let denied = status == 401 || status == 403 || to_sign_in;
                    let table_allows = match (may, role) {
                        (Anyone, _) => true,
                        (_, None) => false,
                        (SignedIn, Some(_)) => true,
                        (Only(roles), Some(role)) => roles.contains(&role),
                    };
                    // Someone else's id: the owner rule applies to representatives (organizations) and to everyone
                    // (a person's own things).
                    let someone_elses = *whose == Whose::Other
                        && match owner {
                            Owner::Organization => role == Some(Role::MemberRep),
                            Owner::Person => true,
                            Owner::Foundation => false,
                        };
                    if someone_elses {
                        with_other_ids += 1;
                    }
                    let right = if !table_allows {
                        if role.is_none() {
                            if api { status == 401 } else { to_sign_in }
                        } else {
                            status == 403
                        }
                    } else if someone_elses {
                        // Neither served nor acted on: refused or not found, never a success or a redirect.
                        status == 403 || status == 404
                    } else {
                        !denied && status < 500
                    };
                    if !right {
                        failures.push(format!("{method} {path} as {caller:?} ({whose:?} ids): {status} {location}"));
                    }
                }
            }
        }
        println!(
            "access sweep: {} routes x {} callers, {requests} requests, {with_other_ids} with another's ids",
            TABLE.len(),
            CALLERS.len()
        );
        assert!(failures.is_empty(), "unexpected answers:\n{}", failures.join("\n"));
    }
}
