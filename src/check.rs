//! `steward check`: verifies on a live database the invariants that the services keep and the rest of the
//! code relies on (DESIGN.md's list and a few more), reading everything in one snapshot and changing nothing.
//!
//! Each invariant reports how many rows it looked at and the rows that break it (`allocation 7`,
//! `entry 12`), so that an operator can find them. The rules are restated here from the services that keep
//! them (named on each invariant); a rule changed there must change here, and `tests/integration/check.rs`
//! breaks each one on purpose to prove it is seen.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::schema::{
    allocations, audit_events, budget_lines, budgets, disbursements, initiatives, invoices, ledger_entries, members,
    outbox, payments, survey_invitations, survey_pool, survey_responses, surveys, user_roles, users,
};
use crate::db::DbConn;
use crate::disbursements::model::Disbursement;
use crate::domain::ServiceError;
use crate::ledger::model::LedgerEntry;

/// How far an audit event's time may run behind an earlier id's: ids are taken when the row is written, times
/// when the event is built, so concurrent transactions may interleave a little.
pub const AUDIT_CLOCK_SLACK_SECONDS: i64 = 60;

/// One invariant's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invariant {
    /// A short stable name, printed first on its line (`ledger-reversals`).
    pub name: &'static str,
    /// What it means, in words.
    pub rule: &'static str,
    /// Rows looked at.
    pub checked: usize,
    /// The rows that break it, like `allocation 7`; empty when it holds.
    pub offending: Vec<String>,
}

impl Invariant {
    pub fn holds(&self) -> bool {
        self.offending.is_empty()
    }

    /// The line `steward check` prints.
    pub fn line(&self) -> String {
        let outcome = if self.holds() { "ok".to_string() } else { format!("FAILED: {}", self.offending.join(", ")) };
        format!("{:<34} {:>7} rows  {outcome}", self.name, self.checked)
    }
}

/// Every invariant, in a fixed order.
#[derive(Clone, Debug)]
pub struct CheckReport {
    pub invariants: Vec<Invariant>,
}

impl CheckReport {
    pub fn holds(&self) -> bool {
        self.invariants.iter().all(Invariant::holds)
    }
}

struct Found {
    name: &'static str,
    rule: &'static str,
    checked: usize,
    offending: BTreeSet<(String, i64)>,
    named: Vec<String>,
}

impl Found {
    fn new(name: &'static str, rule: &'static str) -> Self {
        Self { name, rule, checked: 0, offending: BTreeSet::new(), named: Vec::new() }
    }

    /// A row that breaks the rule: `what` is the table in words (`budget line`), `id` its id.
    fn flag(&mut self, what: &str, id: i64) {
        self.offending.insert((what.to_string(), id));
    }

    fn done(self) -> Invariant {
        let mut offending: Vec<String> = self.named;
        offending.extend(self.offending.into_iter().map(|(what, id)| format!("{what} {id}")));
        Invariant { name: self.name, rule: self.rule, checked: self.checked, offending }
    }
}

