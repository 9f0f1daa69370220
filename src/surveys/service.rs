//! Rules and transactions for surveys: drafting questions, opening (invitations with personal links through
//! the outbox), answering by link (drafts, changes until close, one answer per organization where asked),
//! closing (survey-fed metrics get their values), and results.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::model::{Answer, Question, Survey, KINDS};
use super::pool::{self, Pooled};
use super::stats::{self, Nps, RankResult, Summary};
use crate::accounts::tokens::{hash_token, random_token};
use crate::audit::{self, Actor, Event};
use crate::config::SigningKey;
use crate::db::schema::{
    funding_priorities, members, membership_tiers, metrics, survey_answers, survey_invitations,
    survey_organization_answers, survey_questions, survey_responses, survey_targets, surveys, users,
};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, ServiceError};
use crate::mail::{self, Category, EmailContent, EmailContext, Outgoing};

/// What the privacy notice on every survey says is and is not stored.
pub fn privacy_notice(survey: &Survey) -> &'static str {
    if survey.anonymous {
        "This survey is anonymous. Your answers wait, encrypted, until enough others have answered, and are then \
         counted together with theirs in a shuffled batch: stored with your organization's membership tier (only \
         where enough organizations of that tier are in the batch) and the day they were counted, and nothing \
         else: not your name, your organization, your email address or the time. Your invitation records only \
         that it was used. Until they are counted, only your personal link, which Steward does not keep, finds \
         your answers to change them; once counted they cannot be changed. Results show groups of at least the \
         survey's minimum size."
    } else {
        "This survey is named: your answers are stored with your name and organization, and the council sees \
         them. Results show groups of at least the survey's minimum size."
    }
}

// ------------------------------------------------------------------------------------------------- drafting

/// A survey as entered. Times are `YYYY-MM-DDTHH:MM` (a form's local time field) or a date, in UTC.
#[derive(Clone, Debug, Default)]
pub struct SurveyInput {
    pub title: String,
    pub introduction: String,
    pub cycle: String,
    pub opens_at: String,
    pub closes_at: String,
    pub audience: String,
    pub anonymous: bool,
    pub min_group_size: String,
    /// Days before closing to remind those who have not answered, comma-separated ("7, 2"); empty for none.
    pub reminder_days: String,
    /// For `selected`: member organization ids.
    pub targets: Vec<String>,
}

/// Reads an opening or closing time as typed (`2026-12-01T09:00`, with seconds, or a date alone).
pub fn parse_time(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDateTime> {
    let raw = raw.trim();
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(t);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0);
    }
    errors.push(FieldError::new(field, "Enter a date and time like 2026-12-01T09:00 (UTC)."));
    None
}

struct CheckedSurvey {
    reminder_days: String,
    opens_at: NaiveDateTime,
    closes_at: NaiveDateTime,
    min_group_size: i32,
    targets: Vec<i64>,
}

fn check_survey(conn: &mut DbConn, input: &SurveyInput) -> Result<CheckedSurvey, ServiceError> {
    let mut errors = Vec::new();
    if let Some(problem) = crate::domain::hidden_characters(&input.title) {
        errors.push(FieldError::new("title", problem));
    } else if input.title.trim().is_empty() || input.title.len() > 200 {
        errors.push(FieldError::new("title", "Give a title of 1 to 200 characters."));
    }
    if input.introduction.len() > 8000 {
        errors.push(FieldError::new("introduction", "Keep the introduction under 8,000 characters."));
    }
    if input.cycle.trim().is_empty() || input.cycle.len() > 40 {
        errors.push(FieldError::new("cycle", "Name the cycle, e.g. 2026-H2."));
    }
    if !matches!(input.audience.as_str(), "per_organization" | "per_person" | "selected" | "community") {
        errors.push(FieldError::new("audience", "Choose who is asked."));
    }
    let opens_at = parse_time(&input.opens_at, "opens_at", &mut errors);
    let closes_at = parse_time(&input.closes_at, "closes_at", &mut errors);
    if let (Some(o), Some(c)) = (opens_at, closes_at) {
        if c <= o {
            errors.push(FieldError::new("closes_at", "It must close after it opens."));
        }
    }
    let min_group_size = match input.min_group_size.trim().parse::<i32>() {
        Ok(n) if (1..=100).contains(&n) => Some(n),
        _ => {
            errors.push(FieldError::new("min_group_size", "Give the smallest group shown, from 1 to 100."));
            None
        }
    };
    let mut reminder_days: Vec<i64> = Vec::new();
    for part in input.reminder_days.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<i64>() {
            Ok(d) if (1..=60).contains(&d) => reminder_days.push(d),
            _ => {
                errors.push(FieldError::new("reminder_days", "List days before closing from 1 to 60, e.g. 7, 2."));
                break;
            }
        }
    }
    reminder_days.sort_by(|a, b| b.cmp(a));
    reminder_days.dedup();
    let mut targets = Vec::new();
    for raw in &input.targets {
        match raw.trim().parse::<i64>() {
            Ok(id) if members::table.filter(members::id.eq(id)).count().get_result::<i64>(conn)? == 1 => {
                targets.push(id)
            }
            _ => errors.push(FieldError::new("targets", "Choose organizations from the list.")),
        }
    }
    if input.audience == "selected" && targets.is_empty() {
        errors.push(FieldError::new("targets", "Choose at least one organization."));
    }
    match (opens_at, closes_at, min_group_size, errors.is_empty()) {
        (Some(opens_at), Some(closes_at), Some(min_group_size), true) => Ok(CheckedSurvey {
            reminder_days: reminder_days.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(","),
            opens_at,
            closes_at,
            min_group_size,
            targets,
        }),
        _ => Err(ServiceError::Validation(errors)),
    }
}

/// Drafts a survey (council).
pub fn create_survey(conn: &mut DbConn, actor: i64, input: &SurveyInput) -> Result<Survey, ServiceError> {
    db::write_transaction(conn, |conn| {
        let c = check_survey(conn, input)?;
        let now = db::now();
        let survey: Survey = crate::on_backend!(conn, |x| diesel::insert_into(surveys::table)
            .values((
                surveys::title.eq(input.title.trim()),
                surveys::introduction.eq(input.introduction.trim()),
                surveys::cycle.eq(input.cycle.trim()),
                surveys::opens_at.eq(c.opens_at),
                surveys::closes_at.eq(c.closes_at),
                surveys::audience.eq(&input.audience),
                // A community survey is always anonymous: nobody signs in to answer it.
                surveys::anonymous.eq(input.anonymous || input.audience == "community"),
                surveys::min_group_size.eq(c.min_group_size),
                surveys::reminder_days.eq(&c.reminder_days),
                surveys::status.eq("draft"),
                surveys::created_by.eq(actor),
                surveys::created_at.eq(now),
                surveys::updated_at.eq(now),
            ))
            .returning(Survey::as_returning())
            .get_result(x))?;
        for m in &c.targets {
            diesel::insert_into(survey_targets::table)
                .values((survey_targets::survey_id.eq(survey.id), survey_targets::member_id.eq(m)))
                .execute(conn)?;
        }
        audit::record(conn, Event::new(Actor::User(actor), "survey.created").target("survey", survey.id))?;
        Ok(survey)
    })
}

pub fn find_survey(conn: &mut DbConn, id: i64) -> Result<Survey, ServiceError> {
    surveys::table.find(id).select(Survey::as_select()).first(conn).optional()?.ok_or(ServiceError::NotFound("survey"))
}

fn draft(conn: &mut DbConn, id: i64) -> Result<Survey, ServiceError> {
    let survey = find_survey(conn, id)?;
    if survey.status != "draft" {
        return Err(ServiceError::Conflict(format!(
            "The survey is {}; its questions no longer change, so answers stay comparable.",
            survey.status
        )));
    }
    Ok(survey)
}

pub fn questions(conn: &mut DbConn, survey_id: i64) -> Result<Vec<Question>, ServiceError> {
    Ok(survey_questions::table
        .filter(survey_questions::survey_id.eq(survey_id))
        .order((survey_questions::position, survey_questions::id))
        .select(Question::as_select())
        .load(conn)?)
}

