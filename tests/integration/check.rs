//! `steward check` as an operator runs it: on the demo foundation every invariant holds; then each invariant
//! is broken by hand, one after the other, with plain SQL, and the command names exactly that invariant and
//! the offending row and exits with status 1.

use std::collections::BTreeSet;
use std::process::Output;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use steward::db::schema::{
    audit_events, disbursements, fiscal_years, invoices, ledger_entries, members, outbox, survey_responses, surveys,
    users,
};
use steward::db::DbConn;

use crate::backend_tests;
use crate::support::{Backend, TestApp, TestDb};

/// How many invariants `steward check` verifies (one line each).
const INVARIANTS: usize = 16;

fn check(url: &str) -> Output {
    crate::support::steward_command()
        .arg("check")
        .env("RUST_LOG", "error")
        .env("DATABASE_URL", url)
        .output()
        .expect("run steward check")
}

/// (invariant name, its line) of every invariant line printed.
fn lines(out: &Output) -> Vec<(String, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" rows "))
        .map(|l| (l.split_whitespace().next().unwrap_or_default().to_string(), l.to_string()))
        .collect()
}

fn failing(out: &Output) -> BTreeSet<String> {
    lines(out).into_iter().filter(|(_, l)| l.contains("FAILED")).map(|(n, _)| n).collect()
}