/// Checks every invariant in one read-only snapshot.
pub fn run(conn: &mut DbConn) -> Result<CheckReport, ServiceError> {
    conn.transaction::<_, ServiceError, _>(|conn| {
        if let DbConn::Postgres(_) = conn {
            // One snapshot for every query; nothing here writes.
            conn.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        let entries: Vec<LedgerEntry> =
            ledger_entries::table.order(ledger_entries::id).select(LedgerEntry::as_select()).load(conn)?;
        let invariants = vec![
            allocations_within_budget(conn)?,
            disbursements_within_allocation(conn, &entries)?,
            ledger_balances(conn, &entries)?,
            ledger_reversals(&entries),
            ledger_transfers(&entries),
            ledger_append_only(conn)?,
            invoices_match_payments(conn, &entries)?,
            one_response_per_invitee(conn)?,
            anonymous_responses_unlinked(conn)?,
            anonymous_tables_unordered(conn)?,
            delivered_mail_holds_no_link(conn)?,
            pool_flushed_after_close(conn)?,
            one_report_email_per_recipient(conn)?,
            representatives_own_rows(conn)?,
            audit_log_in_order(conn)?,
            audit_chain(conn)?,
        ];
        Ok(CheckReport { invariants })
    })
}

/// `funding::service::check_within_budget`, `set_budget`, `allocate`.
fn allocations_within_budget(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "allocations-within-budget",
        "a budget's allocations (and a line item's) add up to no more than it; lines no more than the budget; an \
         allocation comes from its initiative's priority's budget",
    );
    let budgets: Vec<(i64, i64, i64)> =
        budgets::table.select((budgets::id, budgets::priority_id, budgets::amount_minor)).load(conn)?;
    let lines: Vec<(i64, i64, i64)> = budget_lines::table
        .select((budget_lines::id, budget_lines::budget_id, budget_lines::amount_minor))
        .load(conn)?;
    let allocations: Vec<(i64, i64, Option<i64>, i64, i64)> = allocations::table
        .inner_join(initiatives::table)
        .select((
            allocations::id,
            allocations::budget_id,
            allocations::budget_line_id,
            allocations::amount_minor,
            initiatives::priority_id,
        ))
        .load(conn)?;
    f.checked = budgets.len() + lines.len() + allocations.len();
    let priority_of: HashMap<i64, i64> = budgets.iter().map(|b| (b.0, b.1)).collect();
    let line_budget: HashMap<i64, i64> = lines.iter().map(|l| (l.0, l.1)).collect();
    for (budget, _, amount) in &budgets {
        let allocated: i64 = allocations.iter().filter(|a| a.1 == *budget).map(|a| a.3).sum();
        let lined: i64 = lines.iter().filter(|l| l.1 == *budget).map(|l| l.2).sum();
        if allocated > *amount || lined > *amount {
            f.flag("budget", *budget);
        }
    }
    for (line, _, amount) in &lines {
        let allocated: i64 = allocations.iter().filter(|a| a.2 == Some(*line)).map(|a| a.3).sum();
        if allocated > *amount {
            f.flag("budget line", *line);
        }
    }
    for (id, budget, line, _, priority) in &allocations {
        let wrong_priority = priority_of.get(budget) != Some(priority);
        let wrong_line = line.is_some_and(|l| line_budget.get(&l) != Some(budget));
        if wrong_priority || wrong_line {
            f.flag("allocation", *id);
        }
    }
    Ok(f.done())
}

/// `disbursements::service::request` (requested + approved + paid within the allocation, as
/// `funding::service::committed_minor` counts them), `pay` (paid within it, posted to the ledger).
fn disbursements_within_allocation(conn: &mut DbConn, entries: &[LedgerEntry]) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "disbursements-within-allocation",
        "requested + approved + paid (base currency) is no more than the allocation; a paid disbursement has its \
         ledger entry, of its amount",
    );
    let allocations: Vec<(i64, i64)> =
        allocations::table.select((allocations::id, allocations::amount_minor)).load(conn)?;
    let rows: Vec<Disbursement> = disbursements::table.select(Disbursement::as_select()).load(conn)?;
    f.checked = allocations.len() + rows.len();
    let by_id: HashMap<i64, &LedgerEntry> = entries.iter().map(|e| (e.id, e)).collect();
    for (allocation, amount) in &allocations {
        let of = rows.iter().filter(|d| d.allocation_id == *allocation);
        let committed: i64 = of
            .clone()
            .filter(|d| matches!(d.status.as_str(), "requested" | "approved" | "paid"))
            .filter_map(|d| d.base_amount_minor)
            .sum();
        let paid: i64 = of.filter(|d| d.status == "paid").filter_map(|d| d.base_amount_minor).sum();
        if committed > *amount || paid > *amount {
            f.flag("allocation", *allocation);
        }
    }
    for d in rows.iter().filter(|d| d.status == "paid") {
        let entry = d.ledger_entry_id.and_then(|id| by_id.get(&id));
        let right = entry.is_some_and(|e| {
            e.disbursement_id == Some(d.id)
                && e.amount_minor == -d.amount_minor
                && Some(-e.base_amount_minor) == d.base_amount_minor
        });
        if !right {
            f.flag("disbursement", d.id);
        }
    }
    Ok(f.done())
}

