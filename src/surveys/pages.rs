//! Pages for surveys: the council's list, drafting and results; the answer page behind a personal link.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::model::{Answer, Question, Survey, KINDS};
use super::service::{self, AnswerForm, MailSettings, QuestionInput, SurveyInput, SurveyResults, SurveyRow};
use crate::accounts::PageContext;
use crate::config::{Config, SigningKey};
use crate::db::Db;
use crate::domain::ServiceError;
use crate::locale::Shown;
use crate::settings::SiteCache;
use crate::web::flash::redirect;
use crate::web::forms::{form_errors, FormErrors, FormFields};
use crate::web::{render, render_status, AppError, Layout};

#[derive(Template)]
#[template(path = "surveys/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<SurveyRow>,
}

pub async fn list(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let rows = db.run(service::list_surveys).await?;
    render(&ListPage { layout: ctx.layout("Surveys"), rows })
}

#[derive(Template)]
#[template(path = "surveys/new.html")]
struct NewPage {
    layout: Layout,
    input: SurveyInput,
    members: Vec<(i64, String)>,
    errors: FormErrors,
}

impl NewPage {
    fn targeted(&self, id: impl std::borrow::Borrow<i64>) -> bool {
        self.input.targets.iter().any(|t| *t == id.borrow().to_string())
    }
}

async fn new_page(ctx: &PageContext, db: &Db, input: SurveyInput, errors: FormErrors) -> Result<NewPage, AppError> {
    let members = db
        .run(|conn| {
            use crate::db::schema::members;
            use diesel::prelude::*;
            Ok::<_, ServiceError>(
                members::table
                    .filter(members::status.eq("active"))
                    .order(members::name)
                    .select((members::id, members::name))
                    .load(conn)?,
            )
        })
        .await?;
    Ok(NewPage { layout: ctx.layout("New survey").crumb("Surveys", "/surveys"), input, members, errors })
}

pub async fn new_form(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let now = crate::db::now();
    let input = SurveyInput {
        opens_at: now.format("%Y-%m-%dT%H:%M").to_string(),
        closes_at: (now + chrono::Duration::days(21)).format("%Y-%m-%dT%H:%M").to_string(),
        audience: "per_organization".into(),
        anonymous: true,
        min_group_size: "5".into(),
        reminder_days: "7, 2".into(),
        ..Default::default()
    };
    render(&new_page(&ctx, &db, input, FormErrors::default()).await?)
}

pub async fn create(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.user()?.user_id;
    let input = SurveyInput {
        title: form.get("title").to_string(),
        introduction: form.get("introduction").to_string(),
        cycle: form.get("cycle").to_string(),
        opens_at: form.get("opens_at").to_string(),
        closes_at: form.get("closes_at").to_string(),
        audience: form.get("audience").to_string(),
        anonymous: form.get("anonymous") == "on",
        min_group_size: form.get("min_group_size").to_string(),
        reminder_days: form.get("reminder_days").to_string(),
        targets: form.all("targets").into_iter().map(str::to_string).collect(),
    };
    let i = input.clone();
    match db.run(move |conn| service::create_survey(conn, actor, &i)).await {
        Ok(s) => Ok(redirect(
            &format!("/surveys/{}", s.id),
            "success",
            "The survey is drafted: add its questions.",
            config.is_https(),
        )),
        Err(e) => render_status(&new_page(&ctx, &db, input, form_errors(e)?).await?, StatusCode::UNPROCESSABLE_ENTITY),
    }
}

#[derive(Template)]
#[template(path = "surveys/show.html")]
struct ShowPage {
    layout: Layout,
    survey: Survey,
    questions: Vec<Question>,
    earlier: Vec<(i64, String)>,
    kinds: &'static [(&'static str, &'static str)],
    notice: &'static str,
    form: QuestionInput,
    errors: FormErrors,
}

async fn show_page(
    ctx: &PageContext,
    db: &Db,
    id: i64,
    form: QuestionInput,
    errors: FormErrors,
) -> Result<ShowPage, AppError> {
    let (survey, questions, all) = db
        .run(move |conn| {
            Ok::<_, ServiceError>((
                service::find_survey(conn, id)?,
                service::questions(conn, id)?,
                service::list_surveys(conn)?,
            ))
        })
        .await?;
    let earlier = all
        .into_iter()
        .filter(|r| r.survey.id != id && r.questions > 0)
        .map(|r| (r.survey.id, format!("{} ({})", r.survey.title, r.survey.cycle)))
        .collect();
    Ok(ShowPage {
        layout: ctx.layout(survey.title.clone()).crumb("Surveys", "/surveys"),
        notice: service::privacy_notice(&survey),
        survey,
        questions,
        earlier,
        kinds: KINDS,
        form,
        errors,
    })
}