/// A question as entered; `options` one per line (choices, ranking; likert: five scale labels, or empty for
/// the usual ones).
#[derive(Clone, Debug, Default)]
pub struct QuestionInput {
    pub kind: String,
    pub prompt: String,
    pub required: bool,
    pub options: String,
}

const LIKERT: [&str; 5] = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"];

/// Adds a question to a draft survey (council). A points question spreads 100 points over the active
/// funding priorities.
pub fn add_question(
    conn: &mut DbConn,
    actor: i64,
    survey_id: i64,
    input: &QuestionInput,
) -> Result<Question, ServiceError> {
    let mut errors = Vec::new();
    if !KINDS.iter().any(|(k, _)| *k == input.kind) {
        errors.push(FieldError::new("kind", "Choose a kind of question."));
    }
    if input.prompt.trim().is_empty() || input.prompt.len() > 1000 {
        errors.push(FieldError::new("prompt", "Ask the question in 1 to 1,000 characters."));
    }
    let labels: Vec<String> =
        input.options.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    match input.kind.as_str() {
        "single" | "multi" | "ranking" if labels.len() < 2 || labels.len() > 20 => {
            errors.push(FieldError::new("options", "Give 2 to 20 options, one per line."))
        }
        "likert" if !labels.is_empty() && labels.len() != 5 => {
            errors.push(FieldError::new("options", "Give the five labels of the scale, or none for the usual ones."))
        }
        _ => {}
    }
    if labels.iter().any(|l| l.len() > 200) {
        errors.push(FieldError::new("options", "Keep each option under 200 characters."));
    }
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    db::write_transaction(conn, |conn| {
        draft(conn, survey_id)?;
        let options = match input.kind.as_str() {
            "points" => {
                let ids: Vec<i64> = funding_priorities::table
                    .filter(funding_priorities::active.eq(true))
                    .order(funding_priorities::position)
                    .select(funding_priorities::id)
                    .load(conn)?;
                if ids.len() < 2 {
                    return Err(ServiceError::invalid("kind", "Points need at least two active funding priorities."));
                }
                json!(ids).to_string()
            }
            "likert" if labels.is_empty() => json!(LIKERT).to_string(),
            "single" | "multi" | "ranking" | "likert" => json!(labels).to_string(),
            _ => "[]".to_string(),
        };
        insert_question(conn, survey_id, &input.kind, input.prompt.trim(), input.required, &options, None).and_then(
            |q| {
                audit::record(
                    conn,
                    Event::new(Actor::User(actor), "survey.question_added").target("survey", survey_id),
                )?;
                Ok(q)
            },
        )
    })
}

fn insert_question(
    conn: &mut DbConn,
    survey_id: i64,
    kind: &str,
    prompt: &str,
    required: bool,
    options: &str,
    copied_from: Option<i64>,
) -> Result<Question, ServiceError> {
    let position: Option<i32> = survey_questions::table
        .filter(survey_questions::survey_id.eq(survey_id))
        .select(diesel::dsl::max(survey_questions::position))
        .first(conn)?;
    Ok(crate::on_backend!(conn, |c| diesel::insert_into(survey_questions::table)
        .values((
            survey_questions::survey_id.eq(survey_id),
            survey_questions::position.eq(position.unwrap_or(0) + 1),
            survey_questions::kind.eq(kind),
            survey_questions::prompt.eq(prompt),
            survey_questions::required.eq(required),
            survey_questions::options.eq(options),
            survey_questions::copied_from.eq(copied_from),
        ))
        .returning(Question::as_returning())
        .get_result(c))?)
}

/// Copies every question of an earlier survey into a draft, each marked as a repeat so the waves compare.
pub fn copy_questions(conn: &mut DbConn, actor: i64, survey_id: i64, from_survey: i64) -> Result<usize, ServiceError> {
    db::write_transaction(conn, |conn| {
        draft(conn, survey_id)?;
        find_survey(conn, from_survey)?;
        let earlier = questions(conn, from_survey)?;
        for q in &earlier {
            insert_question(conn, survey_id, &q.kind, &q.prompt, q.required, &q.options, Some(q.id))?;
        }
        audit::record(
            conn,
            Event::new(Actor::User(actor), "survey.questions_copied")
                .target("survey", survey_id)
                .details(json!({ "from": from_survey, "count": earlier.len() })),
        )?;
        Ok(earlier.len())
    })
}

/// Removes a question from a draft survey.
pub fn remove_question(conn: &mut DbConn, actor: i64, question_id: i64) -> Result<i64, ServiceError> {
    db::write_transaction(conn, |conn| {
        let q: Question = survey_questions::table
            .find(question_id)
            .select(Question::as_select())
            .first(conn)
            .optional()?
            .ok_or(ServiceError::NotFound("question"))?;
        draft(conn, q.survey_id)?;
        diesel::delete(survey_questions::table.find(question_id)).execute(conn)?;
        audit::record(conn, Event::new(Actor::User(actor), "survey.question_removed").target("survey", q.survey_id))?;
        Ok(q.survey_id)
    })
}

// --------------------------------------------------------------------------------------------------- opening

/// What sending mail needs.
#[derive(Clone)]
pub struct MailSettings {
    pub site_name: String,
    pub base_url: String,
    pub key: SigningKey,
}

/// A survey invitation with its personal link.
pub struct InvitationEmail {
    /// A reminder (with a fresh link that replaces the earlier one) rather than the first invitation.
    pub reminder: bool,
    pub name: String,
    pub title: String,
    pub introduction: String,
    pub closes: String,
    pub link: String,
    pub anonymous: bool,
}

crate::email_templates!(
    InvitationEmail,
    "email/survey_invitation/subject.txt",
    "email/survey_invitation/body.txt",
    "email/survey_invitation/body.html"
);

/// The people asked: active representatives of active member organizations (or of the selected ones).
fn audience(conn: &mut DbConn, survey: &Survey) -> Result<Vec<(i64, String, String, i64)>, ServiceError> {
    let mut q = users::table
        .inner_join(members::table.on(users::member_id.eq(members::id.nullable())))
        .filter(users::status.eq("active"))
        .filter(members::status.eq("active"))
        .into_boxed();
    if survey.audience == "selected" {
        let chosen: Vec<i64> = survey_targets::table
            .filter(survey_targets::survey_id.eq(survey.id))
            .select(survey_targets::member_id)
            .load(conn)?;
        q = q.filter(members::id.eq_any(chosen));
    }
    Ok(q.order(users::id).select((users::id, users::email, users::display_name, members::id)).load(conn)?)
}

/// Opens a draft survey (council): invites its audience with a personal link each, through the outbox.
/// Returns how many were invited.
pub fn open_survey(
    conn: &mut DbConn,
    actor: i64,
    id: i64,
    mail_settings: &MailSettings,
) -> Result<usize, ServiceError> {
    db::write_transaction(conn, |conn| {
        let survey = draft(conn, id)?;
        if questions(conn, id)?.is_empty() {
            return Err(ServiceError::Conflict("Add at least one question before opening the survey.".into()));
        }
        if survey.closes_at <= db::now() {
            return Err(ServiceError::Conflict("Its closing time has passed; set a later one first.".into()));
        }
        if survey.is_community() {
            diesel::update(surveys::table.find(id))
                .set((
                    surveys::status.eq("open"),
                    surveys::public_token.eq(random_token()),
                    surveys::updated_at.eq(db::now()),
                ))
                .execute(conn)?;
            audit::record(conn, Event::new(Actor::User(actor), "survey.opened").target("survey", id))?;
            return Ok(0);
        }
        diesel::update(surveys::table.find(id))
            .set((surveys::status.eq("open"), surveys::updated_at.eq(db::now())))
            .execute(conn)?;
        let people = audience(conn, &survey)?;
        let today = db::now().date();
        for (user_id, email, name, member_id) in &people {
            let token = random_token();
            diesel::insert_into(survey_invitations::table)
                .values((
                    survey_invitations::survey_id.eq(id),
                    survey_invitations::user_id.eq(user_id),
                    survey_invitations::member_id.eq(member_id),
                    survey_invitations::token_hash.eq(hash_token(&token)),
                    survey_invitations::sent_on.eq(today),
                ))
                .execute(conn)?;
            let context = EmailContext {
                site_name: mail_settings.site_name.clone(),
                base_url: mail_settings.base_url.clone(),
                unsubscribe_url: Some(mail::unsubscribe_url(
                    &mail_settings.key,
                    &mail_settings.base_url,
                    *user_id,
                    Category::Surveys,
                )),
            };
            let content = InvitationEmail {
                reminder: false,
                name: name.clone(),
                title: survey.title.clone(),
                introduction: survey.introduction.clone(),
                closes: survey.closes_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                link: format!("{}/s/{token}", mail_settings.base_url.trim_end_matches('/')),
                anonymous: survey.anonymous,
            }
            .render(&context)
            .map_err(|e| ServiceError::Internal(format!("rendering the survey invitation: {e}")))?;
            mail::enqueue(
                conn,
                &Outgoing {
                    idempotency_key: format!("survey:{id}:invitation:user:{user_id}"),
                    category: Category::Surveys,
                    user_id: Some(*user_id),
                    to_address: email.clone(),
                    to_name: Some(name.clone()),
                    content,
                },
            )?;
        }
        audit::record(
            conn,
            Event::new(Actor::User(actor), "survey.opened")
                .target("survey", id)
                .details(json!({ "invited": people.len() })),
        )?;
        Ok(people.len())
    })
}