/// `ledger::service::post` (an entry lies in the year of its date, converted to the base currency) and the
/// balances (`balances`, `fund_balances`), compared with plain sums of the entries.
fn ledger_balances(conn: &mut DbConn, entries: &[LedgerEntry]) -> Result<Invariant, ServiceError> {
    use crate::ledger::service as ledger;
    let mut f = Found::new(
        "ledger-balances",
        "each entry lies in its fiscal year and carries its base amount; every year's and fund's balance is the \
         sum of its entries",
    );
    let years = ledger::list_years(conn)?;
    let base = ledger::base_currency(conn)?;
    f.checked = entries.len() + years.len();
    let year_of: HashMap<i64, &crate::ledger::model::FiscalYear> = years.iter().map(|y| (y.id, y)).collect();
    for e in entries {
        let in_year = year_of.get(&e.fiscal_year_id).is_some_and(|y| y.contains(e.entry_date));
        let base_kept = e.currency != base || e.base_amount_minor == e.amount_minor;
        if !in_year || !base_kept {
            f.flag("entry", e.id);
        }
    }
    let balances = ledger::balances(conn)?;
    for year in &years {
        let summed: i64 = entries.iter().filter(|e| e.fiscal_year_id == year.id).map(|e| e.base_amount_minor).sum();
        let shown = balances.iter().find(|b| b.year.id == year.id).map(|b| b.balance);
        let funds: i64 = ledger::fund_balances(conn, Some(year.id))?.iter().map(|b| b.balance).sum();
        if shown != Some(summed) || funds != summed {
            f.flag("fiscal year", year.id);
        }
    }
    Ok(f.done())
}

/// `ledger::service::reverse`: the exact opposite of an entry that is not itself a reversal, once.
fn ledger_reversals(entries: &[LedgerEntry]) -> Invariant {
    let mut f = Found::new(
        "ledger-reversals",
        "a reversal cancels an entry that is not a reversal with the opposite amount, same currency; no entry is \
         reversed twice",
    );
    let by_id: HashMap<i64, &LedgerEntry> = entries.iter().map(|e| (e.id, e)).collect();
    let mut reversed: HashMap<i64, Vec<i64>> = HashMap::new();
    for e in entries {
        f.checked += 1;
        let is_reversal = e.kind == "reversal";
        match (is_reversal, e.reverses_entry_id) {
            (false, None) => {}
            (true, Some(target)) => {
                reversed.entry(target).or_default().push(e.id);
                let opposite = by_id.get(&target).is_some_and(|o| {
                    o.kind != "reversal"
                        && o.amount_minor == -e.amount_minor
                        && o.base_amount_minor == -e.base_amount_minor
                        && o.currency == e.currency
                });
                if !opposite {
                    f.flag("entry", e.id);
                }
            }
            _ => f.flag("entry", e.id),
        }
    }
    for (target, reversals) in reversed {
        if reversals.len() > 1 {
            f.flag("entry", target);
        }
    }
    f.done()
}

/// `ledger::service::post_transfer`: two legs of the same day that sum to zero, the second naming the first.
fn ledger_transfers(entries: &[LedgerEntry]) -> Invariant {
    let mut f = Found::new(
        "ledger-transfers",
        "every transfer is two entries on one day, the second naming the first, summing to zero",
    );
    let by_id: HashMap<i64, &LedgerEntry> = entries.iter().map(|e| (e.id, e)).collect();
    let mut seconds: HashMap<i64, Vec<&LedgerEntry>> = HashMap::new();
    for e in entries.iter().filter(|e| e.transfer_of_entry_id.is_some()) {
        seconds.entry(e.transfer_of_entry_id.unwrap_or_default()).or_default().push(e);
    }
    for e in entries.iter().filter(|e| e.kind == "transfer" || e.transfer_of_entry_id.is_some()) {
        f.checked += 1;
        match e.transfer_of_entry_id {
            None => {
                let legs = seconds.get(&e.id).map(Vec::as_slice).unwrap_or_default();
                let paired = matches!(legs, [other] if other.kind == "transfer"
                    && other.entry_date == e.entry_date
                    && other.base_amount_minor == -e.base_amount_minor);
                if !paired {
                    f.flag("entry", e.id);
                }
            }
            Some(first) => {
                let fits = e.kind == "transfer"
                    && by_id.get(&first).is_some_and(|o| o.kind == "transfer" && o.transfer_of_entry_id.is_none());
                if !fits {
                    f.flag("entry", e.id);
                }
            }
        }
    }
    f.done()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Migration `000006_funding`: the database refuses UPDATE and DELETE on ledger entries. Whether an entry was
/// ever changed cannot be read back; whether the refusal is still in place can.
fn ledger_append_only(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "ledger-append-only",
        "the database triggers that refuse UPDATE and DELETE on ledger entries are in place",
    );
    f.checked = missing_triggers(conn, "ledger_entries", &mut f.named)?;
    Ok(f.done())
}

