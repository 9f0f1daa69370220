//! Who may call what: every route of the app against every role and anonymous, from a table written here
//! by hand. A route the app has and this table lacks (or the other way round) fails the test.

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

backend_tests! {
    async fn every_route_answers_every_role_as_the_table_says(backend) {
        let app = TestApp::spawn(backend).await;
        let member = app.create_member("acme", "Acme").await;
        let mut users = Vec::new();
        for (i, role) in Role::ALL.iter().enumerate() {
            let member_id = (*role == Role::MemberRep).then_some(member);
            let user = app.create_user(&format!("caller{i}@example.org"), &[*role], member_id).await;
            let token = app.api_token_for(user.id).await;
            users.push((*role, user, token));
        }
        let target = app.create_user("target@example.org", &[Role::Council], None).await;
        let target_token = app.api_token_for(target.id).await;
        let target_token_id: i64 = app
            .with_conn(move |conn| {
                use diesel::prelude::*;
                use steward::db::schema::api_tokens;
                api_tokens::table
                    .filter(api_tokens::token_hash.eq(steward::accounts::tokens::hash_token(&target_token)))
                    .select(api_tokens::id)
                    .first(conn)
                    .unwrap()
            })
            .await;
        let stylesheet = steward::web::assets::stylesheet_path();
        let treasurer_id = users.iter().find(|(r, _, _)| *r == Role::Treasurer).unwrap().1.id;
        let tier = app
            .with_conn(move |conn| {
                let input = steward::members::service::TierInput {
                    name: "Silver".into(),
                    annual_dues: "10000".into(),
                    currency: "USD".into(),
                    benefits: String::new(),
                };
                steward::members::service::create_tier(conn, treasurer_id, &input).unwrap()
            })
            .await;
        let anon_csrf = "anonymous-csrf-token-anonymous-csrf-token-0";
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut failures = Vec::new();

        for (method, pattern, may) in TABLE {
            let id = if pattern.contains("tokens") {
                target_token_id
            } else if pattern.contains("/tiers/") {
                tier.id
            } else if pattern.contains("/members/") {
                member
            } else {
                target.id
            };
            let path = pattern
                .replace("{name}", stylesheet.trim_start_matches("/static/"))
                .replace("{token}", "not-a-real-token")
                .replace("{period}", "2026-Q3")
                .replace("{slug}", "acme")
                .replace("{id}", &id.to_string())
                .replace("{year}", &id.to_string())
                .replace("{priority}", &id.to_string())
                .replace("{fiscal_year_id}", &id.to_string())
                .replace("{priority_id}", &id.to_string());
            let api = pattern.starts_with("/api/");
            for caller in CALLERS {
                let mut req = client.request(method.parse().unwrap(), app.url(&path));
                let role = match caller {
                    Caller::Anonymous => {
                        req = req.header("cookie", format!("steward_csrf={anon_csrf}")).header("x-csrf-token", anon_csrf);
                        None
                    }
                    Caller::As(role) => {
                        let (_, user, token) = users.iter().find(|(r, _, _)| *r == role).unwrap();
                        if api {
                            req = req.bearer_auth(token);
                        } else {
                            let (cookie, csrf) = app.session_for(user.id).await;
                            req = req.header("cookie", format!("steward_session={cookie}")).header("x-csrf-token", csrf);
                        }
                        Some(role)
                    }
                };
                if *method != "GET" {
                    req = if api {
                        req.header("content-type", "application/json").body("{}")
                    } else {
                        req.header("content-type", "application/x-www-form-urlencoded").body("")
                    };
                }
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                let location = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let to_sign_in = status == 303 && location.starts_with("/sign-in?next=");
                let denied = status == 401 || status == 403 || to_sign_in;
                let expected_ok = match (may, role) {
                    (Anyone, _) => true,
                    (_, None) => false,
                    (SignedIn, Some(_)) => true,
                    (Only(roles), Some(role)) => roles.contains(&role),
                };
                let right = if expected_ok {
                    !denied
                } else if role.is_none() {
                    if api { status == 401 } else { to_sign_in }
                } else {
                    status == 403
                };
                if !right {
                    failures.push(format!("{method} {path} as {caller:?}: {status} {location}"));
                }
            }
        }
        assert!(failures.is_empty(), "unexpected answers:\n{}", failures.join("\n"));
    }
}