/// Closes an open survey (council). Metrics fed by its questions receive their value for the day it closed.
/// Returns how many metric values were recorded.
/// An anonymous survey's pooled answers are counted first, all of them (drafts are dropped).
pub fn close_survey(conn: &mut DbConn, key: &SigningKey, actor: i64, id: i64) -> Result<usize, ServiceError> {
    db::write_transaction(conn, |conn| {
        let survey = find_survey(conn, id)?;
        if survey.status != "open" {
            return Err(ServiceError::Conflict(format!(
                "The survey is {}; only an open survey closes.",
                survey.status
            )));
        }
        pool::flush(conn, key, &survey, true)?;
        diesel::update(surveys::table.find(id))
            .set((surveys::status.eq("closed"), surveys::updated_at.eq(db::now())))
            .execute(conn)?;
        let fed: Vec<(i64, i64, Option<String>)> = metrics::table
            .inner_join(survey_questions::table.on(metrics::survey_question_id.eq(survey_questions::id.nullable())))
            .filter(survey_questions::survey_id.eq(id))
            .filter(metrics::source.eq("survey"))
            .select((metrics::id, survey_questions::id, metrics::survey_aggregate))
            .load(conn)?;
        let mut recorded = 0;
        for (metric_id, question_id, aggregate) in fed {
            let values = submitted_numbers(conn, question_id)?;
            // A metric is a result too: never from fewer answers than the smallest group shown.
            if (values.len() as i64) < i64::from(survey.min_group_size) {
                continue;
            }
            let value = match aggregate.as_deref() {
                Some("nps") => stats::nps(&values).score,
                Some("share_agreeing") => (!values.is_empty()).then(|| {
                    stats::round2(values.iter().filter(|v| **v >= 4).count() as f64 * 100.0 / values.len() as f64)
                }),
                _ => stats::summary(&values.iter().map(|v| *v as f64).collect::<Vec<_>>()).mean,
            };
            let Some(value) = value else { continue };
            let input = crate::metrics::service::ObservationInput {
                observed_on: db::now().date().to_string(),
                value: format!("{value:.2}"),
                note: format!("{} ({} answers)", survey.title, values.len()),
            };
            let from = crate::metrics::service::Provenance {
                source: "survey",
                label: survey.cycle.clone(),
                actor: Some(actor),
            };
            match crate::metrics::service::record_observations(conn, metric_id, &[input], &from) {
                Ok(_) => recorded += 1,
                // Another survey closed today already gave this metric its value: keep that one (the council
                // can correct it on the metric's page).
                Err(ServiceError::Validation(_)) => {
                    tracing::info!(metric.id = metric_id, survey.id = id, "metric already has a survey value for today")
                }
                Err(other) => return Err(other),
            }
        }
        audit::record(
            conn,
            Event::new(Actor::User(actor), "survey.closed")
                .target("survey", id)
                .details(json!({ "metric_values": recorded })),
        )?;
        Ok(recorded)
    })
}

/// The numeric answers (likert, NPS) of submitted responses to a question.
fn submitted_numbers(conn: &mut DbConn, question_id: i64) -> Result<Vec<i64>, ServiceError> {
    Ok(submitted_answers(conn, question_id)?
        .into_iter()
        .filter_map(|(_, a)| match a {
            Answer::Number(n) => Some(n),
            _ => None,
        })
        .collect())
}

/// (tier of the response, answer) of every submitted response to a question.
fn submitted_answers(conn: &mut DbConn, question_id: i64) -> Result<TieredAnswers, ServiceError> {
    Ok(submitted_answers_of(conn, &[question_id])?.remove(&question_id).unwrap_or_default())
}

/// Answers with the tier of the organization that gave each.
type TieredAnswers = Vec<(Option<i64>, Answer)>;

/// Every submitted answer to these questions (of any surveys), per question id: two queries however many
/// questions, each reading an index only.
fn submitted_answers_of(conn: &mut DbConn, question_ids: &[i64]) -> Result<HashMap<i64, TieredAnswers>, ServiceError> {
    let survey_ids =
        survey_questions::table.filter(survey_questions::id.eq_any(question_ids)).select(survey_questions::survey_id);
    let tiers: HashMap<i64, Option<i64>> = survey_responses::table
        .filter(survey_responses::survey_id.eq_any(survey_ids))
        .filter(survey_responses::status.eq("submitted"))
        .select((survey_responses::id, survey_responses::tier_id))
        .load::<(i64, Option<i64>)>(conn)?
        .into_iter()
        .collect();
    let rows: Vec<(i64, i64, String)> = survey_answers::table
        .filter(survey_answers::question_id.eq_any(question_ids))
        .select((survey_answers::question_id, survey_answers::response_id, survey_answers::value))
        .load(conn)?;
    let mut by_question: HashMap<i64, TieredAnswers> = HashMap::new();
    for (question, response, value) in rows {
        // Answers of responses not submitted (drafts) do not count.
        let Some(tier) = tiers.get(&response) else { continue };
        if let Some(answer) = parse_answer(&value) {
            by_question.entry(question).or_default().push((*tier, answer));
        }
    }
    Ok(by_question)
}

/// A stored answer: integers and lists of integers read directly (nearly every answer), anything else as JSON.
pub fn parse_answer(value: &str) -> Option<Answer> {
    // Only what JSON itself calls an integer: no sign but '-', no leading zeros, not "-0" (a float to serde),
    // and only JSON's own whitespace around list items; anything else goes the slow way.
    let integer = |t: &str| {
        let digits = t.strip_prefix('-').unwrap_or(t);
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
            && t != "-0";
        if canonical {
            t.parse::<i64>().ok()
        } else {
            None
        }
    };
    if let Some(n) = integer(value) {
        return Some(Answer::Number(n));
    }
    if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        let json_space = [' ', '\t', '\n', '\r'];
        let list: Option<Vec<i64>> = if inner.is_empty() {
            Some(Vec::new())
        } else {
            inner.split(',').map(|p| integer(p.trim_matches(json_space))).collect()
        };
        if let Some(list) = list {
            return Some(Answer::List(list));
        }
    }
    serde_json::from_str(value).ok()
}