/// `audit::record` (migration `000014`): the triggers that refuse UPDATE and DELETE on audit events are in
/// place, and every event's hash follows from the one before it and its own content
/// (`audit::service::verify_chain`); the first broken link is named.
fn audit_chain(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "audit-chain",
        "audit events cannot be updated or deleted (triggers), and each event's hash chains over the previous          event's hash and its own content",
    );
    let triggers = missing_triggers(conn, "audit_events", &mut f.named)?;
    let (events, broken) = crate::audit::service::verify_chain(conn)?;
    if let Some(id) = broken {
        f.named.push(format!("chain broken at audit event {id}"));
    }
    f.checked = triggers + events;
    Ok(f.done())
}

/// The append-only triggers of `table` (`ledger_entries` or `audit_events`): each missing one named in
/// `named`; returns how many are expected.
fn missing_triggers(conn: &mut DbConn, table: &str, named: &mut Vec<String>) -> Result<usize, ServiceError> {
    let (sqlite_names, pg_name) = match table {
        "ledger_entries" => (["ledger_entries_no_update", "ledger_entries_no_delete"], "ledger_entries_append_only"),
        _ => (["audit_events_no_update", "audit_events_no_delete"], "audit_events_append_only"),
    };
    let (expected, present): (Vec<&str>, Vec<String>) = match conn {
        DbConn::Sqlite(c) => {
            #[derive(QueryableByName)]
            struct Name {
                #[diesel(sql_type = diesel::sql_types::Text)]
                name: String,
            }
            let names: Vec<Name> =
                diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?")
                    .bind::<diesel::sql_types::Text, _>(table)
                    .load(c)?;
            (sqlite_names.to_vec(), names.into_iter().map(|n| n.name).collect())
        }
        DbConn::Postgres(c) => {
            let n: Count = diesel::sql_query(
                "SELECT COUNT(*)::BIGINT AS n FROM pg_trigger WHERE tgrelid = $1::regclass \
                 AND tgname = $2 AND tgenabled <> 'D'",
            )
            .bind::<diesel::sql_types::Text, _>(table)
            .bind::<diesel::sql_types::Text, _>(pg_name)
            .get_result(c)?;
            let present = if n.n > 0 { vec![pg_name.to_string()] } else { Vec::new() };
            (vec![pg_name], present)
        }
    };
    for name in &expected {
        if !present.iter().any(|p| p == name) {
            named.push(format!("trigger {name} missing"));
        }
    }
    Ok(expected.len())
}

