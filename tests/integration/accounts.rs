//! Accounts through the front door: the CLI's first admin, invitations, sign-in and sessions, lockout,
//! password reset and change, CSRF, two-factor sign-in, API tokens, admin pages and the audit log.

use std::process::Command;

use diesel::prelude::*;
use serde_json::Value;
use steward::accounts::totp;
use steward::accounts::Role;
use steward::db::schema;

use crate::backend_tests;
use crate::support::browser::{csrf_of, Browser};
use crate::support::{steward_bin, TestApp, TestUser, TEST_PASSWORD};

const NEW_PASSWORD: &str = "an entirely new passphrase";

async fn admin(app: &TestApp) -> TestUser {
    app.create_user("admin@example.org", &[Role::Admin], None).await
}

/// Sets the named column of every session of `user_id` to `minutes` ago.
async fn age_sessions(app: &TestApp, user_id: i64, column: &'static str, minutes: i64) {
    app.with_conn(move |conn| {
        let at = steward::db::now() - chrono::Duration::minutes(minutes);
        let target = schema::sessions::table.filter(schema::sessions::user_id.eq(user_id));
        match column {
            "last_seen_at" => diesel::update(target).set(schema::sessions::last_seen_at.eq(at)).execute(conn),
            _ => diesel::update(target).set(schema::sessions::expires_at.eq(at)).execute(conn),
        }
        .unwrap();
    })
    .await;
}

async fn session_count(app: &TestApp, user_id: i64) -> i64 {
    app.with_conn(move |conn| {
        schema::sessions::table.filter(schema::sessions::user_id.eq(user_id)).count().get_result(conn).unwrap()
    })
    .await
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    app.with_conn(|conn| {
        schema::audit_events::table
            .order(schema::audit_events::id)
            .select(schema::audit_events::action)
            .load(conn)
            .unwrap()
    })
    .await
}

fn field_error<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let marker = format!("id=\"{field}-error\">");
    let at = html.find(&marker)? + marker.len();
    html[at..].split('<').next()
}

