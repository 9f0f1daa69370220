//! HTML pages of accounts: sign-in, second factor, password reset, invitations, the account page, API
//! tokens, two-factor setup, and the admin's user pages.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::context::PageContext;
use super::model::{ApiToken, Identity, Role, Session, TokenScope, UserStatus};
use super::password::Hasher;
use super::service::{self, InviteInput, MailSite, RequestMeta, SignedIn, TokenInput, UserRow};
use super::session::{cookie, removal_cookie, session_cookie_name, SessionPolicy};
use super::totp;
use crate::config::Config;
use crate::db::Db;
use crate::domain::{FieldError, ServiceError};
use crate::locale::Shown;
use crate::web::flash::{redirect, see_other};
use crate::web::forms::{form_errors, FormErrors, FormFields};
use crate::web::{render, render_status, AppError, Layout};

fn meta(req: &HttpRequest) -> RequestMeta {
    RequestMeta {
        ip: super::session::client_ip(req),
        user_agent: req.headers().get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_string),
    }
}

fn mail_site(ctx: &PageContext, config: &Config) -> MailSite {
    MailSite { site_name: ctx.site.name.clone(), base_url: config.base_url.clone() }
}

/// Redirects to `location` with the new session's cookie.
fn signed_in_redirect(location: &str, token: String, https: bool) -> HttpResponse {
    let mut res = see_other(location);
    let _ = res.add_cookie(&cookie(session_cookie_name(https), token, https, None));
    res
}

/// Where to go after sign-in: a path on this site, or the home page. Only visible ASCII is kept (no control
/// characters, whitespace or backslashes, which browsers read as slashes), so the value is always a valid
/// `Location` header; and neither the value nor its percent-decoded path may begin like a scheme-relative
/// URL (`//host`, `/\host`, `/%2F/host`), hold an encoded control character, space or backslash, or name a
/// scheme, so it never leaves the site.
pub fn safe_next(next: &str) -> &str {
    fn local(path: &str) -> bool {
        path.starts_with('/') && !path.starts_with("//") && !path.contains('\\')
    }
    let visible = !next.is_empty() && next.len() <= 2048 && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    // The path decoded (the query may carry any encoded text: it stays encoded in the header).
    let path = next.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_decode(path);
    let decoded_ok =
        decoded.as_deref().is_some_and(|d| local(d) && !d.chars().any(|c| c.is_control() || c.is_whitespace()));
    if visible && local(next) && decoded_ok {
        next
    } else {
        "/"
    }
}

/// `%XX` sequences decoded (as bytes, then UTF-8); `None` when the result is not text or a `%` is not followed
/// by two hex digits.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------------------
// Sign in and out