/// `dues::service::record_payment` (paid_minor grows by each payment, posted to the ledger; paid when nothing
/// is open) and `void_invoice` (every payment reversed).
fn invoices_match_payments(conn: &mut DbConn, entries: &[LedgerEntry]) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "invoices-match-payments",
        "an invoice's paid amount is the sum of its payments, each posted to the ledger; its status agrees; a \
         void invoice's payments are reversed",
    );
    type Row = (i64, i64, i64, String, Option<NaiveDateTime>);
    let rows: Vec<Row> = invoices::table
        .select((invoices::id, invoices::amount_minor, invoices::paid_minor, invoices::status, invoices::voided_at))
        .load(conn)?;
    let paid: Vec<(i64, i64, i64)> =
        payments::table.select((payments::id, payments::invoice_id, payments::amount_minor)).load(conn)?;
    f.checked = rows.len() + paid.len();
    let reversed: BTreeSet<i64> = entries.iter().filter_map(|e| e.reverses_entry_id).collect();
    for (id, amount, paid_minor, status, voided_at) in &rows {
        let sum: i64 = paid.iter().filter(|p| p.1 == *id).map(|p| p.2).sum();
        let status_fits = match status.as_str() {
            "paid" => paid_minor >= amount,
            "open" => paid_minor < amount || *paid_minor == 0,
            "void" => {
                voided_at.is_some()
                    && entries
                        .iter()
                        .filter(|e| e.invoice_id == Some(*id) && e.kind == "dues_received")
                        .all(|e| reversed.contains(&e.id))
            }
            _ => false,
        };
        if sum != *paid_minor || paid_minor > amount || !status_fits {
            f.flag("invoice", *id);
        }
    }
    for (payment, invoice, amount) in &paid {
        let posted: Vec<&LedgerEntry> =
            entries.iter().filter(|e| e.payment_id == Some(*payment) && e.kind == "dues_received").collect();
        if !matches!(posted.as_slice(), [e] if e.amount_minor == *amount && e.invoice_id == Some(*invoice)) {
            f.flag("payment", *payment);
        }
    }
    Ok(f.done())
}

type ResponseRow = (i64, i64, Option<i64>, Option<i64>);

fn responses(conn: &mut DbConn) -> Result<Vec<ResponseRow>, ServiceError> {
    Ok(survey_responses::table
        .select((
            survey_responses::id,
            survey_responses::survey_id,
            survey_responses::user_id,
            survey_responses::member_id,
        ))
        .load(conn)?)
}

/// `surveys::service::answer`: a personal link holds one response; one per organization where the survey
/// asks for that; a named response is its invitee's.
fn one_response_per_invitee(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "one-response-per-invitee",
        "at most one response per invitee (and per organization where one is asked), never more responses than \
         invitations; a named response belongs to an invitee",
    );
    let surveys: Vec<(i64, String, bool)> =
        surveys::table.select((surveys::id, surveys::audience, surveys::anonymous)).load(conn)?;
    let invitations: Vec<(i64, i64, Option<i64>)> = survey_invitations::table
        .select((survey_invitations::survey_id, survey_invitations::user_id, survey_invitations::member_id))
        .load(conn)?;
    let responses = responses(conn)?;
    f.checked = responses.len() + invitations.len();
    for (survey, audience, anonymous) in &surveys {
        if audience == "community" {
            continue;
        }
        let per_organization = matches!(audience.as_str(), "per_organization" | "selected");
        let invited: Vec<&(i64, i64, Option<i64>)> = invitations.iter().filter(|i| i.0 == *survey).collect();
        let answered: Vec<&ResponseRow> = responses.iter().filter(|r| r.1 == *survey).collect();
        let organizations: BTreeSet<Option<i64>> = invited.iter().map(|i| i.2).collect();
        let most = if per_organization { organizations.len() } else { invited.len() };
        if answered.len() > most {
            f.flag("survey", *survey);
        }
        if *anonymous {
            continue;
        }
        let mut by_user: BTreeMap<Option<i64>, usize> = BTreeMap::new();
        let mut by_member: BTreeMap<i64, usize> = BTreeMap::new();
        for r in &answered {
            *by_user.entry(r.2).or_default() += 1;
            if let Some(m) = r.3 {
                *by_member.entry(m).or_default() += 1;
            }
            if !invited.iter().any(|i| Some(i.1) == r.2) {
                f.flag("response", r.0);
            }
        }
        if by_user.values().any(|n| *n > 1) || (per_organization && by_member.values().any(|n| *n > 1)) {
            f.flag("survey", *survey);
        }
    }
    Ok(f.done())
}

