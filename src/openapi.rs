//! The API's OpenAPI document, generated from the handlers' annotations, and a docs page drawn from it on
//! the server (no script, nothing fetched from elsewhere).

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde_json::Value;
use utoipa::openapi::path::{Operation as DocOperation, ParameterIn};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::OpenApi;

use crate::accounts::{Access, PageContext, RouteSpec, Router};
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
        crate::accounts::api::create_token,
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

/// The document as served, built once at start: the handlers' annotations, completed with the error answers
/// that every operation can give (from who may call it, as the route table says, and from its shape), so
/// that a client reading the document meets no status code it does not list.
pub struct ApiDocument {
    json: web::Bytes,
    value: Value,
}

impl ApiDocument {
    pub fn new(routes: &[RouteSpec]) -> Result<Self, serde_json::Error> {
        let mut doc = ApiDoc::openapi();
        for (path, item) in doc.paths.paths.iter_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::PUT, &mut item.put),
                (Method::PATCH, &mut item.patch),
                (Method::DELETE, &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else { continue };
                // A documented operation that is no route is caught by the tests (`tests/integration/pages.rs`);
                // here it is treated as public, which adds no answers to it.
                let access = routes
                    .iter()
                    .find(|r| r.path == path.as_str() && r.method == method)
                    .map(|r| r.access)
                    .unwrap_or(Access::Public);
                complete_error_answers(operation, access);
            }
        }
        let mut value = serde_json::to_value(&doc)?;
        describe_times(&mut value);
        Ok(Self { json: serde_json::to_vec(&value)?.into(), value })
    }
}

/// Times are stored and sent in UTC without an offset (`2026-11-26T14:07:53.852455`, chrono's `NaiveDateTime`),
/// which is not the RFC 3339 `date-time` utoipa calls them; the document says what they really are.
fn describe_times(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str) == Some("date-time") {
                map.remove("format");
                map.insert(
                    "pattern".into(),
                    Value::from(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$"),
                );
                if !map.contains_key("description") {
                    map.insert("description".into(), Value::from("A time in UTC, ISO 8601 without an offset."));
                }
            }
            map.values_mut().for_each(describe_times);
        }
        Value::Array(items) => items.iter_mut().for_each(describe_times),
        _ => {}
    }
}

/// Adds the error answers an operation can give and that its annotation leaves out, and names the media type
/// errors really have (`application/problem+json`, written by `web::error::render_errors`).
fn complete_error_answers(operation: &mut DocOperation, access: Access) {
    for (status, answer) in operation.responses.responses.iter_mut() {
        if let (true, RefOr::T(answer)) = (status.starts_with('4') || status.starts_with('5'), answer) {
            if let Some(content) = answer.content.shift_remove("application/json") {
                answer.content.insert(PROBLEM_JSON.into(), content);
            }
        }
    }
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_path_parameter = parameters.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let has_body = operation.request_body.is_some();
    let signed_in = access != Access::Public;
    let answers = [
        ("400", !parameters.is_empty() || has_body, "The path, query or body cannot be read (the detail says why)"),
        ("401", signed_in, "No valid API token was given"),
        ("403", matches!(access, Access::Roles(_)), "The caller's roles do not allow this"),
        ("404", has_path_parameter, "Nothing with this id exists, or the caller may not see it"),
        ("413", has_body, "The body is larger than the API accepts"),
        ("415", has_body, "The body is not application/json"),
        ("422", has_body, "The input is not valid; `errors` names each field and what is wrong"),
        ("503", signed_in || has_body, "The database is out of reach; try again shortly"),
    ];
    for (status, applies, description) in answers {
        if applies {
            operation.responses.responses.entry(status.into()).or_insert_with(|| RefOr::T(problem(description)));
        }
    }
}

const PROBLEM_JSON: &str = "application/problem+json";

fn problem(description: &str) -> Response {
    let mut response = Response::new(description);
    response.content.insert(PROBLEM_JSON.into(), Content::new(Some(Ref::from_schema_name("Problem"))));
    response
}

pub fn routes(r: &mut Router) {
    r.get("/api/v1/openapi.json", Access::Public, openapi_json).get("/api/docs", Access::Public, docs);
}

/// This OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub async fn openapi_json(doc: web::Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(doc.json.clone())
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

async fn docs(ctx: PageContext, doc: web::Data<ApiDocument>) -> Result<HttpResponse, AppError> {
    let doc = &doc.value;
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