/// Sends the reminders that are due: for each open survey and each of its reminder days that has come, one
/// email to every invitee who has not used their link, with a fresh link (their old one had not been used, so
/// nothing is lost). Idempotent: a reminder already queued is not queued again. Returns how many were queued.
pub fn send_reminders(
    conn: &mut DbConn,
    now: NaiveDateTime,
    mail_settings: &MailSettings,
) -> Result<usize, ServiceError> {
    let open: Vec<Survey> = surveys::table
        .filter(surveys::status.eq("open"))
        .filter(surveys::closes_at.gt(now))
        .select(Survey::as_select())
        .load(conn)?;
    let mut queued = 0;
    for survey in open {
        for days in survey.reminders() {
            if now < survey.closes_at - chrono::Duration::days(days) {
                continue;
            }
            queued += db::write_transaction(conn, |conn| {
                let unused: Vec<(i64, i64, String, String)> = survey_invitations::table
                    .inner_join(users::table)
                    .filter(survey_invitations::survey_id.eq(survey.id))
                    .filter(survey_invitations::used.eq(false))
                    .select((survey_invitations::id, users::id, users::email, users::display_name))
                    .load(conn)?;
                let mut n = 0;
                for (invitation, user_id, email, name) in unused {
                    let key = format!("survey:{}:reminder:{days}:user:{user_id}", survey.id);
                    let exists: i64 = crate::db::schema::outbox::table
                        .filter(crate::db::schema::outbox::idempotency_key.eq(&key))
                        .count()
                        .get_result(conn)?;
                    if exists > 0 {
                        continue;
                    }
                    send_link(conn, &survey, invitation, user_id, &email, &name, key, true, mail_settings)?;
                    n += 1;
                }
                Ok::<_, ServiceError>(n)
            })?;
        }
    }
    Ok(queued)
}

/// Gives an invitation a fresh link (the old one stops working) and returns its token.
fn new_token(conn: &mut DbConn, invitation: i64) -> Result<String, ServiceError> {
    let token = random_token();
    diesel::update(survey_invitations::table.find(invitation))
        .set(survey_invitations::token_hash.eq(hash_token(&token)))
        .execute(conn)?;
    Ok(token)
}

/// Gives an invitation a fresh link and emails it (as a reminder, or as the link asked for again); returns the
/// new token.
#[allow(clippy::too_many_arguments)]
fn send_link(
    conn: &mut DbConn,
    survey: &Survey,
    invitation: i64,
    user_id: i64,
    email: &str,
    name: &str,
    idempotency_key: String,
    reminder: bool,
    mail_settings: &MailSettings,
) -> Result<String, ServiceError> {
    let token = new_token(conn, invitation)?;
    let context = EmailContext {
        site_name: mail_settings.site_name.clone(),
        base_url: mail_settings.base_url.clone(),
        unsubscribe_url: Some(mail::unsubscribe_url(
            &mail_settings.key,
            &mail_settings.base_url,
            user_id,
            Category::Surveys,
        )),
    };
    let content = InvitationEmail {
        reminder,
        name: name.to_string(),
        title: survey.title.clone(),
        introduction: survey.introduction.clone(),
        closes: survey.closes_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        link: format!("{}/s/{token}", mail_settings.base_url.trim_end_matches('/')),
        anonymous: survey.anonymous,
    }
    .render(&context)
    .map_err(|e| ServiceError::Internal(format!("rendering the survey email: {e}")))?;
    mail::enqueue(
        conn,
        &Outgoing {
            idempotency_key,
            category: if reminder { Category::Reminders } else { Category::Surveys },
            user_id: Some(user_id),
            to_address: email.to_string(),
            to_name: Some(name.to_string()),
            content,
        },
    )?;
    Ok(token)
}

/// An open survey as a representative sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MySurvey {
    pub survey: Survey,
    /// Whether their link has been used (a draft saved or answers sent).
    pub used: bool,
}

/// The open surveys a person is invited to.
pub fn my_surveys(conn: &mut DbConn, user_id: i64) -> Result<Vec<MySurvey>, ServiceError> {
    let rows: Vec<(Survey, bool)> = survey_invitations::table
        .inner_join(surveys::table)
        .filter(survey_invitations::user_id.eq(user_id))
        .filter(surveys::status.eq("open"))
        .order(surveys::closes_at)
        .select((Survey::as_select(), survey_invitations::used))
        .load(conn)?;
    Ok(rows.into_iter().map(|(survey, used)| MySurvey { survey, used }).collect())
}

/// Where a renewed personal link goes.
pub enum LinkDelivery<'a> {
    /// By email, when the old one is lost.
    Email(&'a MailSettings),
    /// Straight to the signed-in representative's browser, to answer from their page now.
    Here,
}

/// Gives a representative a fresh personal link to an open survey (the old one stops working) and returns its
/// token. A link already used for an anonymous survey cannot be replaced: only it finds those answers, and
/// Steward cannot tell whose they are.
pub fn renew_link(
    conn: &mut DbConn,
    user_id: i64,
    survey_id: i64,
    delivery: LinkDelivery<'_>,
) -> Result<String, ServiceError> {
    db::write_transaction(conn, |conn| {
        let survey = find_survey(conn, survey_id)?;
        if !survey.accepts_answers(db::now()) {
            return Err(ServiceError::Conflict("This survey is not open for answers.".into()));
        }
        let (invitation, used, email, name): (i64, bool, String, String) = survey_invitations::table
            .inner_join(users::table)
            .filter(survey_invitations::survey_id.eq(survey_id))
            .filter(survey_invitations::user_id.eq(user_id))
            .select((survey_invitations::id, survey_invitations::used, users::email, users::display_name))
            .first(conn)
            .optional()?
            .ok_or(ServiceError::NotFound("survey invitation"))?;
        if used && survey.anonymous {
            return Err(ServiceError::Conflict(
                "Your link has been used. In an anonymous survey only that link finds your answers again; use the one in your email."
                    .into(),
            ));
        }
        let old_resume: Option<i64> = if used {
            // A named survey: the answers are theirs by name, so they move to the new link.
            survey_responses::table
                .filter(survey_responses::survey_id.eq(survey_id))
                .filter(survey_responses::user_id.eq(user_id))
                .select(survey_responses::id)
                .first(conn)
                .optional()?
        } else {
            None
        };
        let token = match delivery {
            LinkDelivery::Email(settings) => {
                let key = format!("survey:{survey_id}:link:{}:user:{user_id}", &random_token()[..16]);
                send_link(conn, &survey, invitation, user_id, &email, &name, key, false, settings)?
            }
            LinkDelivery::Here => new_token(conn, invitation)?,
        };
        if let Some(response) = old_resume {
            diesel::update(survey_responses::table.find(response))
                .set(survey_responses::resume_hash.eq(resume_hash(&token)))
                .execute(conn)?;
        }
        audit::record(conn, Event::new(Actor::User(user_id), "survey.link_renewed").target("survey", survey_id))?;
        Ok(token)
    })
}

// ------------------------------------------------------------------------------------------------- answering

/// What the answer page shows for a personal link.
#[derive(Clone, Debug)]
pub struct AnswerForm {
    pub survey: Survey,
    pub questions: Vec<Question>,
    /// Priority titles by id, for points questions.
    pub priorities: Vec<(i64, String)>,
    pub answers: BTreeMap<i64, Answer>,
    /// `draft`, `submitted`, or none yet.
    pub status: Option<String>,
}

fn invitation_of(conn: &mut DbConn, token: &str) -> Result<(i64, i64, i64, Option<i64>), ServiceError> {
    survey_invitations::table
        .filter(survey_invitations::token_hash.eq(hash_token(token)))
        .select((
            survey_invitations::id,
            survey_invitations::survey_id,
            survey_invitations::user_id,
            survey_invitations::member_id,
        ))
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("survey link"))
}

fn resume_hash(token: &str) -> String {
    hash_token(&format!("resume:{token}"))
}