/// One way to break an invariant: its name, the SQL, and the offender the line must name.
type Break = (&'static str, String, String);

fn one(conn: &mut DbConn, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let row: Id =
        steward::on_backend!(conn, |c| diesel::sql_query(sql).get_result(c)).unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.id
}

fn breaks(conn: &mut DbConn, backend: Backend) -> Vec<Break> {
    let budget: i64 = one(conn, "SELECT MIN(budget_id) AS id FROM allocations");
    let paid_from: i64 = disbursements::table
        .filter(disbursements::status.eq("paid"))
        .select(disbursements::allocation_id)
        .first(conn)
        .expect("a paid disbursement in the demo");
    let year: (i64, chrono::NaiveDate) = fiscal_years::table
        .filter(fiscal_years::status.eq("open"))
        .select((fiscal_years::id, fiscal_years::starts_on))
        .first(conn)
        .expect("an open year");
    let next_entry = one(conn, "SELECT MAX(id) AS id FROM ledger_entries") + 1;
    let dues_entry: i64 = ledger_entries::table
        .filter(ledger_entries::kind.eq("dues_received"))
        .select(ledger_entries::id)
        .order(ledger_entries::id)
        .first(conn)
        .unwrap();
    let paid_invoice: i64 =
        invoices::table.filter(invoices::paid_minor.gt(0)).select(invoices::id).first(conn).unwrap();
    let survey: i64 = surveys::table.select(surveys::id).order(surveys::id).first(conn).unwrap();
    let response: i64 = survey_responses::table
        .filter(survey_responses::survey_id.eq(survey))
        .select(survey_responses::id)
        .first(conn)
        .expect("a response in the demo");
    let someone: i64 = users::table.select(users::id).order(users::id).first(conn).unwrap();
    let report_mail: i64 = outbox::table.filter(outbox::category.eq("reports")).select(outbox::id).first(conn).unwrap();
    let next_mail = one(conn, "SELECT MAX(id) AS id FROM outbox") + 1;
    let invitation_mail =
        one(conn, "SELECT MIN(id) AS id FROM outbox WHERE idempotency_key LIKE 'survey:%:invitation:%'");
    let (unordered_break, unordered_table) = match backend {
        // Rebuilt as a plain table: a hidden rowid again, counting up in the order organizations answered.
        Backend::Sqlite => (
            "CREATE TABLE soa_copy AS SELECT * FROM survey_organization_answers; \
             DROP TABLE survey_organization_answers; \
             CREATE TABLE survey_organization_answers (survey_id BIGINT NOT NULL REFERENCES surveys (id), \
             member_id BIGINT NOT NULL REFERENCES members (id), PRIMARY KEY (survey_id, member_id)); \
             INSERT INTO survey_organization_answers SELECT * FROM soa_copy; DROP TABLE soa_copy"
                .to_string(),
            "table survey_organization_answers",
        ),
        Backend::Postgres => (
            "CREATE SEQUENCE survey_responses_seq; \
             ALTER TABLE survey_responses ALTER COLUMN id SET DEFAULT nextval('survey_responses_seq')"
                .to_string(),
            "table survey_responses",
        ),
    };
    // A member whose primary contact becomes another organization's representative.
    let (rep, rep_member): (i64, Option<i64>) = users::table
        .filter(users::member_id.is_not_null())
        .select((users::id, users::member_id))
        .order(users::id)
        .first(conn)
        .unwrap();
    let other_member: i64 =
        members::table.filter(members::id.ne(rep_member.unwrap_or_default())).select(members::id).first(conn).unwrap();
    let last_event: i64 =
        audit_events::table.select(audit_events::id).order(audit_events::id.desc()).first(conn).unwrap();

    let entry_columns = "id, entry_date, fiscal_year_id, kind, amount_minor, currency, base_amount_minor, \
                         exchange_rate, reverses_entry_id, memo, created_at";
    let (year_id, year_start) = year;
    let drop_trigger = match backend {
        Backend::Sqlite => "DROP TRIGGER ledger_entries_no_delete".to_string(),
        Backend::Postgres => "DROP TRIGGER ledger_entries_append_only ON ledger_entries".to_string(),
    };
    let drop_audit_triggers = match backend {
        Backend::Sqlite => "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete",
        Backend::Postgres => "DROP TRIGGER audit_events_append_only ON audit_events",
    };
    vec![
        ("allocations-within-budget", format!("UPDATE budgets SET amount_minor = 0 WHERE id = {budget}"), format!("budget {budget}")),
        (
            "disbursements-within-allocation",
            format!("UPDATE allocations SET amount_minor = 1 WHERE id = {paid_from}"),
            format!("allocation {paid_from}"),
        ),
        (
            "ledger-balances",
            // Dated a year before the year it is filed under.
            format!(
                "INSERT INTO ledger_entries ({entry_columns}) SELECT {next_entry}, '{}', {year_id}, 'adjustment', 100, \
                 currency, 100, '1', NULL, 'misfiled', created_at FROM ledger_entries WHERE id = {dues_entry}",
                year_start - chrono::Duration::days(365)
            ),
            format!("entry {next_entry}"),
        ),
        (
            "ledger-reversals",
            // A "reversal" with the same sign as what it reverses.
            format!(
                "INSERT INTO ledger_entries ({entry_columns}) SELECT {}, entry_date, fiscal_year_id, 'reversal', \
                 amount_minor, currency, base_amount_minor, exchange_rate, id, 'wrong way', created_at \
                 FROM ledger_entries WHERE id = {dues_entry}",
                next_entry + 1
            ),
            format!("entry {}", next_entry + 1),
        ),
        (
            "ledger-reversals",
            // Without the unique index, a second (correct) reversal of the same entry.
            format!(
                "DROP INDEX ledger_entries_one_reversal; INSERT INTO ledger_entries ({entry_columns}) SELECT {}, \
                 entry_date, fiscal_year_id, 'reversal', -amount_minor, currency, -base_amount_minor, exchange_rate, \
                 id, 'twice', created_at FROM ledger_entries WHERE id = {dues_entry}",
                next_entry + 2
            ),
            format!("entry {dues_entry}"),
        ),
        (
            "ledger-transfers",
            format!(
                "INSERT INTO ledger_entries ({entry_columns}) SELECT {}, entry_date, fiscal_year_id, 'transfer', \
                 -500, currency, -500, '1', NULL, 'one leg', created_at FROM ledger_entries WHERE id = {dues_entry}",
                next_entry + 3
            ),
            format!("entry {}", next_entry + 3),
        ),
        ("ledger-append-only", drop_trigger, "trigger".to_string()),
        (
            "invoices-match-payments",
            format!("UPDATE invoices SET paid_minor = paid_minor - 1 WHERE id = {paid_invoice}"),
            format!("invoice {paid_invoice}"),
        ),
        (
            "one-response-per-invitee",
            format!("DELETE FROM survey_invitations WHERE survey_id = {survey}"),
            format!("survey {survey}"),
        ),
        (
            "anonymous-responses-unlinked",
            format!("UPDATE survey_responses SET user_id = {someone} WHERE id = {response}"),
            format!("response {response}"),
        ),
        ("anonymous-tables-unordered", unordered_break, unordered_table.to_string()),
        (
            "delivered-mail-holds-no-link",
            format!("UPDATE outbox SET status = 'sent', sent_at = created_at WHERE id = {invitation_mail}"),
            format!("outbox {invitation_mail}"),
        ),
        (
            "pool-flushed-after-close",
            format!("INSERT INTO survey_pool (id, survey_id, locator, sealed) VALUES ('00ff', {survey}, 'l', 's')"),
            format!("survey {survey}"),
        ),
        (
            "one-report-email-per-recipient",
            format!(
                "INSERT INTO outbox (id, idempotency_key, category, user_id, to_address, subject, body_text, body_html, \
                 status, attempts, next_attempt_at, created_at, updated_at) SELECT {next_mail}, idempotency_key || ':again', \
                 category, user_id, to_address, subject, body_text, body_html, status, attempts, next_attempt_at, \
                 created_at, updated_at FROM outbox WHERE id = {report_mail}"
            ),
            format!("outbox {next_mail}"),
        ),
        (
            "representatives-own-rows",
            format!("UPDATE members SET primary_contact_id = {rep} WHERE id = {other_member}"),
            format!("member {other_member}"),
        ),
        (
            // As an attacker with the database would: the triggers first, then an event's content.
            "audit-chain",
            format!("{drop_audit_triggers}; UPDATE audit_events SET details = '{{}}' WHERE id = {}", last_event - 1),
            format!("chain broken at audit event {}", last_event - 1),
        ),
        (
            "audit-log-append-only",
            format!("UPDATE audit_events SET at = '2000-01-01 00:00:00' WHERE id = {last_event}"),
            format!("audit event {last_event}"),
        ),
    ]
}

backend_tests! {
    async fn check_passes_on_the_demo_and_names_each_broken_invariant(backend) {
        let (test_db, db) = tokio::task::spawn_blocking(move || {
            let (test_db, db) = TestDb::migrated(backend);
            let mut conn = db.get().unwrap();
            steward::demo::seed(&mut conn, "http://127.0.0.1:8080").expect("demo seed");
            drop(conn);
            (test_db, db)
        })
        .await
        .unwrap();
        let url = test_db.url_string();

        let out = check(&url);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "the demo keeps every invariant:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
        let found = lines(&out);
        assert_eq!(found.len(), INVARIANTS, "{stdout}");
        assert!(found.iter().all(|(_, l)| l.ends_with(" ok")), "{stdout}");
        // Every invariant looked at some rows of the demo.
        for (name, line) in &found {
            let rows: usize = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            assert!(rows > 0, "{name} checked nothing on the demo: {line}");
        }
        eprintln!("steward check on the demo ({backend:?}):\n{stdout}");

        let breaks = tokio::task::spawn_blocking({
            let db = db.clone();
            move || breaks(&mut db.get().unwrap(), backend)
        })
        .await
        .unwrap();
        let mut expected: BTreeSet<String> = BTreeSet::new();
        for (name, sql, offender) in breaks {
            let db = db.clone();
            let statement = sql.clone();
            tokio::task::spawn_blocking(move || db.get().unwrap().batch_execute(&statement))
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            expected.insert(name.to_string());
            let out = check(&url);
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            assert_eq!(out.status.code(), Some(1), "after `{sql}`:\n{stdout}");
            assert_eq!(failing(&out), expected, "after `{sql}` exactly these fail:\n{stdout}");
            let line = lines(&out).into_iter().find(|(n, _)| n == name).map(|(_, l)| l).unwrap_or_default();
            assert!(line.contains(&offender), "after `{sql}` the {name} line names {offender}: {line}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("invariants do not hold"), "{stderr}");
        }
        assert_eq!(expected.len(), INVARIANTS, "every invariant was broken once");
    }
}

/// The invariant `steward check` found broken in the code: moving a representative to another organization
/// (or taking the role away) left them the old organization's primary or billing contact.
async fn representatives_hold(app: &TestApp) -> bool {
    app.with_conn(|conn| {
        let report = steward::check::run(conn).unwrap();
        report.invariants.iter().find(|i| i.name == "representatives-own-rows").map(|i| i.holds()).unwrap()
    })
    .await
}

backend_tests! {
    async fn a_representative_who_moves_is_no_longer_the_old_organizations_contact(backend) {
        let app = TestApp::spawn(backend).await;
        let alpha = app.create_member("alpha", "Alpha").await;
        let beta = app.create_member("beta", "Beta").await;
        let rep = app.create_user("rep@alpha.test", &[steward::accounts::Role::MemberRep], Some(alpha)).await;
        let other = app.create_user("other@alpha.test", &[steward::accounts::Role::MemberRep], Some(alpha)).await;
        let admin = app.create_user("admin@check.test", &[steward::accounts::Role::Admin], None).await;
        let token = app.api_token_for(admin.id).await;
        let rep_id = rep.id;
        app.with_conn(move |conn| {
            diesel::update(members::table.find(alpha))
                .set((members::primary_contact_id.eq(rep_id), members::billing_contact_id.eq(rep_id)))
                .execute(conn)
                .unwrap()
        })
        .await;
        assert!(representatives_hold(&app).await);

        for (user, body) in [
            (rep.id, serde_json::json!({ "roles": ["member_rep"], "member_id": beta })),
            (other.id, serde_json::json!({ "roles": ["council"] })),
        ] {
            let res = app
                .client
                .patch(app.url(&format!("/api/v1/users/{user}")))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
            assert!(representatives_hold(&app).await, "after PATCH {body}");
        }
        let contacts: (Option<i64>, Option<i64>) = app
            .with_conn(move |conn| {
                members::table
                    .find(alpha)
                    .select((members::primary_contact_id, members::billing_contact_id))
                    .first(conn)
                    .unwrap()
            })
            .await;
        assert_eq!(contacts, (None, None), "Alpha's contacts went with the representative who left");
    }
}