/// `surveys::service::answer`, `answer_community`: an anonymous (or community) response names nobody.
fn anonymous_responses_unlinked(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "anonymous-responses-unlinked",
        "no response to an anonymous or community survey names a person or an organization",
    );
    let unnamed: BTreeSet<i64> = surveys::table
        .filter(surveys::anonymous.eq(true).or(surveys::audience.eq("community")))
        .select(surveys::id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    for (id, survey, user, member) in responses(conn)? {
        if unnamed.contains(&survey) {
            f.checked += 1;
            if user.is_some() || member.is_some() {
                f.flag("response", id);
            }
        }
    }
    Ok(f.done())
}

/// The tables of anonymous answers, and which organizations answered.
pub const ANONYMOUS_TABLES: [&str; 4] =
    ["survey_pool", "survey_responses", "survey_answers", "survey_organization_answers"];

/// `surveys::pool` (migration `000015_anonymous_pool`): no table of anonymous answers keeps an
/// insertion-ordered key: on SQLite each is `WITHOUT ROWID` (the hidden rowid counts up as rows are written);
/// on PostgreSQL no column of theirs takes a default from a sequence or an identity.
fn anonymous_tables_unordered(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let mut f = Found::new(
        "anonymous-tables-unordered",
        "the tables of anonymous answers keep no insertion-ordered key (SQLite: WITHOUT ROWID; PostgreSQL: no \
         sequence or identity)",
    );
    let list = ANONYMOUS_TABLES.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
    let ordered: Vec<Name> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(format!(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({list}) \
             AND upper(replace(sql, char(10), ' ')) NOT LIKE '%WITHOUT ROWID%' ORDER BY name"
        ))
        .load(c)?,
        DbConn::Postgres(c) => diesel::sql_query(format!(
            "SELECT DISTINCT table_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name IN ({list}) \
             AND (column_default LIKE 'nextval(%' OR is_identity = 'YES') ORDER BY 1"
        ))
        .load(c)?,
    };
    f.checked = ANONYMOUS_TABLES.len();
    f.named = ordered.into_iter().map(|t| format!("table {}", t.name)).collect();
    Ok(f.done())
}

/// `mail::outbox::record`: a delivered email's personal links (survey, invitation, reset) are redacted.
fn delivered_mail_holds_no_link(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "delivered-mail-holds-no-link",
        "no sent email kept in the outbox still holds the token of a personal link",
    );
    let rows: Vec<(i64, String, String, String)> =
        outbox::table.select((outbox::id, outbox::status, outbox::body_text, outbox::body_html)).load(conn)?;
    f.checked = rows.len();
    for (id, status, text, html) in rows {
        if status == crate::mail::OutboxStatus::Sent.as_str()
            && (crate::mail::outbox::holds_secret_link(&text) || crate::mail::outbox::holds_secret_link(&html))
        {
            f.flag("outbox", id);
        }
    }
    Ok(f.done())
}

/// `surveys::pool::flush`, `surveys::service::close_survey`, `jobs`: a survey's pool is emptied when it closes
/// (or, by the scheduled jobs, within two of their runs after its closing time).
fn pool_flushed_after_close(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "pool-flushed-after-close",
        "no anonymous answer waits in the pool of a closed survey, or of one past its closing time by more than \
         two runs of the scheduled jobs",
    );
    let pooled: Vec<i64> = survey_pool::table.select(survey_pool::survey_id).load(conn)?;
    let all: Vec<(i64, String, NaiveDateTime)> =
        surveys::table.select((surveys::id, surveys::status, surveys::closes_at)).load(conn)?;
    f.checked = pooled.len() + all.len();
    let late = crate::db::now() - chrono::Duration::from_std(crate::jobs::INTERVAL * 2).unwrap_or_default();
    for (id, status, closes_at) in all {
        if pooled.contains(&id) && (status == "closed" || closes_at < late) {
            f.flag("survey", id);
        }
    }
    Ok(f.done())
}