/// The form behind a personal link, with the answers saved so far. An anonymous survey's answers are found in
/// the pool while they wait; once counted, the status is `counted` and they are not shown (nothing finds them).
pub fn answer_form(conn: &mut DbConn, key: &SigningKey, token: &str) -> Result<AnswerForm, ServiceError> {
    let (invitation_id, survey_id, _, _) = invitation_of(conn, token)?;
    let survey = find_survey(conn, survey_id)?;
    if survey.anonymous {
        let used: bool = survey_invitations::table.find(invitation_id).select(survey_invitations::used).first(conn)?;
        let pooled = pool::find(conn, key, survey_id, &pool::locator(key, token))?;
        let status = match &pooled {
            Some((_, p)) => Some(p.status.clone()),
            None if used => Some("counted".to_string()),
            None => None,
        };
        return Ok(AnswerForm {
            questions: questions(conn, survey_id)?,
            priorities: funding_priorities::table
                .select((funding_priorities::id, funding_priorities::title))
                .load(conn)?,
            status,
            answers: pooled.map(|(_, p)| p.answers).unwrap_or_default(),
            survey,
        });
    }
    let response: Option<(i64, String)> = survey_responses::table
        .filter(survey_responses::survey_id.eq(survey_id))
        .filter(survey_responses::resume_hash.eq(resume_hash(token)))
        .select((survey_responses::id, survey_responses::status))
        .first(conn)
        .optional()?;
    let mut answers = BTreeMap::new();
    if let Some((response_id, _)) = &response {
        let rows: Vec<(i64, String)> = survey_answers::table
            .filter(survey_answers::response_id.eq(response_id))
            .select((survey_answers::question_id, survey_answers::value))
            .load(conn)?;
        for (q, v) in rows {
            if let Ok(a) = serde_json::from_str(&v) {
                answers.insert(q, a);
            }
        }
    }
    Ok(AnswerForm {
        questions: questions(conn, survey_id)?,
        priorities: funding_priorities::table.select((funding_priorities::id, funding_priorities::title)).load(conn)?,
        status: response.map(|r| r.1),
        answers,
        survey,
    })
}

/// Answers as sent by a form or the API: per question id, the raw values (several for multi, ranking, points).
pub type RawAnswers = BTreeMap<i64, Vec<String>>;

/// Checks every answer against its question; `final_answer` also requires the required ones. Errors name the
/// question as `q<ID>`.
pub fn check_answers(
    questions: &[Question],
    raw: &RawAnswers,
    final_answer: bool,
) -> Result<BTreeMap<i64, Answer>, ServiceError> {
    let mut errors = Vec::new();
    let mut out = BTreeMap::new();
    for q in questions {
        let field = format!("q{}", q.id);
        let values: Vec<&str> = raw.get(&q.id).map(|v| v.iter().map(|s| s.trim()).collect()).unwrap_or_default();
        let blank = values.iter().all(|v| v.is_empty());
        if blank {
            if q.required && final_answer {
                errors.push(FieldError::new(field, "This question needs an answer."));
            }
            continue;
        }
        let number = |v: &str| v.parse::<i64>().ok();
        let n_options = q.labels().len() as i64;
        let answer = match q.kind.as_str() {
            "likert" => number(values[0])
                .filter(|n| (1..=5).contains(n))
                .map(Answer::Number)
                .ok_or("Choose a point from 1 to 5."),
            "nps" => number(values[0])
                .filter(|n| (0..=10).contains(n))
                .map(Answer::Number)
                .ok_or("Choose a score from 0 to 10."),
            "single" => number(values[0])
                .filter(|n| (0..n_options).contains(n))
                .map(Answer::Number)
                .ok_or("Choose one of the options."),
            "multi" => {
                let chosen: Option<Vec<i64>> = values
                    .iter()
                    .filter(|v| !v.is_empty())
                    .map(|v| number(v).filter(|n| (0..n_options).contains(n)))
                    .collect();
                match chosen {
                    Some(mut c) => {
                        c.sort();
                        c.dedup();
                        Ok(Answer::List(c))
                    }
                    None => Err("Choose among the options."),
                }
            }
            "ranking" => {
                // One rank (1 = first) per option, in option order.
                let ranks: Option<Vec<i64>> = values.iter().map(|v| number(v)).collect();
                match ranks {
                    Some(r) if r.len() as i64 == n_options => {
                        let mut sorted = r.clone();
                        sorted.sort();
                        if sorted != (1..=n_options).collect::<Vec<_>>() {
                            Err("Give each option a different rank, from 1 to the number of options.")
                        } else {
                            let mut order: Vec<(i64, i64)> =
                                r.iter().enumerate().map(|(i, rank)| (*rank, i as i64)).collect();
                            order.sort();
                            Ok(Answer::List(order.into_iter().map(|(_, i)| i).collect()))
                        }
                    }
                    _ => Err("Rank every option."),
                }
            }
            "points" => {
                let n = q.priority_ids().len();
                let points: Option<Vec<i64>> = values
                    .iter()
                    .map(|v| if v.is_empty() { Some(0) } else { number(v).filter(|p| (0..=100).contains(p)) })
                    .collect();
                match points {
                    Some(p) if p.len() == n && p.iter().sum::<i64>() == 100 => Ok(Answer::List(p)),
                    Some(p) if p.len() == n => Err("The points must add up to exactly 100."),
                    _ => Err("Give each priority a whole number of points from 0 to 100."),
                }
            }
            "number" => {
                crate::metrics::model::parse_value(values[0]).map(Answer::Number).map_err(|_| "Enter a number.")
            }
            "short_text" if values[0].len() > 200 => Err("Keep it under 200 characters."),
            "long_text" if values[0].len() > 5000 => Err("Keep it under 5,000 characters."),
            _ => Ok(Answer::Text(values[0].to_string())),
        };
        match answer {
            Ok(a) => {
                out.insert(q.id, a);
            }
            Err(message) => errors.push(FieldError::new(field, message)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ServiceError::Validation(errors))
    }
}

/// Saves (draft) or submits the answers behind a personal link. Until the survey closes, the same link
/// changes its answers; a second organization member cannot answer again where one answer per organization
/// is asked. In an anonymous survey the answers go to the pool (see [`pool`]), sealed, in the same
/// transaction as the invitation's "used" mark, and nothing written names the person or organization or the
/// time; they can be changed until a flush counts them.
pub fn answer(
    conn: &mut DbConn,
    key: &SigningKey,
    token: &str,
    raw: &RawAnswers,
    submit: bool,
) -> Result<&'static str, ServiceError> {
    db::write_transaction(conn, |conn| {
        let (invitation_id, survey_id, user_id, member_id) = invitation_of(conn, token)?;
        let survey = find_survey(conn, survey_id)?;
        if !survey.accepts_answers(db::now()) {
            return Err(ServiceError::Conflict(if survey.status == "closed" || db::now() >= survey.closes_at {
                "This survey has closed; answers can no longer be given or changed.".into()
            } else {
                "This survey is not open yet.".into()
            }));
        }
        // Hold the invitation first: two submissions of the same link run one after the other, and the second
        // reads what the first left.
        diesel::update(survey_invitations::table.find(invitation_id))
            .set(survey_invitations::used.eq(survey_invitations::used))
            .execute(conn)?;
        let was_used: bool =
            survey_invitations::table.find(invitation_id).select(survey_invitations::used).first(conn)?;
        diesel::update(survey_invitations::table.find(invitation_id))
            .set(survey_invitations::used.eq(true))
            .execute(conn)?;
        let answers = check_answers(&questions(conn, survey_id)?, raw, submit)?;
        if survey.anonymous {
            return answer_into_pool(conn, key, &survey, token, member_id, was_used, answers, submit);
        }
        let resume = resume_hash(token);
        let existing: Option<(i64, String)> = survey_responses::table
            .filter(survey_responses::survey_id.eq(survey_id))
            .filter(survey_responses::resume_hash.eq(&resume))
            .select((survey_responses::id, survey_responses::status))
            .first(conn)
            .optional()?;
        let tier: Option<i64> = match member_id {
            Some(m) => members::table.find(m).select(members::tier_id).first(conn)?,
            None => None,
        };
        let status =
            if submit || existing.as_ref().is_some_and(|e| e.1 == "submitted") { "submitted" } else { "draft" };
        let today = db::now().date();
        let response_id = match existing {
            Some((id, _)) => {
                diesel::update(survey_responses::table.find(id))
                    .set((survey_responses::status.eq(status), survey_responses::updated_on.eq(today)))
                    .execute(conn)?;
                id
            }
            None => {
                if survey.one_per_organization() {
                    if let Some(m) = member_id {
                        let inserted =
                            crate::on_backend!(conn, |c| diesel::insert_into(survey_organization_answers::table)
                                .values((
                                    survey_organization_answers::survey_id.eq(survey_id),
                                    survey_organization_answers::member_id.eq(m)
                                ))
                                .on_conflict_do_nothing()
                                .execute(c))?;
                        if inserted == 0 {
                            return Err(ServiceError::Conflict(
                                "Your organization has already answered this survey; one answer per organization is asked.".into(),
                            ));
                        }
                    }
                }
                let id = pool::random_response_id(conn)?;
                let (named_user, named_member) = (Some(user_id), member_id);
                diesel::insert_into(survey_responses::table)
                    .values((
                        survey_responses::id.eq(id),
                        survey_responses::survey_id.eq(survey_id),
                        survey_responses::resume_hash.eq(&resume),
                        survey_responses::user_id.eq(named_user),
                        survey_responses::member_id.eq(named_member),
                        survey_responses::tier_id.eq(tier),
                        survey_responses::status.eq(status),
                        survey_responses::updated_on.eq(today),
                    ))
                    .execute(conn)?;
                id
            }
        };
        diesel::delete(survey_answers::table.filter(survey_answers::response_id.eq(response_id))).execute(conn)?;
        for (question_id, a) in &answers {
            diesel::insert_into(survey_answers::table)
                .values((
                    survey_answers::response_id.eq(response_id),
                    survey_answers::question_id.eq(question_id),
                    survey_answers::value
                        .eq(serde_json::to_string(a).map_err(|e| ServiceError::Internal(e.to_string()))?),
                ))
                .execute(conn)?;
        }
        // Named surveys only: an anonymous answer writes no timed event (see `answer_into_pool`).
        audit::record(
            conn,
            Event::new(
                Actor::User(user_id),
                if status == "submitted" { "survey.answered" } else { "survey.draft_saved" },
            )
            .target("survey", survey_id),
        )?;
        Ok(status)
    })
}

