//! Rules for the feedback channel: who sends, who answers, what the sender is told.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::model::FeedbackItem;
use crate::accounts::{Identity, Role};
use crate::audit::{self, Actor, Event};
use crate::db::schema::{feedback_items, funding_priorities, initiatives, members, users};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, ServiceError};
use crate::mail::{self, Category, EmailContent, EmailContext, Outgoing};

/// Feedback as sent.
#[derive(Clone, Debug, Default)]
pub struct FeedbackInput {
    pub subject: String,
    pub body: String,
    /// "" or a priority id.
    pub priority_id: String,
    /// "" or an initiative id.
    pub initiative_id: String,
}

/// A representative sends a suggestion or question for their organization.
pub fn send(conn: &mut DbConn, sender: &Identity, input: &FeedbackInput) -> Result<FeedbackItem, ServiceError> {
    let mut errors = Vec::new();
    if input.subject.trim().is_empty() || input.subject.len() > 200 {
        errors.push(FieldError::new("subject", "Sum it up in 1 to 200 characters."));
    }
    if input.body.trim().is_empty() || input.body.len() > 8000 {
        errors.push(FieldError::new("body", "Write your suggestion or question (up to 8,000 characters)."));
    }
    let priority = crate::domain::parse_optional_id(&input.priority_id, "priority_id", &mut errors);
    let initiative = crate::domain::parse_optional_id(&input.initiative_id, "initiative_id", &mut errors);
    if let Some(p) = priority {
        if funding_priorities::table.filter(funding_priorities::id.eq(p)).count().get_result::<i64>(conn)? == 0 {
            errors.push(FieldError::new("priority_id", "There is no such priority."));
        }
    }
    if let Some(i) = initiative {
        let public: i64 = initiatives::table
            .filter(initiatives::id.eq(i))
            .filter(initiatives::status.eq_any(["approved", "active", "completed"]))
            .count()
            .get_result(conn)?;
        if public == 0 {
            errors.push(FieldError::new("initiative_id", "There is no such initiative."));
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    db::write_transaction(conn, |conn| {
        let now = db::now();
        let item: FeedbackItem = crate::on_backend!(conn, |c| diesel::insert_into(feedback_items::table)
            .values((
                feedback_items::user_id.eq(sender.user_id),
                feedback_items::member_id.eq(sender.member_id),
                feedback_items::subject.eq(input.subject.trim()),
                feedback_items::body.eq(input.body.trim()),
                feedback_items::priority_id.eq(priority),
                feedback_items::initiative_id.eq(initiative),
                feedback_items::status.eq("new"),
                feedback_items::created_at.eq(now),
                feedback_items::updated_at.eq(now),
            ))
            .returning(FeedbackItem::as_returning())
            .get_result(c))?;
        audit::record(conn, Event::new(Actor::User(sender.user_id), "feedback.sent").target("feedback", item.id))?;
        Ok(item)
    })
}

/// An item with who sent it and what it is about.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FeedbackRow {
    #[serde(flatten)]
    pub item: FeedbackItem,
    pub sender: String,
    pub organization: Option<String>,
    pub about: Option<String>,
}

/// The council sees everything (optionally one status); a representative their own organization's.
pub fn list(conn: &mut DbConn, viewer: &Identity, status: &str) -> Result<Vec<FeedbackRow>, ServiceError> {
    Ok(list_page(conn, viewer, status, 1, 500)?.0)
}

/// How many items `viewer` sees with `status` ("" for all).
pub fn count(conn: &mut DbConn, viewer: &Identity, status: &str) -> Result<i64, ServiceError> {
    Ok(matching_ids(conn, viewer, status)?.len() as i64)
}

/// The ids of the items `viewer` sees with `status`, newest first (the council sees all; others their
/// organization's, or their own).
fn matching_ids(conn: &mut DbConn, viewer: &Identity, status: &str) -> Result<Vec<i64>, ServiceError> {
    let mut q = feedback_items::table.into_boxed();
    if !viewer.has_role(Role::Council) {
        q = match viewer.member_id {
            Some(m) => q.filter(feedback_items::member_id.eq(m)),
            None => q.filter(feedback_items::user_id.eq(viewer.user_id)),
        };
    }
    if !status.is_empty() {
        q = q.filter(feedback_items::status.eq(status.to_string()));
    }
    Ok(q.order((feedback_items::created_at.desc(), feedback_items::id.desc())).select(feedback_items::id).load(conn)?)
}

/// Feedback items on a page of the council's list.
pub const PAGE_SIZE: i64 = 25;

/// One page of [`list`]: the rows and how many pages there are.
pub fn list_page(
    conn: &mut DbConn,
    viewer: &Identity,
    status: &str,
    page: i64,
    per_page: i64,
) -> Result<(Vec<FeedbackRow>, i64), ServiceError> {
    let all = matching_ids(conn, viewer, status)?;
    let pages = ((all.len() as i64 + per_page - 1) / per_page).max(1);
    let page = page.clamp(1, pages);
    let ids: Vec<i64> = all.into_iter().skip(((page - 1) * per_page) as usize).take(per_page as usize).collect();
    let rows: Vec<(FeedbackItem, String, Option<String>)> = feedback_items::table
        .inner_join(users::table.on(users::id.eq(feedback_items::user_id)))
        .left_join(members::table.on(members::id.nullable().eq(feedback_items::member_id)))
        .filter(feedback_items::id.eq_any(&ids))
        .order((feedback_items::created_at.desc(), feedback_items::id.desc()))
        .select((FeedbackItem::as_select(), users::display_name, members::name.nullable()))
        .load(conn)?;
    let priorities: Vec<(i64, String)> =
        funding_priorities::table.select((funding_priorities::id, funding_priorities::title)).load(conn)?;
    let initiative_titles: Vec<(i64, String)> =
        initiatives::table.select((initiatives::id, initiatives::title)).load(conn)?;
    let rows = rows
        .into_iter()
        .map(|(item, sender, organization)| {
            let about = item
                .initiative_id
                .and_then(|i| initiative_titles.iter().find(|t| t.0 == i).map(|t| t.1.clone()))
                .or_else(|| item.priority_id.and_then(|p| priorities.iter().find(|t| t.0 == p).map(|t| t.1.clone())));
            FeedbackRow { item, sender, organization, about }
        })
        .collect();
    Ok((rows, pages))
}

/// The email that tells a representative their feedback was answered.
pub struct AnsweredEmail {
    pub name: String,
    pub subject: String,
    pub status: String,
    pub answer: String,
    pub link: String,
}

crate::email_templates!(
    AnsweredEmail,
    "email/feedback_answered/subject.txt",
    "email/feedback_answered/body.txt",
    "email/feedback_answered/body.html"
);

/// The council answers an item (answered, planned or declined), optionally marking it quotable in reports;
/// the sender is emailed.
#[allow(clippy::too_many_arguments)]
pub fn answer(
    conn: &mut DbConn,
    actor: i64,
    id: i64,
    status: &str,
    answer: &str,
    quotable: bool,
    site_name: &str,
    base_url: &str,
) -> Result<FeedbackItem, ServiceError> {
    let mut errors = Vec::new();
    if !matches!(status, "answered" | "planned" | "declined") {
        errors.push(FieldError::new("status", "Choose answered, planned or declined."));
    }
    if answer.trim().is_empty() || answer.len() > 8000 {
        errors
            .push(FieldError::new("answer", "Write the answer the representative will read (up to 8,000 characters)."));
    }
    if quotable && status == "declined" {
        errors.push(FieldError::new("quotable", "Only an answered or planned item is quoted in reports."));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    db::write_transaction(conn, |conn| {
        let item: FeedbackItem = feedback_items::table
            .find(id)
            .select(FeedbackItem::as_select())
            .first(conn)
            .optional()?
            .ok_or(ServiceError::NotFound("feedback"))?;
        let now = db::now();
        diesel::update(feedback_items::table.find(id))
            .set((
                feedback_items::status.eq(status),
                feedback_items::answer.eq(answer.trim()),
                feedback_items::answered_by.eq(actor),
                feedback_items::answered_at.eq(now),
                feedback_items::quotable.eq(quotable),
                feedback_items::updated_at.eq(now),
            ))
            .execute(conn)?;
        let (email, name): (String, String) =
            users::table.find(item.user_id).select((users::email, users::display_name)).first(conn)?;
        let context = EmailContext { site_name: site_name.into(), base_url: base_url.into(), unsubscribe_url: None };
        let content = AnsweredEmail {
            name: name.clone(),
            subject: item.subject.clone(),
            status: status.into(),
            answer: answer.trim().into(),
            link: format!("{}/feedback", base_url.trim_end_matches('/')),
        }
        .render(&context)
        .map_err(|e| ServiceError::Internal(format!("rendering the feedback answer: {e}")))?;
        mail::enqueue(
            conn,
            &Outgoing {
                idempotency_key: format!("feedback:{id}:answer:{}", now.and_utc().timestamp_micros()),
                category: Category::Notice,
                user_id: Some(item.user_id),
                to_address: email,
                to_name: Some(name),
                content,
            },
        )?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "feedback.answered")
                .target("feedback", id)
                .details(json!({ "status": status, "quotable": quotable })),
        )?;
        Ok(feedback_items::table.find(id).select(FeedbackItem::as_select()).first(conn)?)
    })
}

/// Answered or planned items the council marked quotable, newest first: for the reports' "what we changed
/// because of your feedback".
pub fn quotable(conn: &mut DbConn, since: chrono::NaiveDateTime) -> Result<Vec<FeedbackItem>, ServiceError> {
    Ok(feedback_items::table
        .filter(feedback_items::quotable.eq(true))
        .filter(feedback_items::answered_at.ge(since))
        .order(feedback_items::answered_at.desc())
        .select(FeedbackItem::as_select())
        .load(conn)?)
}

/// Priorities and public initiatives a representative can point their feedback at.
#[allow(clippy::type_complexity)]
pub fn topics(conn: &mut DbConn) -> Result<(Vec<(i64, String)>, Vec<(i64, String)>), ServiceError> {
    Ok((
        funding_priorities::table
            .filter(funding_priorities::active.eq(true))
            .order(funding_priorities::position)
            .select((funding_priorities::id, funding_priorities::title))
            .load(conn)?,
        initiatives::table
            .filter(initiatives::status.eq_any(["approved", "active"]))
            .order(initiatives::title)
            .select((initiatives::id, initiatives::title))
            .load(conn)?,
    ))
}
