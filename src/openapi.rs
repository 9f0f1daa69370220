//! The API's OpenAPI document, generated from the handlers' annotations, and a docs page drawn from it on
//! the server (no script, nothing fetched from elsewhere).

use actix_web::HttpResponse;
use askama::Template;
use serde_json::Value;
use utoipa::OpenApi;

use crate::accounts::{Access, PageContext, Router};
use crate::web::{render, AppError, Layout};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Steward API",
        description = "Members, dues, funding and outcomes of an open-source foundation. Errors are \
                       `application/problem+json` documents (see the Problem schema).",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::health::healthz,
        crate::health::readyz,
        openapi_json,
        crate::accounts::api::me,
        crate::accounts::api::list_users,
        crate::accounts::api::invite,
        crate::accounts::api::get_user,
        crate::accounts::api::update_user,
        crate::accounts::api::list_tokens,
        crate::accounts::api::revoke_token,
        crate::audit::pages::list_api,
        crate::members::api::list,
        crate::members::api::get,
        crate::members::api::create,
        crate::members::api::update,
        crate::members::api::tiers,
        crate::members::api::create_tier,
        crate::dues::api::list,
        crate::dues::api::get,
        crate::dues::api::record_payment,
        crate::ledger::api::fiscal_years,
        crate::ledger::api::entries,
        crate::ledger::api::balances,
        crate::ledger::api::adjust,
        crate::ledger::api::transfer,
        crate::ledger::api::reverse,
        crate::ledger::api::exchange_rates,
        crate::ledger::api::record_rate,
        crate::funding::api::priorities,
        crate::funding::api::create_priority,
        crate::funding::api::update_priority,
        crate::funding::api::budgets,
        crate::funding::api::set_budget,
        crate::funding::api::list_initiatives,
        crate::funding::api::create_initiative,
        crate::funding::api::get_initiative,
        crate::funding::api::update_initiative,
        crate::funding::api::change_status,
        crate::funding::api::list_allocations,
        crate::funding::api::allocate,
        crate::funding::api::change_allocation,
        crate::disbursements::api::rule,
        crate::disbursements::api::set_rule,
        crate::disbursements::api::list,
        crate::disbursements::api::create,
        crate::disbursements::api::get,
        crate::disbursements::api::approve,
        crate::disbursements::api::reject,
        crate::disbursements::api::pay,
        crate::treasury::api::dashboard,
        crate::metrics::api::list,
        crate::metrics::api::create,
        crate::metrics::api::get,
        crate::metrics::api::update,
        crate::metrics::api::record,
        crate::metrics::api::record_bulk,
        crate::metrics::api::correct,
        crate::surveys::api::list,
        crate::surveys::api::create,
        crate::surveys::api::get,
        crate::surveys::api::add_question,
        crate::surveys::api::open,
        crate::surveys::api::close,
        crate::surveys::api::results,
        crate::surveys::api::answer,
        crate::surveys::api::answer_community,
        crate::feedback::api::list,
        crate::feedback::api::send,
        crate::feedback::api::answer,
        crate::reports::api::list,
        crate::reports::api::schedule,
        crate::reports::api::set_schedule,
        crate::reports::api::show,
        crate::community::api::repositories,
        crate::community::api::create_repository,
        crate::community::api::runs,
        crate::community::api::series,
    ),
    components(schemas(crate::web::error::ProblemSchema, crate::domain::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Who is calling, users and roles (admins), personal API tokens"),
        (name = "audit", description = "The append-only audit log (admins)"),
        (name = "members", description = "Member organizations and membership tiers"),
        (name = "dues", description = "Dues invoices and their payments"),
        (name = "ledger", description = "Fiscal years, the append-only ledger, balances and exchange rates"),
        (name = "funding", description = "Priorities, budgets, initiatives, allocations, disbursements and the treasury figures"),
        (name = "metrics", description = "Outcome metrics, their observations, progress and the money spent on them"),
        (name = "community", description = "Community health: tracked repositories, collector runs, series computed from repository data"),
        (name = "surveys", description = "Member surveys: drafting, invitations, answers by personal link, results"),
        (name = "reports", description = "Progress reports: the archive, each report's frozen content, the schedule"),
        (name = "operations", description = "Health and readiness for operators"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer scheme the operations refer to: personal API tokens from the account page.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal API token (stw_...) created on the account page"))
                    .build(),
            ),
        );
    }
}

pub fn routes(r: &mut Router) {
    r.get("/api/v1/openapi.json", Access::Public, openapi_json).get("/api/docs", Access::Public, docs);
}

/// This OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// One operation as the docs page lists it.
struct Operation {
    method: String,
    path: String,
    summary: String,
    description: String,
    parameters: Vec<(String, String, bool, String)>,
    request_body: Option<String>,
    responses: Vec<(String, String)>,
}

struct Section {
    tag: String,
    description: String,
    operations: Vec<Operation>,
}

#[derive(Template)]
#[template(path = "openapi/docs.html")]
struct DocsPage {
    layout: Layout,
    title: String,
    version: String,
    description: String,
    sections: Vec<Section>,
}

async fn docs(ctx: PageContext) -> Result<HttpResponse, AppError> {
    let doc = serde_json::to_value(ApiDoc::openapi()).map_err(AppError::internal)?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let mut sections: Vec<Section> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Section { tag: text(t, "name"), description: text(t, "description"), operations: Vec::new() })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (text(p, "name"), text(p, "in"), p["required"].as_bool().unwrap_or(false), text(p, "description"))
                })
                .collect();
            let request_body =
                op["requestBody"]["content"].as_object().map(|c| c.keys().cloned().collect::<Vec<_>>().join(", "));
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(code, r)| (code.clone(), text(r, "description")))
                .collect();
            let operation = Operation {
                method: method.to_string(),
                path: path.clone(),
                summary: text(op, "summary"),
                description: text(op, "description"),
                parameters,
                request_body,
                responses,
            };
            let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
            match sections.iter_mut().find(|s| s.tag == tag) {
                Some(section) => section.operations.push(operation),
                None => sections.push(Section { tag, description: String::new(), operations: vec![operation] }),
            }
        }
    }
    sections.retain(|s| !s.operations.is_empty());
    render(&DocsPage {
        layout: ctx.layout("API"),
        title: text(&doc["info"], "title"),
        version: text(&doc["info"], "version"),
        description: text(&doc["info"], "description"),
        sections,
    })
}