pub async fn show(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    render(
        &show_page(
            &ctx,
            &db,
            id.into_inner(),
            QuestionInput { kind: "likert".into(), required: true, ..Default::default() },
            FormErrors::default(),
        )
        .await?,
    )
}

pub async fn add_question(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let input = QuestionInput {
        kind: form.get("kind").to_string(),
        prompt: form.get("prompt").to_string(),
        required: form.get("required") == "on",
        options: form.get("options").to_string(),
    };
    let i = input.clone();
    match db.run(move |conn| service::add_question(conn, actor, id, &i)).await {
        Ok(_) => Ok(redirect(&format!("/surveys/{id}"), "success", "The question is added.", config.is_https())),
        Err(e) => {
            render_status(&show_page(&ctx, &db, id, input, form_errors(e)?).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn remove_question(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let survey = db.run(move |conn| service::remove_question(conn, actor, id)).await?;
    Ok(redirect(&format!("/surveys/{survey}"), "success", "The question is removed.", config.is_https()))
}

pub async fn copy_questions(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let from: i64 =
        form.get("from").parse().map_err(|_| AppError::BadRequest("Choose the survey to copy from.".into()))?;
    let n = db.run(move |conn| service::copy_questions(conn, actor, id, from)).await?;
    Ok(redirect(
        &format!("/surveys/{id}"),
        "success",
        &format!("{n} questions copied; their results will be compared."),
        config.is_https(),
    ))
}

#[allow(clippy::too_many_arguments)]
pub async fn open(
    ctx: PageContext,
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
    config: web::Data<Config>,
    key: web::Data<SigningKey>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let settings = MailSettings {
        site_name: site.get(&db).await?.name,
        base_url: config.base_url.clone(),
        key: key.get_ref().clone(),
    };
    let (actor, id) = (ctx.user()?.user_id, id.into_inner());
    let n = db.run(move |conn| service::open_survey(conn, actor, id, &settings)).await?;
    Ok(redirect(
        &format!("/surveys/{id}"),
        "success",
        &format!("The survey is open: {n} people are invited by email."),
        config.is_https(),
    ))
}

pub async fn close(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    key: web::Data<SigningKey>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (actor, id, key) = (ctx.user()?.user_id, id.into_inner(), key.get_ref().clone());
    let n = db.run(move |conn| service::close_survey(conn, &key, actor, id)).await?;
    Ok(redirect(
        &format!("/surveys/{id}/results"),
        "success",
        &format!("The survey is closed; {n} metric value(s) recorded."),
        config.is_https(),
    ))
}

#[derive(Template)]
#[template(path = "surveys/results.html")]
struct ResultsPage {
    layout: Layout,
    r: SurveyResults,
}

impl ResultsPage {
    fn num(&self, v: impl std::borrow::Borrow<Option<f64>>) -> String {
        v.borrow().map(|v| format!("{v}")).unwrap_or_else(|| "—".into())
    }

    /// Width (0-300) of a bar for `count` of `total`.
    fn bar(&self, count: impl std::borrow::Borrow<usize>, total: impl std::borrow::Borrow<usize>) -> usize {
        (*count.borrow() * 300).checked_div(*total.borrow()).unwrap_or(0)
    }
}

pub async fn results(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let r = db.run(move |conn| service::results(conn, id)).await?;
    render(&ResultsPage {
        layout: ctx
            .layout(format!("Results: {}", r.survey.title))
            .crumb("Surveys", "/surveys")
            .crumb(r.survey.title.clone(), format!("/surveys/{id}")),
        r,
    })
}

// ---------------------------------------------------------------------------------------------- answering

#[derive(Template)]
#[template(path = "surveys/answer.html")]
struct AnswerPage {
    layout: Layout,
    token: String,
    f: AnswerForm,
    notice: &'static str,
    open: bool,
    /// What was typed, to show again after an error.
    typed: BTreeMap<i64, Vec<String>>,
    errors: FormErrors,
}

/// What the question fields of an answer form read, shared by the personal-link and community pages.
trait AnswerFields {
    fn form(&self) -> &AnswerForm;
    fn typed(&self) -> &BTreeMap<i64, Vec<String>>;
    fn field_errors(&self) -> &FormErrors;

    /// The value(s) to show for a question: what was typed, else what was saved.
    fn value(&self, q: &Question, i: impl std::borrow::Borrow<usize>) -> String {
        let i = *i.borrow();
        if let Some(v) = self.typed().get(&q.id) {
            return v.get(i).cloned().unwrap_or_default();
        }
        match (self.form().answers.get(&q.id), q.kind.as_str()) {
            (Some(Answer::Number(n)), "number") => crate::metrics::model::plain(*n),
            (Some(Answer::Number(n)), _) if i == 0 => n.to_string(),
            (Some(Answer::Text(t)), _) if i == 0 => t.clone(),
            (Some(Answer::List(l)), "ranking") => {
                l.iter().position(|o| *o == i as i64).map(|p| (p + 1).to_string()).unwrap_or_default()
            }
            (Some(Answer::List(l)), "points") => l.get(i).map(|v| v.to_string()).unwrap_or_default(),
            _ => String::new(),
        }
    }

    fn chosen(&self, q: &Question, option: impl std::borrow::Borrow<usize>) -> bool {
        let option = *option.borrow() as i64;
        if let Some(v) = self.typed().get(&q.id) {
            return v.iter().any(|s| s == &option.to_string());
        }
        match self.form().answers.get(&q.id) {
            Some(Answer::Number(n)) => *n == option,
            Some(Answer::List(l)) => l.contains(&option),
            _ => false,
        }
    }

    fn priority(&self, id: impl std::borrow::Borrow<i64>) -> String {
        self.form().priorities.iter().find(|p| p.0 == *id.borrow()).map(|p| p.1.clone()).unwrap_or_default()
    }

    fn error(&self, q: &Question) -> Option<&str> {
        self.field_errors().get(&format!("q{}", q.id))
    }
}

impl AnswerFields for AnswerPage {
    fn form(&self) -> &AnswerForm {
        &self.f
    }
    fn typed(&self) -> &BTreeMap<i64, Vec<String>> {
        &self.typed
    }
    fn field_errors(&self) -> &FormErrors {
        &self.errors
    }
}

async fn answer_page(
    ctx: &PageContext,
    db: &Db,
    key: &SigningKey,
    token: String,
    typed: BTreeMap<i64, Vec<String>>,
    errors: FormErrors,
) -> Result<AnswerPage, AppError> {
    let (t, key) = (token.clone(), key.clone());
    let f = db.run(move |conn| service::answer_form(conn, &key, &t)).await?;
    Ok(AnswerPage {
        layout: ctx.layout(f.survey.title.clone()),
        notice: service::privacy_notice(&f.survey),
        open: f.survey.accepts_answers(crate::db::now()) && f.status.as_deref() != Some("counted"),
        token,
        f,
        typed,
        errors,
    })
}

pub async fn answer_form(
    ctx: PageContext,
    db: web::Data<Db>,
    key: web::Data<SigningKey>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    render(&answer_page(&ctx, &db, &key, token.into_inner(), BTreeMap::new(), FormErrors::default()).await?)
}

/// Form fields `q<ID>` (repeated for multiple choice, ranking and points) as answers per question.
fn raw_answers(form: &FormFields) -> BTreeMap<i64, Vec<String>> {
    let mut out: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (name, value) in &form.0 {
        if let Some(id) = name.strip_prefix('q').and_then(|rest| rest.parse::<i64>().ok()) {
            out.entry(id).or_default().push(value.clone());
        }
    }
    out
}

pub async fn answer(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    key: web::Data<SigningKey>,
    token: web::Path<String>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let raw = raw_answers(&form);
    let submit = form.get("action") == "submit";
    let (t, r, k) = (token.clone(), raw.clone(), key.get_ref().clone());
    match db.run(move |conn| service::answer(conn, &k, &t, &r, submit)).await {
        Ok(status) => {
            let message = if status == "submitted" {
                "Thank you: your answers are in. You can change them with this link until the survey closes."
            } else {
                "Your draft is saved. Come back with this link to finish it."
            };
            Ok(redirect(&format!("/s/{token}"), "success", message, config.is_https()))
        }
        Err(e) => render_status(
            &answer_page(&ctx, &db, &key, token, raw, form_errors(e)?).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

// ------------------------------------------------------------------------------------ a representative's

#[derive(Template)]
#[template(path = "surveys/mine.html")]
struct MinePage {
    layout: Layout,
    surveys: Vec<service::MySurvey>,
}

pub async fn mine(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let user = ctx.user()?.user_id;
    let surveys = db.run(move |conn| service::my_surveys(conn, user)).await?;
    render(&MinePage { layout: ctx.layout("Surveys to answer"), surveys })
}

pub async fn resend(
    ctx: PageContext,
    db: web::Data<Db>,
    site: web::Data<SiteCache>,
    config: web::Data<Config>,
    key: web::Data<SigningKey>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let settings = MailSettings {
        site_name: site.get(&db).await?.name,
        base_url: config.base_url.clone(),
        key: key.get_ref().clone(),
    };
    let (user, id) = (ctx.user()?.user_id, id.into_inner());
    match db.run(move |conn| service::renew_link(conn, user, id, service::LinkDelivery::Email(&settings))).await {
        Ok(_) => Ok(redirect(
            "/my-surveys",
            "success",
            "A new personal link is on its way to your email; the old one no longer works.",
            config.is_https(),
        )),
        Err(ServiceError::Conflict(message)) => Ok(redirect("/my-surveys", "error", &message, config.is_https())),
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------- community

#[derive(Template)]
#[template(path = "surveys/community.html")]
struct CommunityPage {
    layout: Layout,
    token: String,
    f: AnswerForm,
    count: i64,
    open: bool,
    notice: &'static str,
    typed: BTreeMap<i64, Vec<String>>,
    errors: FormErrors,
}

impl AnswerFields for CommunityPage {
    fn form(&self) -> &AnswerForm {
        &self.f
    }
    fn typed(&self) -> &BTreeMap<i64, Vec<String>> {
        &self.typed
    }
    fn field_errors(&self) -> &FormErrors {
        &self.errors
    }
}

async fn community_page(
    ctx: &PageContext,
    db: &Db,
    token: String,
    typed: BTreeMap<i64, Vec<String>>,
    errors: FormErrors,
) -> Result<CommunityPage, AppError> {
    let t = token.clone();
    let (f, count) = db.run(move |conn| service::community_form(conn, &t)).await?;
    Ok(CommunityPage {
        layout: ctx.layout(f.survey.title.clone()),
        notice: "This survey is anonymous: your answers are stored without your name, address or the time of day, \
                 only with the day they were sent. To keep the results fair, a few answers a day are accepted from one \
                 network address, which is kept (hashed) for that day only.",
        open: f.survey.accepts_answers(crate::db::now()),
        token,
        f,
        count,
        typed,
        errors,
    })
}

pub async fn community_form(
    ctx: PageContext,
    db: web::Data<Db>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    render(&community_page(&ctx, &db, token.into_inner(), BTreeMap::new(), FormErrors::default()).await?)
}

pub async fn community_answer(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    key: web::Data<SigningKey>,
    token: web::Path<String>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let raw = raw_answers(&form);
    let (t, r, client, k) = (token.clone(), raw.clone(), ctx.ip.clone().unwrap_or_default(), key.get_ref().clone());
    match db.run(move |conn| service::answer_community(conn, &k, &t, &client, &r)).await {
        Ok(()) => Ok(redirect(&format!("/c/{token}"), "success", "Thank you: your answers are in.", config.is_https())),
        Err(e) => render_status(
            &community_page(&ctx, &db, token, raw, form_errors(e)?).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

pub async fn results_csv(db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let csv = db.run(move |conn| service::results_csv(conn, id)).await?;
    Ok(crate::web::csv_download(&format!("survey-{id}-results.csv"), csv))
}

pub async fn responses_csv(db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let csv = db.run(move |conn| service::responses_csv(conn, id)).await?;
    Ok(crate::web::csv_download(&format!("survey-{id}-responses.csv"), csv))
}

/// Answer now, from the representative's page: a fresh personal link, opened at once.
pub async fn answer_now(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (user, id) = (ctx.user()?.user_id, id.into_inner());
    match db.run(move |conn| service::renew_link(conn, user, id, service::LinkDelivery::Here)).await {
        Ok(token) => Ok(HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, format!("/s/{token}")))
            .finish()),
        Err(ServiceError::Conflict(message)) => Ok(redirect("/my-surveys", "error", &message, config.is_https())),
        Err(other) => Err(other.into()),
    }
}