/// An anonymous answer, into the pool: found again by the link's locator while it waits; a link whose
/// answers were already counted changes nothing. No audit event: its time would date the answer.
#[allow(clippy::too_many_arguments)]
fn answer_into_pool(
    conn: &mut DbConn,
    key: &SigningKey,
    survey: &Survey,
    token: &str,
    member_id: Option<i64>,
    was_used: bool,
    answers: BTreeMap<i64, Answer>,
    submit: bool,
) -> Result<&'static str, ServiceError> {
    let locator = pool::locator(key, token);
    let existing = pool::find(conn, key, survey.id, &locator)?;
    let (row, tier, was_submitted) =
        match existing {
            Some((row, pooled)) => (Some(row), pooled.tier, pooled.status == "submitted"),
            None if was_used => return Err(ServiceError::Conflict(
                "Your answers have been counted with others' and, in an anonymous survey, can no longer be changed."
                    .into(),
            )),
            None => {
                if survey.one_per_organization() {
                    if let Some(m) = member_id {
                        let inserted =
                            crate::on_backend!(conn, |c| diesel::insert_into(survey_organization_answers::table)
                                .values((
                                    survey_organization_answers::survey_id.eq(survey.id),
                                    survey_organization_answers::member_id.eq(m)
                                ))
                                .on_conflict_do_nothing()
                                .execute(c))?;
                        if inserted == 0 {
                            return Err(ServiceError::Conflict(
                            "Your organization has already answered this survey; one answer per organization is asked."
                                .into(),
                        ));
                        }
                    }
                }
                let tier: Option<i64> = match member_id {
                    Some(m) => members::table.find(m).select(members::tier_id).first(conn)?,
                    None => None,
                };
                (None, tier, false)
            }
        };
    let status = if submit || was_submitted { "submitted" } else { "draft" };
    pool::put(conn, key, survey.id, &locator, row.as_deref(), &Pooled { status: status.into(), tier, answers })?;
    Ok(status)
}

/// Answers per client and community survey in a day: enough for a shared office, too few to stuff the results.
pub const COMMUNITY_PER_CLIENT: crate::accounts::rate_limit::Limit = crate::accounts::rate_limit::Limit {
    bucket: "community-survey:client",
    max: 5,
    window: std::time::Duration::from_secs(24 * 3600),
};

/// A community survey behind its public link, with how many have answered.
pub fn community_form(conn: &mut DbConn, public_token: &str) -> Result<(AnswerForm, i64), ServiceError> {
    // Public tokens are URL-safe base64; anything else (a NUL byte, which PostgreSQL refuses in text) is no
    // survey's, and is not sent to the database.
    if public_token.is_empty() || !public_token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ServiceError::NotFound("survey"));
    }
    let survey: Survey = surveys::table
        .filter(surveys::public_token.eq(public_token))
        .select(Survey::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("survey"))?;
    let count: i64 =
        survey_responses::table.filter(survey_responses::survey_id.eq(survey.id)).count().get_result(conn)?;
    let form = AnswerForm {
        questions: questions(conn, survey.id)?,
        priorities: funding_priorities::table.select((funding_priorities::id, funding_priorities::title)).load(conn)?,
        answers: BTreeMap::new(),
        status: None,
        survey,
    };
    Ok((form, count))
}

/// One anonymous answer to a community survey, limited per client (`client` is hashed before it is counted,
/// and kept only for the day the limit lasts).
pub fn answer_community(
    conn: &mut DbConn,
    key: &SigningKey,
    public_token: &str,
    client: &str,
    raw: &RawAnswers,
) -> Result<(), ServiceError> {
    let (form, _) = community_form(conn, public_token)?;
    let survey = form.survey;
    if !survey.accepts_answers(db::now()) {
        return Err(ServiceError::Conflict("This survey is not open for answers.".into()));
    }
    let answers = check_answers(&form.questions, raw, true)?;
    crate::accounts::rate_limit::hit(conn, COMMUNITY_PER_CLIENT, &hash_token(&format!("{}:{client}", survey.id)))?;
    // Into the pool like any anonymous answer, under a locator nobody holds (a community answer is not changed).
    db::write_transaction(conn, |conn| {
        let pooled = Pooled { status: "submitted".into(), tier: None, answers };
        pool::put(conn, key, survey.id, &hash_token(&random_token()), None, &pooled)
    })
}

// -------------------------------------------------------------------------------------------------- listing

/// A survey with its counts.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SurveyRow {
    #[serde(flatten)]
    pub survey: Survey,
    pub questions: i64,
    pub invited: i64,
    pub answered: i64,
}