/// `reports::service::send`: key `report:<period>:user:<id>`, one per recipient and period.
fn one_report_email_per_recipient(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "one-report-email-per-recipient",
        "report emails carry the key report:<period>:user:<id> of their recipient, and nobody gets a period's \
         report twice",
    );
    let rows: Vec<(i64, String, Option<i64>, String)> = outbox::table
        .filter(outbox::category.eq(crate::mail::Category::Reports.as_str()))
        .order(outbox::id)
        .select((outbox::id, outbox::idempotency_key, outbox::user_id, outbox::to_address))
        .load(conn)?;
    f.checked = rows.len();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (id, key, user, address) in rows {
        let mut parts = key.split(':');
        let period = match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("report"), Some(period), Some("user"), Some(u), None)
                if Some(u) == user.map(|u| u.to_string()).as_deref() =>
            {
                period.to_string()
            }
            _ => {
                f.flag("outbox", id);
                continue;
            }
        };
        let recipient = user.map(|u| format!("user {u}")).unwrap_or_default();
        let fresh_user = seen.insert((period.clone(), recipient));
        let fresh_address = seen.insert((period, address.trim().to_lowercase()));
        if !fresh_user || !fresh_address {
            f.flag("outbox", id);
        }
    }
    Ok(f.done())
}

/// `accounts::service::set_roles` (a representative has exactly one organization; nobody else has one),
/// `members::service::set_contacts` (contacts are the organization's representatives), `surveys::service::answer`
/// (a named response is filed under its invitation's organization).
fn representatives_own_rows(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "representatives-own-rows",
        "a representative belongs to one organization (nobody else to any); an organization's contacts are its \
         representatives; a named response is filed under its invitee's organization",
    );
    let people: Vec<(i64, Option<i64>)> = users::table.select((users::id, users::member_id)).load(conn)?;
    let reps: BTreeSet<i64> = user_roles::table
        .filter(user_roles::role.eq(crate::accounts::Role::MemberRep.as_str()))
        .select(user_roles::user_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect();
    let member_of: HashMap<i64, Option<i64>> = people.iter().copied().collect();
    for (id, member) in &people {
        if reps.contains(id) != member.is_some() {
            f.flag("user", *id);
        }
    }
    let organizations: Vec<(i64, Option<i64>, Option<i64>)> =
        members::table.select((members::id, members::primary_contact_id, members::billing_contact_id)).load(conn)?;
    for (id, primary, billing) in &organizations {
        let theirs = |contact: &Option<i64>| {
            contact.is_none_or(|u| reps.contains(&u) && member_of.get(&u).copied().flatten() == Some(*id))
        };
        if !theirs(primary) || !theirs(billing) {
            f.flag("member", *id);
        }
    }
    let invited: HashMap<(i64, i64), Option<i64>> = survey_invitations::table
        .select((survey_invitations::survey_id, survey_invitations::user_id, survey_invitations::member_id))
        .load::<(i64, i64, Option<i64>)>(conn)?
        .into_iter()
        .map(|(s, u, m)| ((s, u), m))
        .collect();
    let responses = responses(conn)?;
    let mut named = 0;
    for (id, survey, user, member) in &responses {
        let Some(user) = user else { continue };
        named += 1;
        if invited.get(&(*survey, *user)).is_some_and(|m| m != member) {
            f.flag("response", *id);
        }
    }
    f.checked = people.len() + organizations.len() + named;
    Ok(f.done())
}

/// `audit::record`: events are only ever inserted, so a later id never carries a (much) earlier time, and no
/// event lies in the future.
fn audit_log_in_order(conn: &mut DbConn) -> Result<Invariant, ServiceError> {
    let mut f = Found::new(
        "audit-log-append-only",
        "audit event ids increase with time (within a minute of slack) and none lies in the future",
    );
    let rows: Vec<(i64, NaiveDateTime)> =
        audit_events::table.order(audit_events::id).select((audit_events::id, audit_events::at)).load(conn)?;
    f.checked = rows.len();
    let slack = chrono::Duration::seconds(AUDIT_CLOCK_SLACK_SECONDS);
    let future = crate::db::now() + slack;
    let mut latest: Option<NaiveDateTime> = None;
    for (id, at) in rows {
        if latest.is_some_and(|l| at + slack < l) || at > future {
            // An event out of place does not move the clock the next ones are compared with.
            f.flag("audit event", id);
            continue;
        }
        latest = Some(latest.map_or(at, |l| l.max(at)));
    }
    Ok(f.done())
}
