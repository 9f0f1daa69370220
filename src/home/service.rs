//! What each role sees first after signing in: the next things to do, gathered from the features that own them.
//! The home page sits above every feature and only reads through their services.

use crate::accounts::model::UserStatus;
use crate::accounts::{Identity, Role};
use crate::audit::service::EventRow;
use crate::db::DbConn;
use crate::disbursements::service::{self as disbursements, DisbursementFilter, DisbursementRow};
use crate::domain::ServiceError;
use crate::dues::model::Invoice;
use crate::dues::service::{self as dues, InvoiceFilter};
use crate::funding::model::Initiative;
use crate::funding::service::{self as funding, BudgetUse, InitiativeFilter};
use crate::mail::admin::QueueCounts;
use crate::members::model::Member;
use crate::metrics::progress::Status;
use crate::metrics::service::{self as metrics, MetricFilter, MetricSummary};
use crate::surveys::service::{self as surveys, MySurvey, SurveyRow};

/// A representative's organization, dues and surveys.
pub struct RepView {
    pub member: Member,
    pub open_invoices: Vec<Invoice>,
    pub surveys: Vec<MySurvey>,
    /// The newest report sent.
    pub latest_report: Option<crate::reports::service::ReportRow>,
}

/// The treasurer's money at a glance.
pub struct TreasurerView {
    pub currency: String,
    pub year: Option<String>,
    pub balance_minor: i64,
    pub budgets: Vec<BudgetUse>,
    pub to_approve: Vec<DisbursementRow>,
    pub to_pay: Vec<DisbursementRow>,
    pub overdue: i64,
}

/// What the council should look at.
pub struct CouncilView {
    pub metrics_at_risk: Vec<MetricSummary>,
    pub surveys: Vec<SurveyRow>,
    pub proposals: Vec<(Initiative, String)>,
    pub new_feedback: usize,
}

/// The admin's queue, log and accounts.
pub struct AdminView {
    pub mail: QueueCounts,
    pub events: Vec<EventRow>,
    pub invited: Vec<(String, String)>,
}

#[derive(Default)]
pub struct Dashboard {
    pub rep: Option<RepView>,
    pub treasurer: Option<TreasurerView>,
    pub council: Option<CouncilView>,
    pub admin: Option<AdminView>,
}

pub fn dashboard(conn: &mut DbConn, viewer: &Identity) -> Result<Dashboard, ServiceError> {
    let mut d = Dashboard::default();
    if viewer.has_role(Role::MemberRep) {
        if let Some(member_id) = viewer.member_id {
            let member = crate::members::service::find_member(conn, viewer, member_id)?;
            let (invoices, _) = dues::list_invoices(
                conn,
                viewer,
                &InvoiceFilter { member_id: Some(member_id), status: "open".into(), page: 1, ..Default::default() },
            )?;
            d.rep = Some(RepView {
                member,
                open_invoices: invoices.into_iter().map(|(i, _)| i).collect(),
                surveys: surveys::my_surveys(conn, viewer.user_id)?,
                latest_report: crate::reports::service::list(conn, viewer, crate::db::now().date())?
                    .into_iter()
                    .find(|r| r.sent_at.is_some()),
            });
        }
    }
    if viewer.has_role(Role::Treasurer) {
        let today = crate::db::now().date();
        let year = crate::ledger::service::year_of(conn, today)?;
        let budgets = match &year {
            Some(y) => funding::budget_overview(conn, y.id)?.into_iter().filter(|b| b.budget.is_some()).collect(),
            None => Vec::new(),
        };
        let (open, _) =
            disbursements::list(conn, &DisbursementFilter { status: "open".into(), page: 1, ..Default::default() })?;
        let (to_pay, to_approve): (Vec<_>, Vec<_>) =
            open.into_iter().partition(|r| r.disbursement.status == "approved");
        let (_, overdue) = dues::list_invoices(
            conn,
            viewer,
            &InvoiceFilter { status: "overdue".into(), page: 1, ..Default::default() },
        )?;
        d.treasurer = Some(TreasurerView {
            currency: crate::ledger::service::base_currency(conn)?,
            year: year.map(|y| y.label),
            balance_minor: crate::ledger::service::overall_balance(conn)?,
            budgets,
            to_approve: to_approve.into_iter().filter(|r| r.disbursement.requested_by != viewer.user_id).collect(),
            to_pay,
            overdue,
        });
    }
    if viewer.has_role(Role::Council) {
        let metrics_at_risk = metrics::list_metrics(conn, &MetricFilter::default())?
            .into_iter()
            .filter(|m| matches!(m.progress.status, Status::AtRisk | Status::OffTrack) || m.progress.stale)
            .collect();
        let surveys: Vec<SurveyRow> =
            surveys::list_surveys(conn)?.into_iter().filter(|s| s.survey.status != "draft").take(4).collect();
        let (proposals, _) = funding::list_initiatives(
            conn,
            Some(viewer),
            &InitiativeFilter { status: "proposed".into(), page: 1, ..Default::default() },
        )?;
        let new_feedback = crate::feedback::service::count(conn, viewer, "new")? as usize;
        d.council = Some(CouncilView { metrics_at_risk, surveys, proposals, new_feedback });
    }
    if viewer.has_role(Role::Admin) {
        let (events, _) = crate::audit::service::list(conn, None, 1)?;
        let (invited, _) = crate::accounts::service::list_users(conn, "", Some(UserStatus::Invited), None, 1)?;
        d.admin = Some(AdminView {
            mail: crate::mail::admin::counts(conn)?,
            events: events.into_iter().take(8).collect(),
            invited: invited.into_iter().map(|u| (u.user.display_name, u.user.email)).collect(),
        });
    }
    Ok(d)
}