pub fn list_surveys(conn: &mut DbConn) -> Result<Vec<SurveyRow>, ServiceError> {
    use diesel::dsl::count_star;
    let all: Vec<Survey> = surveys::table.order(surveys::opens_at.desc()).select(Survey::as_select()).load(conn)?;
    // Three grouped counts for every survey at once, not three queries per survey.
    let questions: HashMap<i64, i64> = survey_questions::table
        .group_by(survey_questions::survey_id)
        .select((survey_questions::survey_id, count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let invited: HashMap<i64, i64> = survey_invitations::table
        .group_by(survey_invitations::survey_id)
        .select((survey_invitations::survey_id, count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let answered: HashMap<i64, i64> = survey_responses::table
        .filter(survey_responses::status.eq("submitted"))
        .group_by(survey_responses::survey_id)
        .select((survey_responses::survey_id, count_star()))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(all
        .into_iter()
        .map(|survey| SurveyRow {
            questions: questions.get(&survey.id).copied().unwrap_or(0),
            invited: invited.get(&survey.id).copied().unwrap_or(0),
            answered: answered.get(&survey.id).copied().unwrap_or(0),
            survey,
        })
        .collect())
}

// -------------------------------------------------------------------------------------------------- results

/// Answers and invitations of one tier.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TierRate {
    pub tier: String,
    pub invited: i64,
    /// None when the group is smaller than the survey's minimum size.
    pub answered: Option<i64>,
}

/// One question's results.
#[allow(clippy::type_complexity)] // The points rows stay tuples: the OpenAPI document describes them inline.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct QuestionResult {
    pub question: Question,
    pub answered: usize,
    /// Per option (or scale point): label and count.
    pub distribution: Vec<(String, usize)>,
    pub summary: Option<Summary>,
    pub nps: Option<Nps>,
    pub ranking: Vec<RankResult>,
    /// Points: (priority, mean share of the points in percent, share of the current budget in percent, the
    /// community's mean share when a community survey of the same cycle asked for points too).
    pub points: Vec<(String, Option<f64>, Option<f64>, Option<f64>)>,
    /// Text answers; in an anonymous survey in random order.
    pub texts: Vec<String>,
    /// For a repeated question: the earlier wave's cycle and mean (or NPS).
    pub previous: Option<(String, Option<f64>)>,
    /// Mean per tier, only for tiers with at least the minimum group size.
    pub by_tier: Vec<(String, Option<f64>)>,
    /// Fewer answers than the minimum group (to this question or to the survey): only their number is shown.
    pub withheld: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SurveyResults {
    pub survey: Survey,
    pub invited: i64,
    pub answered: i64,
    /// Fewer answers than the survey's minimum group: no question's results are shown.
    pub withheld: bool,
    pub response_rate: Option<f64>,
    pub by_tier: Vec<TierRate>,
    pub questions: Vec<QuestionResult>,
}

/// Everything the council sees of a survey's answers (also while it is open). No group smaller than the
/// survey's minimum size is shown: not the whole survey, not a question's answers, not a tier; and tiers are
/// withheld so that none is found by subtracting the shown ones from the total (`stats::shown_groups`). An
/// anonymous survey's answers count only once the pool is flushed, in batches of at least the minimum, so
/// reading the results after each answer reveals none.
pub fn results(conn: &mut DbConn, id: i64) -> Result<SurveyResults, ServiceError> {
    let survey = find_survey(conn, id)?;
    let min = i64::from(survey.min_group_size);
    let min_n = usize::try_from(survey.min_group_size).unwrap_or(1);
    let tiers: Vec<(i64, String)> = membership_tiers::table
        .order(membership_tiers::position)
        .select((membership_tiers::id, membership_tiers::name))
        .load(conn)?;
    // For one answer per organization, invited and answered count organizations.
    let invited_rows: Vec<(i64, Option<i64>, Option<i64>)> = survey_invitations::table
        .left_join(members::table.on(survey_invitations::member_id.eq(members::id.nullable())))
        .filter(survey_invitations::survey_id.eq(id))
        .select((survey_invitations::user_id, survey_invitations::member_id, members::tier_id.nullable()))
        .load(conn)?;
    let mut invited_units: Vec<(i64, Option<i64>)> = invited_rows
        .iter()
        .map(|(u, m, t)| (if survey.one_per_organization() { m.unwrap_or(*u) } else { *u }, *t))
        .collect();
    invited_units.sort();
    invited_units.dedup();
    let responses: Vec<Option<i64>> = survey_responses::table
        .filter(survey_responses::survey_id.eq(id))
        .filter(survey_responses::status.eq("submitted"))
        .select(survey_responses::tier_id)
        .load(conn)?;
    let invited = invited_units.len() as i64;
    let answered = responses.len() as i64;
    let withheld = answered < min;
    let tier_answers: Vec<usize> =
        tiers.iter().map(|(tid, _)| responses.iter().filter(|t| **t == Some(*tid)).count()).collect();
    let tier_shown = stats::shown_groups(&tier_answers, responses.len(), min_n);
    let by_tier = tiers
        .iter()
        .zip(tier_answers.iter().zip(&tier_shown))
        .map(|((tid, name), (ans, shown))| {
            let inv = invited_units.iter().filter(|u| u.1 == Some(*tid)).count() as i64;
            TierRate { tier: name.clone(), invited: inv, answered: shown.then_some(*ans as i64) }
        })
        .filter(|t| t.invited > 0)
        .collect();
    let qs = questions(conn, id)?;
    let priority_titles: Vec<(i64, String)> =
        funding_priorities::table.select((funding_priorities::id, funding_priorities::title)).load(conn)?;
    let budget_shares = current_budget_shares(conn)?;
    let community = if survey.is_community() { Vec::new() } else { community_weights(conn, &survey.cycle)? };
    let earlier_min: HashMap<i64, usize> = survey_questions::table
        .inner_join(surveys::table)
        .filter(survey_questions::id.eq_any(qs.iter().filter_map(|q| q.copied_from).collect::<Vec<_>>()))
        .select((survey_questions::id, surveys::min_group_size))
        .load::<(i64, i32)>(conn)?
        .into_iter()
        .map(|(q, m)| (q, usize::try_from(m).unwrap_or(1)))
        .collect();
    // This survey's answers and those of the earlier questions they were copied from, read at once.
    let earlier: Vec<i64> = qs.iter().filter_map(|q| q.copied_from).collect();
    let earlier_cycles: HashMap<i64, String> = survey_questions::table
        .inner_join(surveys::table)
        .filter(survey_questions::id.eq_any(&earlier))
        .select((survey_questions::id, surveys::cycle))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let mut all_answers =
        submitted_answers_of(conn, &qs.iter().map(|q| q.id).chain(earlier.iter().copied()).collect::<Vec<_>>())?;
    let mut out = Vec::new();
    for q in qs {
        let mut answers = all_answers.remove(&q.id).unwrap_or_default();
        // A question answered by fewer than the minimum (or a survey answered by fewer) shows nothing but that.
        let question_withheld = withheld || answers.len() < min_n;
        let answer_count = answers.len();
        if question_withheld {
            answers.clear();
        }
        let numbers: Vec<i64> =
            answers.iter().filter_map(|(_, a)| if let Answer::Number(n) = a { Some(*n) } else { None }).collect();
        let lists: Vec<Vec<i64>> =
            answers.iter().filter_map(|(_, a)| if let Answer::List(l) = a { Some(l.clone()) } else { None }).collect();
        let labels = q.labels();
        let mut r = QuestionResult {
            answered: answer_count,
            distribution: Vec::new(),
            summary: None,
            nps: None,
            ranking: Vec::new(),
            points: Vec::new(),
            texts: Vec::new(),
            previous: None,
            by_tier: Vec::new(),
            withheld: false,
            question: q.clone(),
        };
        let tier_mean = |answers: &[(Option<i64>, Answer)]| -> Vec<(String, Option<f64>)> {
            let per_tier: Vec<Vec<f64>> = tiers
                .iter()
                .map(|(tid, _)| {
                    answers
                        .iter()
                        .filter(|(t, _)| *t == Some(*tid))
                        .filter_map(|(_, a)| if let Answer::Number(n) = a { Some(*n as f64) } else { None })
                        .collect()
                })
                .collect();
            let total = answers.iter().filter(|(_, a)| matches!(a, Answer::Number(_))).count();
            let shown = stats::shown_groups(&per_tier.iter().map(Vec::len).collect::<Vec<_>>(), total, min_n);
            tiers
                .iter()
                .zip(per_tier.iter().zip(shown))
                .filter(|(_, (_, shown))| *shown)
                .map(|((_, name), (values, _))| (name.clone(), stats::summary(values).mean))
                .collect()
        };
        r.withheld = question_withheld;
        if !question_withheld {
            match q.kind.as_str() {
                "likert" => {
                    r.distribution = (1..=5)
                        .map(|p| {
                            (
                                labels.get(p as usize - 1).cloned().unwrap_or_default(),
                                numbers.iter().filter(|n| **n == p).count(),
                            )
                        })
                        .collect();
                    r.summary = Some(stats::summary(&numbers.iter().map(|n| *n as f64).collect::<Vec<_>>()));
                    r.by_tier = tier_mean(&answers);
                }
                "nps" => {
                    r.distribution =
                        (0..=10).map(|p| (p.to_string(), numbers.iter().filter(|n| **n == p).count())).collect();
                    r.nps = Some(stats::nps(&numbers));
                    r.by_tier = tier_mean(&answers);
                }
                "single" => {
                    let chosen: Vec<Vec<i64>> = numbers.iter().map(|n| vec![*n]).collect();
                    r.distribution = labels.iter().cloned().zip(stats::counts(labels.len(), &chosen)).collect();
                }
                "multi" => r.distribution = labels.iter().cloned().zip(stats::counts(labels.len(), &lists)).collect(),
                "ranking" => r.ranking = stats::ranking(&labels, &lists),
                "points" => {
                    let ids = q.priority_ids();
                    let shares = stats::mean_shares(ids.len(), &lists);
                    r.points = ids
                        .iter()
                        .zip(shares)
                        .map(|(pid, share)| {
                            let title =
                                priority_titles.iter().find(|p| p.0 == *pid).map(|p| p.1.clone()).unwrap_or_default();
                            let budget = budget_shares.iter().find(|b| b.0 == *pid).map(|b| b.1);
                            let community = community.iter().find(|c| c.0 == *pid).and_then(|c| c.1);
                            (title, share, budget, community)
                        })
                        .collect();
                }
                "number" => {
                    r.summary = Some(stats::summary(&numbers.iter().map(|n| *n as f64 / 1000.0).collect::<Vec<_>>()));
                }
                _ => {
                    r.texts = answers
                        .iter()
                        .filter_map(|(_, a)| if let Answer::Text(t) = a { Some(t.clone()) } else { None })
                        .collect();
                    if survey.anonymous {
                        use rand::seq::SliceRandom;
                        r.texts.shuffle(&mut rand::rng());
                    } else {
                        r.texts.sort();
                    }
                }
            }
        }
        if let Some(earlier) = q.copied_from {
            if let Some(cycle) = earlier_cycles.get(&earlier).cloned() {
                let before: Vec<i64> = all_answers
                    .get(&earlier)
                    .map(|answers| {
                        answers
                            .iter()
                            .filter_map(|(_, a)| if let Answer::Number(n) = a { Some(*n) } else { None })
                            .collect()
                    })
                    .unwrap_or_default();
                let value = if before.len() < earlier_min.get(&earlier).copied().unwrap_or(1) {
                    None
                } else if q.kind == "nps" {
                    stats::nps(&before).score
                } else {
                    stats::summary(&before.iter().map(|n| *n as f64).collect::<Vec<_>>()).mean
                };
                r.previous = Some((cycle, value));
            }
        }
        out.push(r);
    }
    Ok(SurveyResults {
        response_rate: (invited > 0).then(|| stats::round2(answered as f64 * 100.0 / invited as f64)),
        survey,
        invited,
        answered,
        withheld,
        by_tier,
        questions: out,
    })
}

/// The community's mean share per priority id, from the newest community survey of `cycle` that asked for
/// points.
fn community_weights(conn: &mut DbConn, cycle: &str) -> Result<Vec<(i64, Option<f64>)>, ServiceError> {
    let question: Option<(Question, i32)> = survey_questions::table
        .inner_join(surveys::table)
        .filter(surveys::audience.eq("community"))
        .filter(surveys::cycle.eq(cycle))
        .filter(surveys::status.ne("draft"))
        .filter(survey_questions::kind.eq("points"))
        .order(surveys::id.desc())
        .select((Question::as_select(), surveys::min_group_size))
        .first(conn)
        .optional()?;
    let Some((question, min)) = question else { return Ok(Vec::new()) };
    let lists: Vec<Vec<i64>> = submitted_answers(conn, question.id)?
        .into_iter()
        .filter_map(|(_, a)| if let Answer::List(l) = a { Some(l) } else { None })
        .collect();
    if (lists.len() as i64) < i64::from(min) {
        return Ok(Vec::new());
    }
    let ids = question.priority_ids();
    Ok(ids.iter().copied().zip(stats::mean_shares(ids.len(), &lists)).collect())
}

/// Each priority's share (percent) of the current fiscal year's budgets.
fn current_budget_shares(conn: &mut DbConn) -> Result<Vec<(i64, f64)>, ServiceError> {
    let today = db::now().date();
    let Some(year) = crate::ledger::service::year_of(conn, today)? else { return Ok(Vec::new()) };
    let uses = crate::funding::service::budget_overview(conn, year.id)?;
    let total: i64 = uses.iter().map(|u| u.budget_minor).sum();
    if total == 0 {
        return Ok(Vec::new());
    }
    Ok(uses.iter().map(|u| (u.priority.id, stats::round2(u.budget_minor as f64 * 100.0 / total as f64))).collect())
}

fn csv_string(rows: Vec<Vec<String>>) -> Result<String, ServiceError> {
    let fail = |e: csv::Error| ServiceError::Internal(format!("writing CSV: {e}"));
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.write_record(row.iter().map(|v| crate::domain::csv_cell(v))).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| ServiceError::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// The results as CSV: one row per question and answer option (or statistic), never a single response.
pub fn results_csv(conn: &mut DbConn, id: i64) -> Result<String, ServiceError> {
    let r = results(conn, id)?;
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut rows = vec![vec!["question".to_string(), "kind".into(), "item".into(), "value".into(), "answers".into()]];
    for q in &r.questions {
        let mut row = |item: &str, value: String| {
            rows.push(vec![
                q.question.prompt.clone(),
                q.question.kind.clone(),
                item.to_string(),
                value,
                q.answered.to_string(),
            ])
        };
        for (label, count) in &q.distribution {
            row(&format!("count: {label}"), count.to_string());
        }
        if let Some(s) = &q.summary {
            row("mean", num(s.mean));
            row("median", num(s.median));
        }
        if let Some(n) = &q.nps {
            row("nps", num(n.score));
            row("promoters", n.promoters.to_string());
            row("passives", n.passives.to_string());
            row("detractors", n.detractors.to_string());
        }
        for x in &q.ranking {
            row(&format!("mean rank: {}", x.option), num(x.mean_rank));
            row(&format!("first place %: {}", x.option), num(x.first_share));
        }
        for (title, share, budget, community) in &q.points {
            row(&format!("mean share %: {title}"), num(*share));
            row(&format!("budget share %: {title}"), num(*budget));
            row(&format!("community share %: {title}"), num(*community));
        }
    }
    csv_string(rows)
}

/// Every submitted response of a named survey as CSV, one row per answer. Anonymous surveys have none to give.
pub fn responses_csv(conn: &mut DbConn, id: i64) -> Result<String, ServiceError> {
    let survey = find_survey(conn, id)?;
    if survey.anonymous {
        return Err(ServiceError::Conflict(
            "This survey is anonymous: only its aggregated results are exported.".into(),
        ));
    }
    let rows: Vec<(Option<String>, Option<String>, String, String)> = survey_answers::table
        .inner_join(survey_responses::table)
        .inner_join(survey_questions::table)
        .left_join(users::table.on(users::id.nullable().eq(survey_responses::user_id)))
        .left_join(members::table.on(members::id.nullable().eq(survey_responses::member_id)))
        .filter(survey_responses::survey_id.eq(id))
        .filter(survey_responses::status.eq("submitted"))
        .order((members::name.nullable(), survey_questions::position))
        .select((
            members::name.nullable(),
            users::display_name.nullable(),
            survey_questions::prompt,
            survey_answers::value,
        ))
        .load(conn)?;
    let mut out = vec![vec!["organization".to_string(), "person".into(), "question".into(), "answer".into()]];
    out.extend(
        rows.into_iter().map(|(org, person, q, v)| vec![org.unwrap_or_default(), person.unwrap_or_default(), q, v]),
    );
    csv_string(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_directly_equal_answers_read_as_json() {
        for stored in [
            "4",
            "-3",
            "0",
            "10",
            "[]",
            "[1,2,3]",
            "[ 2, 0 ]",
            "[40,60]",
            "\"a text\"",
            "\"4\"",
            "\"[1]\"",
            "4.5",
            "+4",
            "[1,,2]",
            "[\"a\"]",
            "[1.5]",
            "null",
            "",
            "{\"a\":1}",
            " 7",
            "9223372036854775807",
            // Found by the fuzzer (fuzz/fuzz_targets/survey_answers.rs): the fast path read these, serde not.
            "-0",
            "00",
            "-01",
            "[01]",
            "[-0]",
            "[\u{a0}1]",
            "[1\u{2028}]",
            "[\t1,\r\n2 ]",
            "-9223372036854775808",
            "9223372036854775808",
        ] {
            let direct = parse_answer(stored);
            let json: Option<Answer> = serde_json::from_str(stored).ok();
            assert_eq!(direct, json, "{stored:?}");
        }
    }
}