#[derive(Template)]
#[template(path = "accounts/sign_in.html")]
struct SignInPage {
    layout: Layout,
    email: String,
    next: String,
    errors: FormErrors,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

pub async fn sign_in_form(ctx: PageContext, query: web::Query<NextQuery>) -> Result<HttpResponse, AppError> {
    if ctx.identity.as_ref().is_some_and(|i| !i.awaiting_second_factor()) {
        return Ok(see_other(safe_next(&query.next)));
    }
    render(&SignInPage {
        layout: ctx.layout("Sign in"),
        email: String::new(),
        next: query.next.clone(),
        errors: FormErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn sign_in(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    hasher: web::Data<Hasher>,
    config: web::Data<Config>,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let https = config.is_https();
    // Where to go next is settled before anything is written, and is always a valid header.
    let next = safe_next(&form.next).to_string();
    let previous = req.cookie(session_cookie_name(https)).map(|c| c.value().to_string());
    let policy = SessionPolicy::from_config(&config);
    match service::sign_in(&db, &hasher, &form.email, &form.password, &meta(&req), policy, previous).await {
        Ok(SignedIn::Session { token }) => Ok(signed_in_redirect(&next, token, https)),
        Ok(SignedIn::SecondFactorNeeded { token }) => {
            let location = format!("/sign-in/two-factor?next={}", crate::web::url_encode(&next));
            Ok(signed_in_redirect(&location, token, https))
        }
        Err(e) => {
            let errors = form_errors(e)?;
            let page = SignInPage { layout: ctx.layout("Sign in"), email: form.email, next: form.next, errors };
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/second_factor.html")]
struct SecondFactorPage {
    layout: Layout,
    next: String,
    errors: FormErrors,
}

/// The pending session of someone who gave a right password and has a second factor to give.
fn pending_session(ctx: &PageContext) -> Option<String> {
    ctx.identity.as_ref().filter(|i| i.awaiting_second_factor()).and_then(|i| i.session_hash().map(str::to_string))
}

pub async fn second_factor_form(ctx: PageContext, query: web::Query<NextQuery>) -> Result<HttpResponse, AppError> {
    if pending_session(&ctx).is_none() {
        return Ok(see_other("/sign-in"));
    }
    render(&SecondFactorPage {
        layout: ctx.layout("Two-factor sign-in"),
        next: query.next.clone(),
        errors: FormErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

pub async fn second_factor(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let Some(session_hash) = pending_session(&ctx) else { return Ok(see_other("/sign-in")) };
    let form = form.into_inner();
    let next = safe_next(&form.next).to_string();
    let (meta, policy, code) = (meta(&req), SessionPolicy::from_config(&config), form.code.clone());
    let result = db.run(move |conn| service::complete_second_factor(conn, &session_hash, &code, &meta, policy)).await;
    match result {
        Ok(token) => Ok(signed_in_redirect(&next, token, config.is_https())),
        Err(e) => {
            let errors = form_errors(e)?;
            let page = SecondFactorPage { layout: ctx.layout("Two-factor sign-in"), next: form.next, errors };
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn sign_out(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
) -> Result<HttpResponse, AppError> {
    let https = config.is_https();
    if let Some(identity) = ctx.identity.clone() {
        let meta = meta(&req);
        if identity.awaiting_second_factor() {
            let hash = identity.session_hash().unwrap_or_default().to_string();
            db.run(move |conn| service::abandon_pending_session(conn, &hash)).await?;
        } else {
            db.run(move |conn| service::sign_out(conn, &identity, &meta)).await?;
        }
    }
    let mut res = redirect("/sign-in", "info", "You are signed out.", https);
    let _ = res.add_cookie(&removal_cookie(session_cookie_name(https), https));
    Ok(res)
}

// ---------------------------------------------------------------------------------------------------------
// Password reset and invitations

#[derive(Template)]
#[template(path = "accounts/forgot.html")]
struct ForgotPage {
    layout: Layout,
    email: String,
    sent: bool,
    errors: FormErrors,
}

pub async fn forgot_form(ctx: PageContext) -> Result<HttpResponse, AppError> {
    render(&ForgotPage {
        layout: ctx.layout("Forgot your password?"),
        email: String::new(),
        sent: false,
        errors: FormErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

pub async fn forgot(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: web::Form<EmailForm>,
) -> Result<HttpResponse, AppError> {
    let email = form.into_inner().email;
    let (site, meta, submitted) = (mail_site(&ctx, &config), meta(&req), email.clone());
    let result = db.run(move |conn| service::request_password_reset(conn, &submitted, &site, &meta)).await;
    let layout = ctx.layout("Forgot your password?");
    match result {
        Ok(()) => render(&ForgotPage { layout, email, sent: true, errors: FormErrors::default() }),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&ForgotPage { layout, email, sent: false, errors }, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/set_password.html")]
struct SetPasswordPage {
    layout: Layout,
    heading: &'static str,
    intro: String,
    action: String,
    ask_name: bool,
    display_name: String,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "accounts/link_invalid.html")]
struct LinkInvalidPage {
    layout: Layout,
    message: String,
    retry_href: &'static str,
    retry_label: &'static str,
}

fn link_invalid(
    ctx: &PageContext,
    e: ServiceError,
    retry_href: &'static str,
    retry_label: &'static str,
) -> Result<HttpResponse, AppError> {
    let errors = form_errors(e)?;
    let message = errors.get("token").unwrap_or("This link cannot be used.").to_string();
    let page = LinkInvalidPage { layout: ctx.layout("This link cannot be used"), message, retry_href, retry_label };
    render_status(&page, StatusCode::GONE)
}

pub async fn reset_form(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (token, meta) = (token.into_inner(), meta(&req));
    let lookup = token.clone();
    match db.run(move |conn| service::reset_target(conn, &lookup, &meta)).await {
        Ok(user) => render(&SetPasswordPage {
            layout: ctx.layout("Choose a new password"),
            heading: "Choose a new password",
            intro: format!("For {}. You will sign in again afterwards, everywhere.", user.email),
            action: format!("/password/reset/{token}"),
            ask_name: false,
            display_name: String::new(),
            errors: FormErrors::default(),
        }),
        Err(e) => link_invalid(&ctx, e, "/password/forgot", "Ask for a new link"),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    #[serde(default)]
    display_name: String,
}

fn confirm_matches(form: &PasswordForm) -> Result<(), ServiceError> {
    if form.password != form.password_confirm {
        return Err(ServiceError::invalid("password_confirm", "The two passwords are not the same."));
    }
    Ok(())
}

pub async fn reset(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    hasher: web::Data<Hasher>,
    config: web::Data<Config>,
    token: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let (token, form) = (token.into_inner(), form.into_inner());
    let result = match confirm_matches(&form) {
        Ok(()) => service::reset_password(&db, &hasher, &token, &form.password, &meta(&req)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            Ok(redirect("/sign-in", "success", "Your password is changed. Sign in with it now.", config.is_https()))
        }
        Err(e) => {
            let errors = form_errors(e)?;
            if errors.get("token").is_some() {
                return link_invalid(
                    &ctx,
                    ServiceError::Validation(errors.0),
                    "/password/forgot",
                    "Ask for a new link",
                );
            }
            let page = SetPasswordPage {
                layout: ctx.layout("Choose a new password"),
                heading: "Choose a new password",
                intro: "You will sign in again afterwards, everywhere.".into(),
                action: format!("/password/reset/{token}"),
                ask_name: false,
                display_name: String::new(),
                errors,
            };
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn invitation_form(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (token, meta) = (token.into_inner(), meta(&req));
    let lookup = token.clone();
    match db.run(move |conn| service::invitation(conn, &lookup, &meta)).await {
        Ok(user) => render(&SetPasswordPage {
            layout: ctx.layout("Welcome"),
            heading: "Welcome: set your password",
            intro: format!("Your account is {}. Choose a password to finish.", user.email),
            action: format!("/invitation/{token}"),
            ask_name: true,
            display_name: user.display_name,
            errors: FormErrors::default(),
        }),
        Err(e) => link_invalid(&ctx, e, "/sign-in", "Go to sign-in"),
    }
}

pub async fn accept_invitation(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    hasher: web::Data<Hasher>,
    config: web::Data<Config>,
    token: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let (token, form) = (token.into_inner(), form.into_inner());
    let policy = SessionPolicy::from_config(&config);
    let result = match confirm_matches(&form) {
        Ok(()) => {
            service::accept_invitation(&db, &hasher, &token, &form.display_name, &form.password, &meta(&req), policy)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(session) => {
            let mut res = redirect("/", "success", "Welcome! Your account is ready.", config.is_https());
            let https = config.is_https();
            let _ = res.add_cookie(&cookie(session_cookie_name(https), session, https, None));
            Ok(res)
        }
        Err(e) => {
            let errors = form_errors(e)?;
            if errors.get("token").is_some() {
                return link_invalid(&ctx, ServiceError::Validation(errors.0), "/sign-in", "Go to sign-in");
            }
            let page = SetPasswordPage {
                layout: ctx.layout("Welcome"),
                heading: "Welcome: set your password",
                intro: "Choose a password to finish.".into(),
                action: format!("/invitation/{token}"),
                ask_name: true,
                display_name: form.display_name,
                errors,
            };
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The account page

#[derive(Template)]
#[template(path = "accounts/account.html")]
struct AccountPage {
    layout: Layout,
    identity: Identity,
    sessions: Vec<Session>,
    current_session: String,
    errors: FormErrors,
}

impl AccountPage {
    fn time_zones(&self) -> impl Iterator<Item = &'static str> {
        crate::locale::time_zones()
    }
}

async fn account_page(ctx: &PageContext, db: &Db, errors: FormErrors) -> Result<AccountPage, AppError> {
    let identity = ctx.user()?.clone();
    let user_id = identity.user_id;
    let sessions = db.run(move |conn| service::list_sessions(conn, user_id)).await?;
    Ok(AccountPage {
        layout: ctx.layout("Your account"),
        current_session: identity.session_hash().unwrap_or_default().to_string(),
        identity,
        sessions,
        errors,
    })
}

pub async fn account(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&account_page(&ctx, &db, FormErrors::default()).await?)
}

pub async fn set_time_zone(
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (user_id, zone) = (ctx.user()?.user_id, form.get("time_zone").to_string());
    match db.run(move |conn| service::set_time_zone(conn, user_id, &zone)).await {
        Ok(()) => Ok(redirect("/account", "success", "Times are now shown in your time zone.", config.is_https())),
        Err(e) => render_status(&account_page(&ctx, &db, form_errors(e)?).await?, StatusCode::UNPROCESSABLE_ENTITY),
    }
}

#[derive(Deserialize)]
pub struct ChangePasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

pub async fn change_password(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    hasher: web::Data<Hasher>,
    config: web::Data<Config>,
    form: web::Form<ChangePasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let identity = ctx.user()?.clone();
    let result = if form.new_password != form.new_password_confirm {
        Err(ServiceError::invalid("new_password_confirm", "The two new passwords are not the same."))
    } else {
        let policy = SessionPolicy::from_config(&config);
        service::change_password(
            &db,
            &hasher,
            &identity,
            &form.current_password,
            &form.new_password,
            &meta(&req),
            policy,
        )
        .await
    };
    match result {
        Ok(token) => {
            let https = config.is_https();
            let mut res =
                redirect("/account", "success", "Your password is changed; other devices are signed out.", https);
            let _ = res.add_cookie(&cookie(session_cookie_name(https), token, https, None));
            Ok(res)
        }
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&account_page(&ctx, &db, errors).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn sign_out_everywhere(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
) -> Result<HttpResponse, AppError> {
    let (identity, meta) = (ctx.user()?.clone(), meta(&req));
    db.run(move |conn| service::sign_out_everywhere(conn, &identity, &meta)).await?;
    let https = config.is_https();
    let mut res = redirect("/sign-in", "info", "You are signed out on every device.", https);
    let _ = res.add_cookie(&removal_cookie(session_cookie_name(https), https));
    Ok(res)
}

// ---------------------------------------------------------------------------------------------------------
// Two-factor setup

#[derive(Template)]
#[template(path = "accounts/two_factor.html")]
struct TwoFactorPage {
    layout: Layout,
    enabled: bool,
    required: bool,
    secret: String,
    qr_svg: String,
    codes_left: i64,
    errors: FormErrors,
}

fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build()
            .replace("<?xml version=\"1.0\" standalone=\"yes\"?>", ""),
        Err(_) => String::new(),
    }
}

fn two_factor_required(ctx: &PageContext, identity: &Identity) -> bool {
    ctx.site.require_two_factor && identity.has_any(service::TWO_FACTOR_ROLES)
}

async fn two_factor_page(ctx: &PageContext, db: &Db, errors: FormErrors) -> Result<TwoFactorPage, AppError> {
    let identity = ctx.user()?.clone();
    let required = two_factor_required(ctx, &identity);
    let issuer = ctx.site.name.clone();
    let (enabled, secret, codes_left) = db
        .run(move |conn| {
            if identity.has_two_factor {
                return Ok::<_, ServiceError>((
                    true,
                    String::new(),
                    service::recovery_codes_left(conn, identity.user_id)?,
                ));
            }
            Ok((false, service::begin_two_factor(conn, &identity)?, 0))
        })
        .await?;
    let email = ctx.user()?.email.clone();
    let qr = if enabled { String::new() } else { qr_svg(&totp::provisioning_uri(&secret, &issuer, &email)) };
    let mut layout = ctx.layout("Two-factor sign-in");
    layout = layout.crumb("Your account", "/account");
    if required && !enabled {
        layout.flash.get_or_insert(crate::web::flash::Flash {
            kind: "info",
            message: "The foundation asks treasurers and admins to use two-factor sign-in. Set it up to continue."
                .into(),
        });
    }
    Ok(TwoFactorPage { layout, enabled, required, secret, qr_svg: qr, codes_left, errors })
}

pub async fn two_factor(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&two_factor_page(&ctx, &db, FormErrors::default()).await?)
}

#[derive(Template)]
#[template(path = "accounts/recovery_codes.html")]
struct RecoveryCodesPage {
    layout: Layout,
    codes: Vec<String>,
}

pub async fn confirm_two_factor(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let (identity, meta, code) = (ctx.user()?.clone(), meta(&req), form.into_inner().code);
    match db.run(move |conn| service::confirm_two_factor(conn, &identity, &code, &meta)).await {
        Ok(codes) => {
            let layout = ctx.layout("Your recovery codes").crumb("Your account", "/account");
            let mut res = render(&RecoveryCodesPage { layout, codes })?;
            res.headers_mut()
                .insert(actix_web::http::header::CACHE_CONTROL, "no-store".parse().map_err(AppError::internal)?);
            Ok(res)
        }
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&two_factor_page(&ctx, &db, errors).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Deserialize)]
pub struct ConfirmPasswordForm {
    #[serde(default)]
    password: String,
}

pub async fn disable_two_factor(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    hasher: web::Data<Hasher>,
    config: web::Data<Config>,
    form: web::Form<ConfirmPasswordForm>,
) -> Result<HttpResponse, AppError> {
    let identity = ctx.user()?.clone();
    let required = two_factor_required(&ctx, &identity);
    let result =
        service::disable_two_factor(&db, &hasher, &identity, &form.into_inner().password, required, &meta(&req)).await;
    match result {
        Ok(()) => Ok(redirect("/account", "success", "Two-factor sign-in is off.", config.is_https())),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&two_factor_page(&ctx, &db, errors).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// API tokens

#[derive(Template)]
#[template(path = "accounts/tokens.html")]
struct TokensPage {
    layout: Layout,
    tokens: Vec<ApiToken>,
    created: Option<String>,
    token_name: String,
    token_scope: String,
    token_expires_on: String,
    errors: FormErrors,
}

async fn tokens_page(
    ctx: &PageContext,
    db: &Db,
    created: Option<String>,
    form: TokenForm,
    errors: FormErrors,
) -> Result<TokensPage, AppError> {
    let user_id = ctx.user()?.user_id;
    let tokens = db.run(move |conn| service::list_api_tokens(conn, user_id)).await?;
    let layout = ctx.layout("API tokens").crumb("Your account", "/account");
    let token_scope = if form.scope.is_empty() { TokenScope::Read.as_str().to_string() } else { form.scope };
    Ok(TokensPage {
        layout,
        tokens,
        created,
        token_name: form.name,
        token_scope,
        token_expires_on: form.expires_on,
        errors,
    })
}

pub async fn tokens(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    render(&tokens_page(&ctx, &db, None, TokenForm::default(), FormErrors::default()).await?)
}

#[derive(Deserialize, Default)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    expires_on: String,
    #[serde(default)]
    password: String,
}

/// The token a form asks for, or the fields it gets wrong.
fn token_input(form: &TokenForm) -> Result<TokenInput, ServiceError> {
    let mut errors = Vec::new();
    let scope = TokenScope::parse(&form.scope)
        .ok_or(())
        .map_err(|_| errors.push(FieldError::new("scope", "Choose read only, or read and write.")))
        .ok();
    let expires_on = match form.expires_on.trim() {
        "" => None,
        raw => crate::domain::parse_date(raw, "expires_on", &mut errors),
    };
    match scope {
        Some(scope) if errors.is_empty() => Ok(TokenInput { name: form.name.clone(), scope, expires_on }),
        _ => Err(ServiceError::Validation(errors)),
    }
}

pub async fn create_token(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    hasher: web::Data<Hasher>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let (identity, meta, mut form) = (ctx.user()?.clone(), meta(&req), form.into_inner());
    let password = std::mem::take(&mut form.password);
    let result = match token_input(&form) {
        Ok(input) => service::create_api_token(&db, &hasher, &identity, &password, &input, &meta).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((_, plain)) => {
            let page = tokens_page(&ctx, &db, Some(plain), TokenForm::default(), FormErrors::default()).await?;
            let mut res = render(&page)?;
            res.headers_mut()
                .insert(actix_web::http::header::CACHE_CONTROL, "no-store".parse().map_err(AppError::internal)?);
            Ok(res)
        }
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&tokens_page(&ctx, &db, None, form, errors).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn revoke_token(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (identity, meta, id) = (ctx.user()?.clone(), meta(&req), id.into_inner());
    db.run(move |conn| service::revoke_api_token(conn, &identity, id, &meta)).await?;
    Ok(redirect("/account/tokens", "success", "The token is revoked.", config.is_https()))
}

// ---------------------------------------------------------------------------------------------------------
// Admin: users

#[derive(Template)]
#[template(path = "accounts/admin_users.html")]
struct UsersPage {
    layout: Layout,
    rows: Vec<UserRow>,
    q: String,
    status: String,
    role: String,
    page: i64,
    pages: i64,
    total: i64,
    roles: [Role; 4],
}

#[derive(Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    page: Option<i64>,
}

pub async fn users(
    ctx: PageContext,
    db: web::Data<Db>,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let status = UserStatus::parse(&query.status);
    let role = Role::parse(&query.role);
    let page = query.page.unwrap_or(1).max(1);
    let q = query.q.chars().take(200).collect::<String>();
    let search = q.clone();
    let (rows, total) = db.run(move |conn| service::list_users(conn, &search, status, role, page)).await?;
    render(&UsersPage {
        layout: ctx.layout("Users"),
        rows,
        q,
        status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        role: role.map(|r| r.as_str().to_string()).unwrap_or_default(),
        page,
        pages: ((total + service::USERS_PAGE_SIZE - 1) / service::USERS_PAGE_SIZE).max(1),
        total,
        roles: Role::ALL,
    })
}

#[derive(Template)]
#[template(path = "accounts/admin_invite.html")]
struct InvitePage {
    layout: Layout,
    email: String,
    display_name: String,
    chosen: Vec<Role>,
    member_id: Option<i64>,
    members: Vec<(i64, String)>,
    roles: [Role; 4],
    errors: FormErrors,
}

pub async fn invite_form(ctx: PageContext, db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let members = db.run(service::member_choices).await?;
    render(&InvitePage {
        layout: ctx.layout("Invite someone").crumb("Users", "/admin/users"),
        email: String::new(),
        display_name: String::new(),
        chosen: Vec::new(),
        member_id: None,
        members,
        roles: Role::ALL,
        errors: FormErrors::default(),
    })
}

/// Roles and organization as a form submits them; an unknown role is an error, not ignored.
fn parse_roles(fields: &FormFields) -> Result<(Vec<Role>, Option<i64>), ServiceError> {
    let mut roles = Vec::new();
    for raw in fields.all("roles") {
        match Role::parse(raw) {
            Some(role) => roles.push(role),
            None => return Err(ServiceError::invalid("roles", format!("'{raw}' is not a role."))),
        }
    }
    let member_id = match fields.get("member_id").trim() {
        "" => None,
        raw => Some(
            raw.parse::<i64>()
                .map_err(|_| ServiceError::invalid("member_id", "Choose an organization from the list."))?,
        ),
    };
    Ok((roles, member_id))
}

pub async fn invite(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    fields: FormFields,
) -> Result<HttpResponse, AppError> {
    let identity = ctx.user()?.clone();
    let parsed = parse_roles(&fields);
    let (roles, member_id) = parsed.as_ref().cloned().unwrap_or_default();
    let input = InviteInput {
        email: fields.get("email").to_string(),
        display_name: fields.get("display_name").to_string(),
        roles: roles.clone(),
        member_id,
    };
    let (site, meta, submitted) = (mail_site(&ctx, &config), meta(&req), input.clone());
    let result = match parsed {
        Ok(_) => {
            db.run(move |conn| {
                service::invite_user(conn, crate::audit::Actor::User(identity.user_id), &submitted, Some(&site), &meta)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((user, _)) => Ok(redirect(
            &format!("/admin/users/{}", user.id),
            "success",
            &format!("Invitation sent to {}.", user.email),
            config.is_https(),
        )),
        Err(e) => {
            let errors = form_errors(e)?;
            let members = db.run(service::member_choices).await?;
            let page = InvitePage {
                layout: ctx.layout("Invite someone").crumb("Users", "/admin/users"),
                email: input.email,
                display_name: input.display_name,
                chosen: roles,
                member_id,
                members,
                roles: Role::ALL,
                errors,
            };
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/admin_user.html")]
struct UserPage {
    layout: Layout,
    row: UserRow,
    members: Vec<(i64, String)>,
    roles: [Role; 4],
    chosen: Vec<Role>,
    member_id: Option<i64>,
    is_self: bool,
    errors: FormErrors,
}

async fn user_page(
    ctx: &PageContext,
    db: &Db,
    user_id: i64,
    chosen: Option<(Vec<Role>, Option<i64>)>,
    errors: FormErrors,
) -> Result<UserPage, AppError> {
    let (row, members) = db
        .run(move |conn| Ok::<_, ServiceError>((service::user_row(conn, user_id)?, service::member_choices(conn)?)))
        .await?;
    let (chosen, member_id) = chosen.unwrap_or_else(|| (row.roles.clone(), row.user.member_id));
    Ok(UserPage {
        layout: ctx.layout(row.user.display_name.clone()).crumb("Users", "/admin/users"),
        is_self: ctx.user()?.user_id == user_id,
        row,
        members,
        roles: Role::ALL,
        chosen,
        member_id,
        errors,
    })
}

pub async fn user(ctx: PageContext, db: web::Data<Db>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    render(&user_page(&ctx, &db, id.into_inner(), None, FormErrors::default()).await?)
}

pub async fn set_roles(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    fields: FormFields,
) -> Result<HttpResponse, AppError> {
    let (user_id, actor, meta) = (id.into_inner(), ctx.user()?.user_id, meta(&req));
    let parsed = parse_roles(&fields);
    let chosen = parsed.as_ref().cloned().unwrap_or_default();
    let result = match parsed {
        Ok((roles, member_id)) => {
            db.run(move |conn| service::set_roles(conn, actor, user_id, &roles, member_id, &meta)).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(redirect(&format!("/admin/users/{user_id}"), "success", "Roles saved.", config.is_https())),
        Err(e) => {
            let errors = form_errors(e)?;
            render_status(&user_page(&ctx, &db, user_id, Some(chosen), errors).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

pub async fn disable_user(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
    form: FormFields,
) -> Result<HttpResponse, AppError> {
    let (user_id, actor, meta) = (id.into_inner(), ctx.user()?.user_id, meta(&req));
    if let Err(ServiceError::Validation(errors)) = form.confirmed("disabling the account") {
        let message = crate::domain::messages(errors);
        return Ok(redirect(&format!("/admin/users/{user_id}"), "error", &message, config.is_https()));
    }
    db.run(move |conn| service::disable_user(conn, actor, user_id, &meta)).await?;
    Ok(redirect(
        &format!("/admin/users/{user_id}"),
        "success",
        "The account is disabled and signed out everywhere.",
        config.is_https(),
    ))
}

pub async fn enable_user(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (user_id, actor, meta) = (id.into_inner(), ctx.user()?.user_id, meta(&req));
    db.run(move |conn| service::enable_user(conn, actor, user_id, &meta)).await?;
    Ok(redirect(&format!("/admin/users/{user_id}"), "success", "The account is enabled.", config.is_https()))
}

pub async fn resend_invitation(
    req: HttpRequest,
    ctx: PageContext,
    db: web::Data<Db>,
    config: web::Data<Config>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (user_id, actor, meta, site) = (id.into_inner(), ctx.user()?.user_id, meta(&req), mail_site(&ctx, &config));
    db.run(move |conn| service::resend_invitation(conn, actor, user_id, &site, &meta)).await?;
    Ok(redirect(&format!("/admin/users/{user_id}"), "success", "A new invitation is on its way.", config.is_https()))
}