backend_tests! {
    async fn first_admin_from_the_cli_invites_a_treasurer_who_signs_in(backend) {
        let app = TestApp::spawn(backend).await;
        let (url, base) = (app.test_db.url_string(), app.address.clone());
        let out = tokio::task::spawn_blocking(move || {
            Command::new(steward_bin())
                .args(["user", "add", "--email", "Founder@Example.org", "--role", "admin", "--name", "Fran Founder"])
                .env("DATABASE_URL", url)
                .env("STEWARD_BASE_URL", base)
                .env("RUST_LOG", "error")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8_lossy(&out.stdout);
        let link = said.split_whitespace().find(|w| w.contains("/invitation/")).expect("a link is printed").to_string();

        // The admin sets a password through the link and is signed in.
        let admin = Browser::new(&app.address);
        let (status, page) = admin.get(&link).await;
        assert_eq!(status, 200);
        assert!(page.contains("founder@example.org"), "the email is stored lower-cased");
        let res = admin.post(&link, &[("display_name", "Fran Founder"), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)]).await;
        assert_eq!(res.status(), 303);
        admin.forget_csrf();
        let (status, page) = admin.get("/admin/users/invite").await;
        assert_eq!(status, 200, "the new admin reaches admin pages");

        // The link works once.
        let again = Browser::new(&app.address);
        let (status, page_again) = again.get(&link).await;
        assert_eq!(status, 410);
        assert!(page_again.contains("already used") || page_again.contains("expired"));
        drop(page);

        // The admin invites a treasurer by email.
        let res = admin
            .post("/admin/users/invite", &[("email", "treasurer@example.org"), ("display_name", "Tess Treasurer"), ("roles", "treasurer")])
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        let mail = app.outbox().await;
        assert_eq!(mail.len(), 1);
        assert_eq!(mail[0].0, "treasurer@example.org");
        assert!(mail[0].1.contains("invited"), "subject: {}", mail[0].1);
        let invitation = app.last_link_to("treasurer@example.org").await;

        // The treasurer sets a password and signs in with it later.
        let treasurer = Browser::new(&app.address);
        assert_eq!(treasurer.get(&invitation).await.0, 200);
        let res = treasurer.post(&invitation, &[("display_name", "Tess Treasurer"), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)]).await;
        assert_eq!(res.status(), 303);
        let fresh = Browser::new(&app.address);
        assert_eq!(fresh.sign_in("treasurer@example.org", NEW_PASSWORD).await.status(), 303);
        let (status, account) = fresh.get("/account").await;
        assert_eq!(status, 200);
        assert!(account.contains("Treasurer"));
        assert_eq!(fresh.get("/admin/users").await.0, 403, "a treasurer is no admin");

        let actions = audit_actions(&app).await;
        for expected in ["user.invited", "user.invitation_accepted", "session.signed_in"] {
            assert!(actions.iter().any(|a| a == expected), "audit lacks {expected}: {actions:?}");
        }
    }

    async fn wrong_password_and_unknown_email_get_the_same_answer(backend) {
        let app = TestApp::spawn(backend).await;
        let user = admin(&app).await;
        let b = Browser::new(&app.address);
        let wrong = b.sign_in(&user.email, "not the right passphrase").await;
        assert_eq!(wrong.status(), 422);
        let wrong = wrong.text().await.unwrap();
        let unknown = b.sign_in("nobody@example.org", "not the right passphrase").await;
        assert_eq!(unknown.status(), 422);
        let unknown = unknown.text().await.unwrap();
        assert_eq!(field_error(&wrong, "password"), field_error(&unknown, "password"));
        assert!(field_error(&wrong, "password").unwrap().contains("not right"));
        assert!(wrong.contains(&user.email), "the email is kept in the form");
        assert!(!wrong.contains("not the right passphrase"), "the password is never echoed");
    }

    async fn repeated_failures_lock_the_address_then_it_unlocks(backend) {
        let app = TestApp::spawn(backend).await;
        let user = admin(&app).await;
        let b = Browser::new(&app.address);
        for _ in 0..5 {
            assert_eq!(b.sign_in(&user.email, "wrong passphrase here").await.status(), 422);
        }
        let locked = b.sign_in(&user.email, &user.password).await;
        assert_eq!(locked.status(), 429, "locked even with the right password");
        let retry: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=30).contains(&retry), "retry after {retry}");
        // An unknown address locks the same way, so locking tells nothing.
        for _ in 0..5 {
            b.sign_in("ghost@example.org", "wrong passphrase here").await;
        }
        assert_eq!(b.sign_in("ghost@example.org", "wrong passphrase here").await.status(), 429);
        // The lock ends.
        app.with_conn(|conn| {
            diesel::update(schema::sign_in_failures::table)
                .set(schema::sign_in_failures::locked_until.eq(steward::db::now() - chrono::Duration::seconds(1)))
                .execute(conn)
                .unwrap();
        })
        .await;
        assert_eq!(b.sign_in(&user.email, &user.password).await.status(), 303);
        // Back-off grows: the lock after the sixth failure is longer than after the fifth.
        let five = steward::accounts::service::lock_duration(5).unwrap();
        let six = steward::accounts::service::lock_duration(6).unwrap();
        assert!(six > five && steward::accounts::service::lock_duration(4).is_none());
    }

    async fn one_address_cannot_try_many_accounts(backend) {
        let app = TestApp::spawn(backend).await;
        let b = Browser::new(&app.address);
        let mut last = 0;
        for i in 0..31 {
            last = b.sign_in(&format!("guess{i}@example.org"), "some guessed passphrase").await.status().as_u16();
        }
        assert_eq!(last, 429, "the 31st attempt from one address in 15 minutes is refused");
    }

    async fn sign_in_issues_a_new_session_id(backend) {
        let app = TestApp::spawn(backend).await;
        let user = admin(&app).await;
        // A session id planted before sign-in (fixation) is not the one used after.
        let planted = "planted-session-id-planted-session-id-0000";
        let b = Browser::new(&app.address);
        b.client.get(app.url("/sign-in")).header("cookie", format!("steward_session={planted}")).send().await.unwrap();
        let res = b.sign_in(&user.email, &user.password).await;
        let set_cookie: Vec<String> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        let session = set_cookie.iter().find(|c| c.starts_with("steward_session=")).expect("a session cookie");
        assert!(!session.contains(planted));
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"));
        assert!(!session.contains("Secure"), "plain http in tests");
        // Signing in again replaces the browser's session.
        assert_eq!(session_count(&app, user.id).await, 1);
        b.sign_in(&user.email, &user.password).await;
        assert_eq!(session_count(&app, user.id).await, 1, "the old session ended");
        // The database holds only the hash of the id.
        let value = session.trim_start_matches("steward_session=").split(';').next().unwrap().to_string();
        let stored: Vec<String> = app.with_conn(|conn| schema::sessions::table.select(schema::sessions::id_hash).load(conn).unwrap()).await;
        assert!(!stored.contains(&value));
    }

    async fn https_cookies_are_secure_and_host_prefixed(backend) {
        let app = TestApp::spawn_with(backend, |c| c.base_url = "https://steward.example.org".into()).await;
        let user = admin(&app).await;
        let res = app.client.get(app.url("/sign-in")).send().await.unwrap();
        let csrf_cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(csrf_cookie.starts_with("__Host-steward_csrf=") && csrf_cookie.contains("Secure"), "{csrf_cookie}");
        let html = res.text().await.unwrap();
        let token = csrf_of(&html).unwrap();
        let cookie = csrf_cookie.split(';').next().unwrap().to_string();
        let res = app
            .client
            .post(app.url("/sign-in"))
            .header("cookie", cookie)
            .form(&[("_csrf", token.as_str()), ("email", user.email.as_str()), ("password", user.password.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let session = res.headers()["set-cookie"].to_str().unwrap();
        assert!(session.starts_with("__Host-steward_session=") && session.contains("Secure") && session.contains("Path=/"));
    }

    async fn idle_and_absolute_expiry_end_sessions(backend) {
        let app = TestApp::spawn(backend).await;
        let user = admin(&app).await;
        let b = app.browser_signed_in(&user).await;
        assert_eq!(b.get("/account").await.0, 200);
        age_sessions(&app, user.id, "last_seen_at", 31).await;
        let res = b.client.get(b.url("/account")).send().await.unwrap();
        assert_eq!(res.status(), 303);
        assert!(Browser::location(&res).starts_with("/sign-in?next=%2Faccount"));
        assert_eq!(session_count(&app, user.id).await, 0, "the dead session is removed");

        let b = app.browser_signed_in(&user).await;
        age_sessions(&app, user.id, "expires_at", 1).await;
        assert_eq!(b.get("/account").await.0, 303);
    }

    async fn sign_out_and_sign_out_everywhere(backend) {
        let app = TestApp::spawn(backend).await;
        let user = admin(&app).await;
        let laptop = app.browser_signed_in(&user).await;
        let phone = app.browser_signed_in(&user).await;
        let tablet = app.browser_signed_in(&user).await;
        assert_eq!(laptop.get("/account").await.0, 200);
        let res = laptop.post("/sign-out", &[]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(laptop.get("/account").await.0, 303);
        assert_eq!(phone.get("/account").await.0, 200, "other devices stay signed in");
        let res = phone.post("/account/sessions/sign-out-everywhere", &[]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(phone.get("/account").await.0, 303);
        assert_eq!(tablet.get("/account").await.0, 303);
        assert_eq!(session_count(&app, user.id).await, 0);
    }

    async fn changing_the_password_checks_and_ends_other_sessions(backend) {
        let app = TestApp::spawn(backend).await;
        let user = app.create_user("alice@example.org", &[Role::Council], None).await;
        let b = app.browser_signed_in(&user).await;
        let other = app.browser_signed_in(&user).await;
        b.get("/account").await;
        for (current, new, confirm, field, says) in [
            ("wrong passphrase!!", NEW_PASSWORD, NEW_PASSWORD, "current_password", "not your current password"),
            (TEST_PASSWORD_REF, "too short", "too short", "new_password", "at least 12"),
            (TEST_PASSWORD_REF, "1qaz2wsx3edc", "1qaz2wsx3edc", "new_password", "most common"),
            (TEST_PASSWORD_REF, "my alice@example.org pw", "my alice@example.org pw", "new_password", "email address"),
            (TEST_PASSWORD_REF, NEW_PASSWORD, "something else entirely", "new_password_confirm", "not the same"),
        ] {
            let res = b.post("/account/password", &[("current_password", current), ("new_password", new), ("new_password_confirm", confirm)]).await;
            assert_eq!(res.status(), 422);
            let html = res.text().await.unwrap();
            let message = field_error(&html, field).unwrap_or_else(|| panic!("no error on {field}"));
            assert!(message.contains(says), "{field}: {message}");
        }
        let res = b.post("/account/password", &[("current_password", &user.password), ("new_password", NEW_PASSWORD), ("new_password_confirm", NEW_PASSWORD)]).await;
        assert_eq!(res.status(), 303);
        b.forget_csrf();
        assert_eq!(b.get("/account").await.0, 200, "this browser stays signed in with a new session");
        assert_eq!(other.get("/account").await.0, 303, "the other session ended");
        let fresh = Browser::new(&app.address);
        assert_eq!(fresh.sign_in(&user.email, &user.password).await.status(), 422, "the old password is gone");
        assert_eq!(fresh.sign_in(&user.email, NEW_PASSWORD).await.status(), 303);
    }

    async fn password_reset_by_single_use_link(backend) {
        let app = TestApp::spawn(backend).await;
        let user = app.create_user("bob@example.org", &[Role::Treasurer], None).await;
        let signed_in = app.browser_signed_in(&user).await;
        let b = Browser::new(&app.address);
        b.get("/password/forgot").await;
        // Unknown and known addresses get the same page.
        let unknown = b.post("/password/forgot", &[("email", "nobody@example.org")]).await;
        assert_eq!(unknown.status(), 200);
        let unknown = unknown.text().await.unwrap();
        let known = b.post("/password/forgot", &[("email", "BOB@example.org")]).await.text().await.unwrap();
        assert_eq!(unknown.replace("nobody@example.org", "X"), known.replace("BOB@example.org", "X"));
        assert_eq!(app.outbox().await.len(), 1, "mail only for the real account");
        let bad = b.post("/password/forgot", &[("email", "not-an-address")]).await;
        assert_eq!(bad.status(), 422);

        let link = app.last_link_to("bob@example.org").await;
        assert_eq!(b.get(&link).await.0, 200);
        let res = b.post(&link, &[("password", "short"), ("password_confirm", "short")]).await;
        assert_eq!(res.status(), 422, "policy applies");
        let res = b.post(&link, &[("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(signed_in.get("/account").await.0, 303, "every session ended");
        assert_eq!(b.get(&link).await.0, 410, "the link works once");
        assert_eq!(Browser::new(&app.address).sign_in(&user.email, NEW_PASSWORD).await.status(), 303);

        // An expired link is refused.
        b.post("/password/forgot", &[("email", "bob@example.org")]).await;
        let link = app.last_link_to("bob@example.org").await;
        app.with_conn(|conn| {
            diesel::update(schema::one_time_tokens::table)
                .set(schema::one_time_tokens::expires_at.eq(steward::db::now() - chrono::Duration::minutes(1)))
                .execute(conn)
                .unwrap();
        })
        .await;
        let (status, page) = b.get(&link).await;
        assert_eq!(status, 410);
        assert!(page.contains("expired"));
    }

    async fn forms_without_the_csrf_token_are_refused(backend) {
        let app = TestApp::spawn(backend).await;
        let user = admin(&app).await;
        let b = app.browser_signed_in(&user).await;
        b.get("/account").await;
        let missing = b.client.post(b.url("/admin/users/invite")).form(&[("email", "x@example.org"), ("display_name", "X"), ("roles", "council")]).send().await.unwrap();
        assert_eq!(missing.status(), 403);
        assert!(missing.text().await.unwrap().contains("Form expired"));
        let wrong = b.client.post(b.url("/admin/users/invite")).form(&[("_csrf", "0".repeat(43).as_str()), ("email", "x@example.org"), ("display_name", "X"), ("roles", "council")]).send().await.unwrap();
        assert_eq!(wrong.status(), 403);
        let header = b.client.post(b.url("/sign-out")).header("x-csrf-token", "nope").send().await.unwrap();
        assert_eq!(header.status(), 403);
        assert!(app.outbox().await.is_empty(), "nothing was sent");
        // Anonymous forms need the cookie's token too.
        let anon = reqwest::Client::new().post(app.url("/sign-in")).form(&[("email", user.email.as_str()), ("password", user.password.as_str())]).send().await.unwrap();
        assert_eq!(anon.status(), 403);
        // The API takes JSON only.
        let token = app.api_token_for(user.id).await;
        let form = reqwest::Client::new().post(app.url("/api/v1/users")).bearer_auth(&token).form(&[("email", "x@example.org")]).send().await.unwrap();
        assert_eq!(form.status(), 415);
        assert_eq!(form.headers()["content-type"], "application/problem+json");
    }

    async fn two_factor_sign_in_with_codes_and_recovery_codes(backend) {
        let app = TestApp::spawn(backend).await;
        let user = app.create_user("carol@example.org", &[Role::Treasurer], None).await;
        let b = app.browser_signed_in(&user).await;
        let (status, page) = b.get("/account/two-factor").await;
        assert_eq!(status, 200);
        assert!(page.contains("<svg"), "a QR code is drawn on the server");
        let secret_start = page.find("class=\"secret\">").unwrap() + "class=\"secret\">".len();
        let secret: String = page[secret_start..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let key = totp::base32_decode(&secret).unwrap();
        let now = || chrono::Utc::now().timestamp();
        let wrong = b.post("/account/two-factor/confirm", &[("code", "000000")]).await;
        assert!(wrong.status() == 422 || totp::code_at(&key, totp::step_of(now())) == "000000");
        let res = b.post("/account/two-factor/confirm", &[("code", &totp::code_at(&key, totp::step_of(now())))]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let html = res.text().await.unwrap();
        let codes: Vec<String> = html
            .split("<li>")
            .skip(1)
            .map(|s| s.split('<').next().unwrap().to_string())
            .filter(|c| c.len() == 11 && c.contains('-'))
            .collect();
        assert_eq!(codes.len(), 10);

        // Password alone now opens only the second step.
        let phone = Browser::new(&app.address);
        let res = phone.sign_in(&user.email, &user.password).await;
        assert_eq!(res.status(), 303);
        assert!(Browser::location(&res).starts_with("/sign-in/two-factor"));
        let res = phone.client.get(phone.url("/account")).send().await.unwrap();
        assert_eq!(Browser::location(&res), "/sign-in?next=%2Faccount", "a pending session reaches nothing");
        phone.get("/sign-in/two-factor").await;
        assert_eq!(phone.post("/sign-in/two-factor", &[("code", "12345x")]).await.status(), 422);
        // The code used to enrol cannot be replayed.
        let used = totp::code_at(&key, totp::step_of(now()));
        let replay = phone.post("/sign-in/two-factor", &[("code", &used)]).await.status().as_u16();
        assert!(replay == 422, "replayed code accepted: {replay}");
        // A recovery code works once.
        let res = phone.post("/sign-in/two-factor", &[("code", &codes[0].to_uppercase())]).await;
        assert_eq!(res.status(), 303);
        phone.forget_csrf();
        assert_eq!(phone.get("/account").await.0, 200);
        let tablet = Browser::new(&app.address);
        tablet.sign_in(&user.email, &user.password).await;
        tablet.get("/sign-in/two-factor").await;
        assert_eq!(tablet.post("/sign-in/two-factor", &[("code", &codes[0])]).await.status(), 422, "recovery codes are single use");
        assert_eq!(tablet.post("/sign-in/two-factor", &[("code", &codes[1])]).await.status(), 303);
        let actions = audit_actions(&app).await;
        assert!(actions.contains(&"user.two_factor_enabled".to_string()));
        assert!(actions.contains(&"session.second_factor_failed".to_string()));
    }

    async fn foundation_can_require_two_factor_for_treasurers(backend) {
        let app = TestApp::spawn(backend).await;
        let root = admin(&app).await;
        let treasurer = app.create_user("t@example.org", &[Role::Treasurer], None).await;
        let council = app.create_user("c@example.org", &[Role::Council], None).await;
        let a = app.browser_signed_in(&root).await;
        a.get("/admin/settings").await;
        let res = a.post("/admin/settings", &[("name", "Test Foundation"), ("tagline", ""), ("require_two_factor", "on")]).await;
        assert_eq!(res.status(), 303);
        let t = app.browser_signed_in(&treasurer).await;
        let res = t.client.get(t.url("/account")).send().await.unwrap();
        assert_eq!(Browser::location(&res), "/account/two-factor");
        assert_eq!(t.get("/account/two-factor").await.0, 200, "the set-up page stays open");
        let c = app.browser_signed_in(&council).await;
        assert_eq!(c.get("/account").await.0, 200, "council is not asked");
        assert!(c.get("/").await.1.contains("Test Foundation"));
    }

    async fn api_tokens_work_like_the_pages_and_can_be_revoked(backend) {
        let app = TestApp::spawn(backend).await;
        let member = app.create_member("acme", "Acme").await;
        let rep = app.create_user("rep@example.org", &[Role::MemberRep], Some(member)).await;
        let b = app.browser_signed_in(&rep).await;
        b.get("/account/tokens").await;
        assert_eq!(b.post("/account/tokens", &[("name", ""), ("scope", "read_write"), ("password", &rep.password)]).await.status(), 422);
        let res = b.post("/account/tokens", &[("name", "my script"), ("scope", "read_write"), ("password", &rep.password)]).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        let start = html.find("stw_").unwrap();
        let token: String = html[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
        assert_eq!(b.get("/account/tokens").await.1.matches(&token).count(), 0, "shown once only");

        let api = reqwest::Client::new();
        let me: Value = api.get(app.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert_eq!(me["email"], "rep@example.org");
        assert_eq!(me["roles"], serde_json::json!(["member_rep"]));
        assert_eq!(me["member_id"], member);
        let forbidden = api.get(app.url("/api/v1/users")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(forbidden.status(), 403);
        assert_eq!(forbidden.headers()["content-type"], "application/problem+json");
        // Cookies do not authenticate the API.
        assert_eq!(b.client.get(b.url("/api/v1/me")).send().await.unwrap().status(), 401);
        assert_eq!(api.get(app.url("/api/v1/me")).bearer_auth("stw_not-a-real-token").send().await.unwrap().status(), 401);

        let tokens: Value = api.get(app.url("/api/v1/tokens")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        let id = tokens[0]["id"].as_i64().unwrap();
        assert!(tokens[0].get("token_hash").is_none(), "the hash is not shown");
        let revoked = api.delete(app.url(&format!("/api/v1/tokens/{id}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(revoked.status(), 204);
        assert_eq!(api.get(app.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap().status(), 401);
        let stored: Vec<String> = app.with_conn(|conn| schema::api_tokens::table.select(schema::api_tokens::token_hash).load(conn).unwrap()).await;
        assert!(!stored.iter().any(|h| h.contains(&token)), "only the hash is stored");
    }

    async fn admins_invite_and_manage_users_with_clear_errors(backend) {
        let app = TestApp::spawn(backend).await;
        let root = admin(&app).await;
        let member = app.create_member("acme", "Acme").await;
        let b = app.browser_signed_in(&root).await;
        b.get("/admin/users/invite").await;
        for (fields, field, says) in [
            (vec![("email", "not an email"), ("display_name", "X"), ("roles", "council")], "email", "like name@example.org"),
            (vec![("email", "x@example.org"), ("display_name", ""), ("roles", "council")], "display_name", "name"),
            (vec![("email", "x@example.org"), ("display_name", "X")], "roles", "at least one role"),
            (vec![("email", "x@example.org"), ("display_name", "X"), ("roles", "overlord")], "roles", "not a role"),
            (vec![("email", "x@example.org"), ("display_name", "X"), ("roles", "member_rep")], "member_id", "organization"),
            (vec![("email", "ADMIN@example.org"), ("display_name", "X"), ("roles", "council")], "email", "already has an account"),
        ] {
            let long_email;
            let fields = if field == "email" && says == "too long" {
                long_email = format!("{}@example.org", "a".repeat(300));
                vec![("email", long_email.as_str())]
            } else {
                fields
            };
            let res = b.post("/admin/users/invite", &fields).await;
            assert_eq!(res.status(), 422, "{fields:?}");
            let html = res.text().await.unwrap();
            let message = field_error(&html, field).unwrap_or_else(|| panic!("no error on {field} for {fields:?}"));
            assert!(message.contains(says), "{field}: {message}");
        }
        assert!(app.outbox().await.is_empty(), "nothing written on bad input");
        let long = format!("{}@example.org", "a".repeat(300));
        let res = b.post("/admin/users/invite", &[("email", &long), ("display_name", "X"), ("roles", "council")]).await;
        assert_eq!(res.status(), 422);

        let res = b.post("/admin/users/invite", &[("email", "rep@example.org"), ("display_name", "Rep"), ("roles", "member_rep"), ("member_id", &member.to_string())]).await;
        assert_eq!(res.status(), 303);
        let location = Browser::location(&res);
        let id: i64 = location.rsplit('/').next().unwrap().parse().unwrap();
        let (_, page) = b.get(&location).await;
        assert!(page.contains("Invitation sent") && page.contains("Acme"));
        let (_, list) = b.get("/admin/users?q=REP&status=invited").await;
        assert!(list.contains("<td>rep@example.org</td>") && !list.contains("<td>admin@example.org</td>"));

        // Roles change; an admin cannot drop their own admin role; the last admin stays.
        let res = b.post(&format!("/admin/users/{id}/roles"), &[("roles", "council")]).await;
        assert_eq!(res.status(), 303);
        let res = b.post(&format!("/admin/users/{}/roles", root.id), &[("roles", "council")]).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("your own admin role"));
        assert_eq!(b.post(&format!("/admin/users/{}/disable", root.id), &[("confirm", "yes")]).await.status(), 409);

        // Disabling ends the person's sessions and API tokens at once.
        let council = app.create_user("council@example.org", &[Role::Council], None).await;
        let cb = app.browser_signed_in(&council).await;
        let token = app.api_token_for(council.id).await;
        assert_eq!(b.post(&format!("/admin/users/{}/disable", council.id), &[("confirm", "yes")]).await.status(), 303);
        assert_eq!(cb.get("/account").await.0, 303);
        assert_eq!(reqwest::Client::new().get(app.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap().status(), 401);
        assert_eq!(Browser::new(&app.address).sign_in(&council.email, &council.password).await.status(), 422);
        assert_eq!(b.post(&format!("/admin/users/{}/enable", council.id), &[]).await.status(), 303);
        assert_eq!(Browser::new(&app.address).sign_in(&council.email, &council.password).await.status(), 303);

        let (status, log) = b.get("/admin/audit?action=user.").await;
        assert_eq!(status, 200);
        for action in ["user.invited", "user.roles_changed", "user.disabled", "user.enabled"] {
            assert!(log.contains(action), "audit page lacks {action}");
        }
    }

    async fn api_for_admins_invites_and_changes_users(backend) {
        let app = TestApp::spawn(backend).await;
        let root = admin(&app).await;
        let token = app.api_token_for(root.id).await;
        let api = reqwest::Client::new();
        let res = api.post(app.url("/api/v1/users")).bearer_auth(&token)
            .json(&serde_json::json!({"email": "dan@example.org", "display_name": "Dan", "roles": ["council"]})).send().await.unwrap();
        assert_eq!(res.status(), 201);
        let created: Value = res.json().await.unwrap();
        assert_eq!(created["status"], "invited");
        let res = api.post(app.url("/api/v1/users")).bearer_auth(&token)
            .json(&serde_json::json!({"email": "bad", "display_name": "", "roles": []})).send().await.unwrap();
        assert_eq!(res.status(), 422);
        let problem: Value = res.json().await.unwrap();
        let fields: Vec<&str> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"email") && fields.contains(&"display_name") && fields.contains(&"roles"), "{problem}");
        let res = api.post(app.url("/api/v1/users")).bearer_auth(&token)
            .json(&serde_json::json!({"email": "e@example.org", "display_name": "E", "roles": ["overlord"]})).send().await.unwrap();
        assert_eq!(res.status(), 400, "an unknown role is a bad request");
        let id = created["id"].as_i64().unwrap();
        let res = api.patch(app.url(&format!("/api/v1/users/{id}"))).bearer_auth(&token)
            .json(&serde_json::json!({"roles": ["council", "treasurer"], "status": "disabled"})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let changed: Value = res.json().await.unwrap();
        assert_eq!(changed["roles"], serde_json::json!(["treasurer", "council"]));
        assert_eq!(changed["status"], "disabled");
        let page: Value = api.get(app.url("/api/v1/users?status=disabled")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert_eq!(page["total"], 1);
        assert_eq!(api.get(app.url("/api/v1/users/999999")).bearer_auth(&token).send().await.unwrap().status(), 404);
        let audit: Value = api.get(app.url("/api/v1/audit-events?action=user.")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        assert!(audit["total"].as_i64().unwrap() >= 3);
    }

    async fn old_hash_parameters_are_upgraded_at_sign_in(backend) {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let app = TestApp::spawn(backend).await;
        let user = admin(&app).await;
        // A hash made with other (older) parameters: 3 passes instead of 2.
        let params = argon2::Params::new(19 * 1024, 3, 1, None).unwrap();
        let old = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(user.password.as_bytes(), &SaltString::encode_b64(b"0123456789abcdef").unwrap())
            .unwrap()
            .to_string();
        let id = user.id;
        app.with_conn(move |conn| {
            diesel::update(schema::users::table.find(id)).set(schema::users::password_hash.eq(old)).execute(conn).unwrap();
        })
        .await;
        assert_eq!(Browser::new(&app.address).sign_in(&user.email, &user.password).await.status(), 303);
        let stored: Option<String> = app
            .with_conn(move |conn| schema::users::table.find(id).select(schema::users::password_hash).first(conn).unwrap())
            .await;
        let stored = stored.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "rehashed: {stored}");
        assert_eq!(Browser::new(&app.address).sign_in(&user.email, &user.password).await.status(), 303);
    }

    async fn expired_invitations_are_refused(backend) {
        let app = TestApp::spawn(backend).await;
        let root = admin(&app).await;
        let b = app.browser_signed_in(&root).await;
        b.get("/admin/users/invite").await;
        b.post("/admin/users/invite", &[("email", "late@example.org"), ("display_name", "Late"), ("roles", "council")]).await;
        let link = app.last_link_to("late@example.org").await;
        app.with_conn(|conn| {
            diesel::update(schema::one_time_tokens::table)
                .set(schema::one_time_tokens::expires_at.eq(steward::db::now() - chrono::Duration::hours(1)))
                .execute(conn)
                .unwrap();
        })
        .await;
        let invitee = Browser::new(&app.address);
        let (status, page) = invitee.get(&link).await;
        assert_eq!(status, 410);
        assert!(page.contains("expired"));
        let res = invitee.post(&link, &[("display_name", "Late"), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)]).await;
        assert_eq!(res.status(), 410);
        // The admin sends a new one, which works.
        let user_id: i64 = app
            .with_conn(|conn| {
                schema::users::table.filter(schema::users::email.eq("late@example.org")).select(schema::users::id).first(conn).unwrap()
            })
            .await;
        b.get(&format!("/admin/users/{user_id}")).await;
        assert_eq!(b.post(&format!("/admin/users/{user_id}/resend-invitation"), &[]).await.status(), 303);
        let fresh = app.last_link_to("late@example.org").await;
        assert_ne!(fresh, link);
        invitee.get(&fresh).await;
        let res = invitee.post(&fresh, &[("display_name", "Late"), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)]).await;
        assert_eq!(res.status(), 303);
    }

    async fn a_password_reset_arrives_at_a_real_smtp_server_and_its_link_works(backend) {
        let app = TestApp::spawn(backend).await;
        let user = app.create_user("frank@example.org", &[Role::Council], None).await;
        let smtp = crate::support::smtp::SmtpServer::start();
        let b = Browser::new(&app.address);
        b.get("/password/forgot").await;
        assert_eq!(b.post("/password/forgot", &[("email", "frank@example.org")]).await.status(), 200);
        let report = app.deliver_mail_to(&smtp).await;
        assert_eq!(report.sent, 1, "{report:?}");
        let mail = smtp.wait_for(1, std::time::Duration::from_secs(10)).await;
        assert_eq!(mail.len(), 1);
        assert!(mail[0].header("To").unwrap().ends_with("<frank@example.org>"));
        assert!(mail[0].header("Subject").unwrap().contains("Reset your"));
        assert!(mail[0].header("List-Unsubscribe").is_none(), "security mail has no unsubscribe header");
        let body = mail[0].raw.replace("=\r\n", "").replace("=\n", "");
        let start = body.find(&format!("{}/password/reset/", app.address)).expect("the link is in the email");
        let link: String = body[start..].chars().take_while(|c| !c.is_whitespace() && *c != '<' && *c != '"').collect();
        let (status, page) = b.get(&link).await;
        assert_eq!(status, 200, "{link}");
        assert!(page.contains("Choose a new password"));
        let res = b.post(&link, &[("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(Browser::new(&app.address).sign_in(&user.email, NEW_PASSWORD).await.status(), 303);
        // Delivering again sends nothing twice.
        assert_eq!(app.deliver_mail_to(&smtp).await.sent, 0);
        assert_eq!(smtp.messages().len(), 1);
    }

    async fn no_password_or_token_reaches_the_audit_log_or_the_database_in_clear(backend) {
        let app = TestApp::spawn(backend).await;
        let root = admin(&app).await;
        let b = app.browser_signed_in(&root).await;
        b.get("/admin/users/invite").await;
        b.post("/admin/users/invite", &[("email", "eve@example.org"), ("display_name", "Eve"), ("roles", "council")]).await;
        let link = app.last_link_to("eve@example.org").await;
        let invite_token = link.rsplit('/').next().unwrap().to_string();
        let eve = Browser::new(&app.address);
        eve.get(&link).await;
        eve.post(&link, &[("display_name", "Eve"), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)]).await;
        Browser::new(&app.address).sign_in("eve@example.org", "a wrong passphrase typed").await;
        let api_token = app.api_token_for(root.id).await;
        let dump: String = app.with_conn(|conn| {
            let audit: Vec<(String, Option<String>, Option<String>, String)> = schema::audit_events::table
                .select((schema::audit_events::action, schema::audit_events::target_id, schema::audit_events::ip, schema::audit_events::details))
                .load(conn).unwrap();
            let tokens: Vec<String> = schema::one_time_tokens::table.select(schema::one_time_tokens::token_hash).load(conn).unwrap();
            let users: Vec<Option<String>> = schema::users::table.select(schema::users::password_hash).load(conn).unwrap();
            format!("{audit:?}{tokens:?}{users:?}")
        }).await;
        for secret in [NEW_PASSWORD, "a wrong passphrase typed", invite_token.as_str(), api_token.as_str(), TEST_PASSWORD_REF] {
            assert!(!dump.contains(secret), "a secret is stored in clear: {secret}");
        }
    }
}

const TEST_PASSWORD_REF: &str = crate::support::TEST_PASSWORD;

/// Logs of a real `steward serve` process never carry passwords, tokens, session ids or email addresses.
#[test]
fn logs_hold_no_secrets() {
    use std::io::Read;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("s.db");
    let url = format!("sqlite://{}", db_path.display());
    let port = crate::support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let out = Command::new(steward_bin())
        .args(["user", "add", "--email", "root@example.org", "--role", "admin"])
        .env("DATABASE_URL", &url)
        .env("STEWARD_BASE_URL", &base)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let link = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.contains("/invitation/"))
        .unwrap()
        .to_string();
    let mut child = Command::new(steward_bin())
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("STEWARD_BIND", format!("127.0.0.1:{port}"))
        .env("STEWARD_BASE_URL", &base)
        .env("STEWARD_DATA_DIR", dir.path().join("data"))
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let session_cookie = rt.block_on(async {
        let b = Browser::new(&base);
        b.get(&link).await;
        b.post(&link, &[("display_name", "Root"), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)])
            .await;
        let fresh = Browser::new(&base);
        let res = fresh.sign_in("root@example.org", NEW_PASSWORD).await;
        let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        Browser::new(&base).sign_in("root@example.org", "a wrong passphrase typed").await;
        fresh.get("/admin/users/invite").await;
        fresh
            .post(
                "/admin/users/invite",
                &[("email", "invitee@example.org"), ("display_name", "Invitee"), ("roles", "council")],
            )
            .await;
        fresh.get("/password/forgot").await;
        fresh.post("/password/forgot", &[("email", "root@example.org")]).await;
        cookie
    });
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    let _ = child.wait();
    assert!(logs.contains("request finished"), "the server logged requests:\n{logs}");
    let invite_token = link.rsplit('/').next().unwrap();
    let session_value = session_cookie.split('=').nth(1).unwrap();
    for secret in [
        NEW_PASSWORD,
        "a wrong passphrase typed",
        invite_token,
        session_value,
        "root@example.org",
        "invitee@example.org",
    ] {
        assert!(!logs.contains(secret), "the log carries a secret or an address: {secret}");
    }
}

/// Turns two-factor sign-in on for `user_id` directly; returns the secret's bytes, to make codes with.
async fn enable_totp(app: &TestApp, user_id: i64) -> Vec<u8> {
    let secret = totp::new_secret();
    let key = totp::base32_decode(&secret).unwrap();
    app.with_conn(move |conn| {
        diesel::update(schema::users::table.find(user_id))
            .set((schema::users::totp_secret.eq(&secret), schema::users::totp_enabled_at.eq(steward::db::now())))
            .execute(conn)
            .unwrap();
    })
    .await;
    key
}

/// A page without its CSRF tokens (which differ per visitor), to compare what two visitors see.
fn without_csrf(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find("name=\"_csrf\" value=\"") {
        let start = at + "name=\"_csrf\" value=\"".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        rest = &rest[rest.find('"').unwrap_or(0)..];
    }
    out.push_str(rest);
    out
}

/// Makes a token through the page; returns the answer's status and the token when one was shown.
async fn token_through_page(b: &Browser, fields: &[(&str, &str)]) -> (u16, Option<String>) {
    b.get("/account/tokens").await;
    let res = b.post("/account/tokens", fields).await;
    let status = res.status().as_u16();
    let html = res.text().await.unwrap();
    let token = html.find("class=\"secret\">stw_").map(|at| {
        html[at + "class=\"secret\">".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect()
    });
    (status, token)
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    reqwest::Client::new().get(app.url("/api/v1/me")).bearer_auth(token).send().await.unwrap().status().as_u16()
}

backend_tests! {
    async fn a_session_waiting_for_its_second_factor_is_anonymous_everywhere_else(backend) {
        let app = TestApp::spawn(backend).await;
        app.seed_demo().await;
        let user = app.create_user("pending@example.org", &[Role::Treasurer, Role::Council], None).await;
        let key = enable_totp(&app, user.id).await;
        let phone = Browser::new(&app.address);
        let res = phone.sign_in(&user.email, &user.password).await;
        assert_eq!(res.status(), 303);
        assert!(Browser::location(&res).starts_with("/sign-in/two-factor"));
        let visitor = Browser::new(&app.address);
        // The home page and the initiatives are exactly what a visitor sees: no dashboard, no proposals.
        for path in ["/", "/initiatives", "/priorities"] {
            let (status, page) = phone.get(path).await;
            let (visitor_status, visitor_page) = visitor.get(path).await;
            assert_eq!((status, without_csrf(&page)), (visitor_status, without_csrf(&visitor_page)), "{path} differs from a visitor's");
            assert!(!page.contains(&user.email) && page.contains("href=\"/sign-in\""), "{path} shows someone signed in");
        }
        // Pages that need someone signed in send to sign-in, like a visitor's.
        for path in ["/account", "/treasury", "/ledger", "/account/tokens"] {
            let res = phone.client.get(phone.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 303, "{path}");
            assert!(Browser::location(&res).starts_with("/sign-in?next="), "{path}: {}", Browser::location(&res));
        }
        // The API does not take the cookie at all.
        let api = phone.client.get(phone.url("/api/v1/me")).send().await.unwrap();
        assert_eq!(api.status(), 401);
        // A form posted with the pending session's cookie is a visitor's: no session token opens it.
        let (_, form) = phone.get("/sign-in/two-factor").await;
        assert!(form.contains("name=\"code\""), "the second-factor page works");
        let pending_csrf = csrf_of(&form).unwrap();
        let res = phone.client.post(phone.url("/account/sessions/sign-out-everywhere")).form(&[("_csrf", pending_csrf.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 403, "the pending session's token opens no other form");
        // Completing the second factor gives the full session.
        let code = totp::code_at(&key, totp::step_of(chrono::Utc::now().timestamp()));
        let res = phone.post("/sign-in/two-factor", &[("code", &code)]).await;
        assert_eq!(res.status(), 303, "the second factor completes");
        phone.forget_csrf();
        let (status, page) = phone.get("/account").await;
        assert_eq!(status, 200);
        assert!(page.contains(&user.email));
        assert_eq!(phone.get("/treasury").await.0, 200);
        let (_, home) = phone.get("/").await;
        assert_ne!(without_csrf(&home), without_csrf(&visitor.get("/").await.1), "signed in, the home page is the dashboard");
    }

    async fn api_tokens_ask_for_the_password_and_can_be_read_only_or_expire(backend) {
        let app = TestApp::spawn(backend).await;
        let council = app.create_user("council@example.org", &[Role::Council], None).await;
        let b = app.browser_signed_in(&council).await;
        // The page asks for the password again.
        let (status, token) = token_through_page(&b, &[("name", "script"), ("scope", "read"), ("password", "")]).await;
        assert_eq!((status, token), (422, None));
        let (status, token) = token_through_page(&b, &[("name", "script"), ("scope", "read"), ("password", "not my passphrase")]).await;
        assert_eq!((status, token), (422, None), "a wrong password makes no token");
        let (status, token) = token_through_page(&b, &[("name", "script"), ("scope", "everything"), ("password", &council.password)]).await;
        assert_eq!((status, token), (422, None), "an unknown scope is refused");
        let (status, token) = token_through_page(&b, &[("name", "script"), ("scope", "read"), ("expires_on", "2001-01-01"), ("password", &council.password)]).await;
        assert_eq!((status, token), (422, None), "an end in the past is refused");
        let tomorrow = (chrono::Utc::now().date_naive() + chrono::Duration::days(1)).to_string();
        let (status, reader) = token_through_page(&b, &[("name", "reader"), ("scope", "read"), ("expires_on", &tomorrow), ("password", &council.password)]).await;
        assert_eq!(status, 200);
        let reader = reader.expect("a read-only token");
        let (_, writer) = token_through_page(&b, &[("name", "writer"), ("scope", "read_write"), ("password", &council.password)]).await;
        let writer = writer.expect("a read-write token");
        // The page shows what each may do and until when.
        let (_, page) = b.get("/account/tokens").await;
        assert!(page.contains("Read only") && page.contains("Read and write") && page.contains("until revoked"), "{page}");

        let api = reqwest::Client::new();
        assert_eq!(me_status(&app, &reader).await, 200, "a read-only token reads");
        let body = r#"{"slug": "reach", "name": "Reach", "unit": "count", "direction": "increase", "description": "", "scope_notes": ""}"#;
        for (method, path) in [("POST", "/api/v1/metrics"), ("POST", "/api/v1/tokens"), ("DELETE", "/api/v1/tokens/1"), ("PATCH", "/api/v1/users/1"), ("PUT", "/api/v1/priorities/1")] {
            let res = api.request(method.parse().unwrap(), app.url(path)).bearer_auth(&reader).header("content-type", "application/json").body(body).send().await.unwrap();
            assert_eq!(res.status(), 403, "{method} {path} with a read-only token");
            assert_eq!(res.headers()["content-type"], "application/problem+json");
        }
        let created = api.post(app.url("/api/v1/metrics")).bearer_auth(&writer).json(&serde_json::from_str::<Value>(body).unwrap()).send().await.unwrap();
        assert_ne!(created.status(), 403, "the read-write token may write");

        // The API asks for the password too.
        let ask = |password: &str, scope: &str, expires: Option<&str>| serde_json::json!({"name": "api-made", "password": password, "scope": scope, "expires_on": expires});
        let res = api.post(app.url("/api/v1/tokens")).bearer_auth(&writer).json(&ask("wrong passphrase!", "read", None)).send().await.unwrap();
        assert_eq!(res.status(), 422);
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "password");
        let res = api.post(app.url("/api/v1/tokens")).bearer_auth(&writer).json(&ask(TEST_PASSWORD, "read", Some("2001-01-01"))).send().await.unwrap();
        assert_eq!(res.status(), 422, "an end in the past");
        let res = api.post(app.url("/api/v1/tokens")).bearer_auth(&writer).json(&ask(TEST_PASSWORD, "read", Some(&tomorrow))).send().await.unwrap();
        assert_eq!(res.status(), 201);
        let made: Value = res.json().await.unwrap();
        assert_eq!(made["token"]["scope"], "read");
        assert!(made["token"]["expires_at"].is_string());
        let api_reader = made["secret"].as_str().unwrap().to_string();
        assert_eq!(me_status(&app, &api_reader).await, 200);

        // An expired token is refused like an unknown one.
        let unknown = api.get(app.url("/api/v1/me")).bearer_auth("stw_not-a-real-token").send().await.unwrap();
        let (unknown_status, unknown_body) = (unknown.status(), unknown.text().await.unwrap());
        app.with_conn(|conn| {
            diesel::update(schema::api_tokens::table.filter(schema::api_tokens::name.eq("reader")))
                .set(schema::api_tokens::expires_at.eq(Some(steward::db::now() - chrono::Duration::seconds(1))))
                .execute(conn)
                .unwrap();
        })
        .await;
        let expired = api.get(app.url("/api/v1/me")).bearer_auth(&reader).send().await.unwrap();
        assert_eq!(expired.status(), unknown_status);
        let strip = |body: &str| body.split("\"request_id\"").next().unwrap().to_string();
        assert_eq!(strip(&expired.text().await.unwrap()), strip(&unknown_body), "the same answer as an unknown token");
        assert!(b.get("/account/tokens").await.1.contains("expired"));
    }

    async fn api_tokens_end_with_a_new_password_sign_out_everywhere_and_a_disabled_account(backend) {
        let app = TestApp::spawn(backend).await;
        let root = admin(&app).await;
        let user = app.create_user("tokens@example.org", &[Role::Council], None).await;
        let b = app.browser_signed_in(&user).await;
        let mut password = user.password.clone();
        let make = async |password: &str| {
            let (status, token) = token_through_page(&b, &[("name", "script"), ("scope", "read_write"), ("password", password)]).await;
            assert_eq!(status, 200);
            token.unwrap()
        };
        // A password change.
        let token = make(&password).await;
        assert_eq!(me_status(&app, &token).await, 200);
        b.get("/account").await;
        let res = b.post("/account/password", &[("current_password", &password), ("new_password", NEW_PASSWORD), ("new_password_confirm", NEW_PASSWORD)]).await;
        assert_eq!(res.status(), 303);
        b.forget_csrf();
        password = NEW_PASSWORD.to_string();
        assert_eq!(me_status(&app, &token).await, 401, "a password change ends the token");
        // Sign out everywhere.
        let token = make(&password).await;
        assert_eq!(me_status(&app, &token).await, 200);
        b.get("/account").await;
        assert_eq!(b.post("/account/sessions/sign-out-everywhere", &[]).await.status(), 303);
        assert_eq!(me_status(&app, &token).await, 401, "signing out everywhere ends the token");
        // A password reset.
        let b = app.browser_signed_in(&TestUser { password: password.clone(), ..user.clone() }).await;
        let token = {
            let (status, token) = token_through_page(&b, &[("name", "script"), ("scope", "read"), ("password", &password)]).await;
            assert_eq!(status, 200);
            token.unwrap()
        };
        let visitor = Browser::new(&app.address);
        visitor.get("/password/forgot").await;
        assert_eq!(visitor.post("/password/forgot", &[("email", &user.email)]).await.status(), 200);
        let link = app.last_link_to(&user.email).await;
        visitor.get(&link).await;
        let res = visitor.post(&link, &[("password", "a third passphrase here"), ("password_confirm", "a third passphrase here")]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(me_status(&app, &token).await, 401, "a password reset ends the token");
        password = "a third passphrase here".to_string();
        // A disabled account.
        let b = app.browser_signed_in(&TestUser { password: password.clone(), ..user.clone() }).await;
        let (_, token) = token_through_page(&b, &[("name", "script"), ("scope", "read"), ("password", &password)]).await;
        let token = token.unwrap();
        let a = app.browser_signed_in(&root).await;
        a.get(&format!("/admin/users/{}", user.id)).await;
        assert_eq!(a.post(&format!("/admin/users/{}/disable", user.id), &[("confirm", "yes")]).await.status(), 303);
        assert_eq!(me_status(&app, &token).await, 401, "disabling the account ends the token");
        a.get(&format!("/admin/users/{}", user.id)).await;
        assert_eq!(a.post(&format!("/admin/users/{}/enable", user.id), &[]).await.status(), 303);
        assert_eq!(me_status(&app, &token).await, 401, "and enabling it again does not bring the token back");
        let live: i64 = app.with_conn(move |conn| {
            schema::api_tokens::table.filter(schema::api_tokens::user_id.eq(user.id)).filter(schema::api_tokens::revoked_at.is_null()).count().get_result(conn).unwrap()
        }).await;
        assert_eq!(live, 0);
    }

    async fn the_lockout_holds_under_parallel_attempts_from_many_addresses(backend) {
        // The per-address limit is raised so that only the per-account lock can stop the burst.
        let app = TestApp::spawn_with(backend, |c| c.sign_in_per_ip = 1000).await;
        let user = admin(&app).await;
        let mut attempts = Vec::new();
        for i in 0..40 {
            let url = app.url("/sign-in");
            let email = user.email.clone();
            attempts.push(tokio::spawn(async move {
                let b = Browser::new(url.trim_end_matches("/sign-in"));
                b.get("/sign-in").await;
                let guess = format!("wrong guess number {i}");
                b.post("/sign-in", &[("email", email.as_str()), ("password", guess.as_str())]).await.status().as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for attempt in attempts {
            statuses.push(attempt.await.unwrap());
        }
        let checked = statuses.iter().filter(|s| **s == 422).count();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!(checked + refused, 40, "{statuses:?}");
        assert!(checked <= 5, "{checked} passwords were checked against a limit of 5: {statuses:?}");
        // The audit log records one failure per password checked: no more than the limit.
        let failures = audit_actions(&app).await.iter().filter(|a| *a == "session.sign_in_failed").count();
        assert_eq!(failures, checked);
        // The account is locked: even the right password is refused, unchecked.
        let b = Browser::new(&app.address);
        assert_eq!(b.sign_in(&user.email, &user.password).await.status(), 429);
        let failures_after = audit_actions(&app).await.iter().filter(|a| *a == "session.sign_in_failed").count();
        assert_eq!(failures_after, failures);
        let counted: Vec<i32> = app.with_conn(|conn| schema::sign_in_failures::table.select(schema::sign_in_failures::failures).load(conn).unwrap()).await;
        assert!(counted.iter().all(|n| *n <= 5), "attempts counted past the lock: {counted:?}");
    }

    async fn inviting_a_representative_answers_the_same_whether_the_address_has_an_account(backend) {
        let app = TestApp::spawn(backend).await;
        let acme = app.create_member("acme", "Acme").await;
        let globex = app.create_member("globex", "Globex").await;
        let rep = app.create_user("rep@acme.example", &[Role::MemberRep], Some(acme)).await;
        let other = app.create_user("someone@globex.example", &[Role::MemberRep], Some(globex)).await;
        let b = app.browser_signed_in(&rep).await;
        let invite = async |email: &str| {
            b.get("/members/acme").await;
            let res = b.post("/members/acme/representatives", &[("email", email), ("display_name", "New Person")]).await;
            let status = res.status().as_u16();
            let location = Browser::location(&res);
            let (_, page) = b.get(&location).await;
            (status, location, without_csrf(&page).replace(email, "ADDRESS"))
        };
        let fresh = invite("new@acme.example").await;
        let taken = invite(&other.email).await;
        assert_eq!(fresh.0, 303);
        assert_eq!(fresh, taken, "the answer tells whether the address has an account");
        // The new address got an invitation; the existing account's owner an email saying so; nothing changed.
        let outbox = app.outbox().await;
        assert!(outbox.iter().any(|(to, subject, _)| to == "new@acme.example" && subject.contains("invited")));
        let notice = outbox.iter().find(|(to, _, _)| *to == other.email).expect("the owner is told");
        assert!(notice.2.contains("already have an account") && notice.2.contains("Acme"), "{}", notice.2);
        let member_id: Option<i64> = app.with_conn(move |conn| schema::users::table.find(other.id).select(schema::users::member_id).first(conn).unwrap()).await;
        assert_eq!(member_id, Some(globex), "the existing account is unchanged");
        // Mistakes in the form are still shown.
        b.get("/members/acme").await;
        let bad = b.post("/members/acme/representatives", &[("email", "not an email"), ("display_name", "X")]).await;
        assert_eq!(bad.status(), 422);
    }
}
