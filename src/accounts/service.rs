//! Accounts: sign-in and sessions, invitations and password resets, roles, two-factor sign-in and API
//! tokens. Every rule lives here; pages, the API and the CLI call these functions.

use chrono::{Duration as ChronoDuration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde_json::json;

use super::model::{ApiToken, Identity, NewUser, Role, Session, TokenScope, User, UserStatus};
use super::password::{check_policy, Hasher, Verified};
use super::rate_limit;
use super::session::{roles_of, SessionPolicy};
use super::tokens::{hash_token, new_api_token, new_recovery_code, normalize_recovery_code, random_token};
use super::totp;
use crate::audit::{self, Actor, Changes, Event};
use crate::db::schema::{
    api_tokens, members, one_time_tokens, recovery_codes, sessions, sign_in_failures, user_roles, users,
};
use crate::db::{self, Db, DbConn};
use crate::domain::{FieldError, ServiceError};
use crate::mail::{self, Category, EmailContent, EmailContext, Outgoing};

pub const INVITE_VALID_HOURS: i64 = 72;
pub const RESET_VALID_MINUTES: i64 = 60;
const MAX_EMAIL: usize = 254;
const MAX_NAME: usize = 120;

/// Where a request came from, for sessions and the audit log.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What emails need to know about the site.
#[derive(Clone, Debug)]
pub struct MailSite {
    pub site_name: String,
    pub base_url: String,
}

impl MailSite {
    fn context(&self) -> EmailContext {
        EmailContext { site_name: self.site_name.clone(), base_url: self.base_url.clone(), unsubscribe_url: None }
    }
}

fn hash_failure(e: super::password::HashError) -> ServiceError {
    ServiceError::Internal(e.to_string())
}

fn render_failure(e: askama::Error) -> ServiceError {
    ServiceError::Internal(format!("email template: {e}"))
}

/// Trims and lower-cases an email address, refusing what cannot be one.
pub fn normalize_email(raw: &str, field: &str) -> Result<String, ServiceError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(ServiceError::invalid(field, "Enter an email address."));
    }
    if email.len() > MAX_EMAIL || !validator::ValidateEmail::validate_email(&email) {
        return Err(ServiceError::invalid(field, "Enter an email address like name@example.org."));
    }
    Ok(email)
}

fn clean_name(raw: &str, field: &str) -> Result<String, ServiceError> {
    if let Some(problem) = crate::domain::hidden_characters(raw) {
        return Err(ServiceError::invalid(field, problem));
    }
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ServiceError::invalid(field, format!("Enter a name of 1 to {MAX_NAME} characters.")));
    }
    Ok(name)
}

pub fn find_user(conn: &mut DbConn, id: i64) -> Result<User, ServiceError> {
    users::table.find(id).select(User::as_select()).first(conn).optional()?.ok_or(ServiceError::NotFound("user"))
}

fn find_by_email(conn: &mut DbConn, email: &str) -> Result<Option<User>, ServiceError> {
    Ok(users::table.filter(users::email.eq(email)).select(User::as_select()).first(conn).optional()?)
}

// ---------------------------------------------------------------------------------------------------------
// Sessions

/// Opens a session and returns the cookie value (the only place the raw id exists).
fn create_session(
    conn: &mut DbConn,
    user_id: i64,
    second_factor_pending: bool,
    meta: &RequestMeta,
    policy: SessionPolicy,
) -> Result<String, ServiceError> {
    let token = random_token();
    let now = db::now();
    let absolute = ChronoDuration::from_std(policy.absolute).unwrap_or_else(|_| ChronoDuration::hours(12));
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(hash_token(&token)),
            sessions::user_id.eq(user_id),
            sessions::csrf_token.eq(random_token()),
            sessions::second_factor_pending.eq(second_factor_pending),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(now + absolute),
            sessions::ip.eq(meta.ip.as_deref()),
            sessions::user_agent.eq(meta.user_agent.as_deref().map(|ua| ua.chars().take(300).collect::<String>())),
        ))
        .execute(conn)?;
    Ok(token)
}

fn end_all_sessions(conn: &mut DbConn, user_id: i64) -> Result<usize, ServiceError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}

/// The result of a correct password.
#[derive(Debug)]
pub enum SignedIn {
    /// A full session.
    Session { token: String },
    /// The password was right; the second factor comes next on this (pending) session.
    SecondFactorNeeded { token: String },
}

const LOCK_AFTER_FAILURES: i32 = 5;

/// How long a key stays locked after `failures` failures: 30 s doubling, at most 15 minutes.
pub fn lock_duration(failures: i32) -> Option<ChronoDuration> {
    if failures < LOCK_AFTER_FAILURES {
        return None;
    }
    let doublings = (failures - LOCK_AFTER_FAILURES).min(10) as u32;
    Some(ChronoDuration::seconds((30i64 << doublings).min(15 * 60)))
}

fn locked_for(conn: &mut DbConn, key: &str) -> Result<Option<u64>, ServiceError> {
    let until: Option<Option<NaiveDateTime>> =
        sign_in_failures::table.find(key).select(sign_in_failures::locked_until).first(conn).optional()?;
    let now = db::now();
    Ok(until.flatten().filter(|u| *u > now).map(|u| (u - now).num_seconds().max(1) as u64))
}

/// Counts an attempt for `key` *before* its secret is checked, in its own short transaction, and answers
/// whether it may be checked at all. The count is one atomic step: the row is created if missing, then
/// incremented only while the key is not locked (the increment takes the row's lock, so parallel attempts
/// queue on it and each sees the ones before). The attempt that reaches the limit locks the key at once,
/// before its secret is checked, so however many attempts arrive together, from however many addresses, at
/// most `LOCK_AFTER_FAILURES` secrets are checked, and one more per lock that runs out. A right secret clears
/// the count ([`clear_failures`]); a wrong one leaves it counted.
fn count_attempt(conn: &mut DbConn, key: &str) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let now = db::now();
        crate::on_backend!(conn, |c| diesel::insert_into(sign_in_failures::table)
            .values((
                sign_in_failures::key.eq(key),
                sign_in_failures::failures.eq(0),
                sign_in_failures::last_failure_at.eq(now),
                sign_in_failures::locked_until.eq(None::<NaiveDateTime>),
            ))
            .on_conflict(sign_in_failures::key)
            .do_nothing()
            .execute(c))?;
        let counted = diesel::update(
            sign_in_failures::table
                .find(key)
                .filter(sign_in_failures::locked_until.is_null().or(sign_in_failures::locked_until.le(now))),
        )
        .set((sign_in_failures::failures.eq(sign_in_failures::failures + 1), sign_in_failures::last_failure_at.eq(now)))
        .execute(conn)?;
        if counted == 0 {
            let retry_after = locked_for(conn, key)?.unwrap_or(1);
            return Err(ServiceError::RateLimited { retry_after });
        }
        let attempts: i32 = sign_in_failures::table.find(key).select(sign_in_failures::failures).first(conn)?;
        if let Some(lock) = lock_duration(attempts) {
            diesel::update(sign_in_failures::table.find(key))
                .set(sign_in_failures::locked_until.eq(now + lock))
                .execute(conn)?;
        }
        Ok(())
    })
}

fn clear_failures(conn: &mut DbConn, key: &str) -> Result<(), ServiceError> {
    diesel::delete(sign_in_failures::table.find(key)).execute(conn)?;
    Ok(())
}

fn wrong_credentials() -> ServiceError {
    ServiceError::Validation(vec![FieldError::new("password", "The email address or password is not right.")])
}

/// Signs in with email and password. Unknown addresses and wrong passwords get the same answer after the
/// same work; repeated failures for one address lock it with growing back-off; one address per IP is also
/// rate limited. `previous_session` (the browser's old session, if any) is ended: a new id at sign-in.
pub async fn sign_in(
    db: &Db,
    hasher: &Hasher,
    email: &str,
    password: &str,
    meta: &RequestMeta,
    policy: SessionPolicy,
    previous_session: Option<String>,
) -> Result<SignedIn, ServiceError> {
    let email = email.trim().to_lowercase();
    if email.is_empty() || password.is_empty() {
        return Err(ServiceError::Validation(vec![FieldError::new("email", "Enter your email address and password.")]));
    }
    let ip = meta.ip.clone().unwrap_or_default();
    let key = format!("password:{}", hash_token(&email));
    let lookup_key = key.clone();
    let user = db
        .run(move |conn| {
            rate_limit::hit(conn, rate_limit::sign_in_per_ip(policy.sign_ins_per_ip), &ip)?;
            count_attempt(conn, &lookup_key)?;
            find_by_email(conn, &email)
        })
        .await?;
    let phc = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = hasher.verify(password.to_string(), phc).await.map_err(hash_failure)?;
    let meta = meta.clone();
    db.run(move |conn| {
        let user = match (verified, user) {
            (Verified::No, user) | (_, user @ None) => {
                // Counted (and locked, if this was one too many) before the password was checked.
                audit::record(
                    conn,
                    Event::new(Actor::Anonymous, "session.sign_in_failed")
                        .target("user", user.as_ref().map(|u| u.id.to_string()).unwrap_or_default())
                        .ip(meta.ip.as_deref()),
                )?;
                return Err(wrong_credentials());
            }
            (verified, Some(user)) => {
                if let Verified::YesRehashed(new_hash) = verified {
                    diesel::update(users::table.find(user.id)).set(users::password_hash.eq(new_hash)).execute(conn)?;
                }
                user
            }
        };
        if user.status() != UserStatus::Active {
            return Err(ServiceError::Validation(vec![FieldError::new(
                "email",
                "This account is disabled. Ask an admin of the foundation to enable it.",
            )]));
        }
        db::write_transaction(conn, |conn| {
            clear_failures(conn, &key)?;
            if let Some(old) = &previous_session {
                diesel::delete(sessions::table.find(hash_token(old))).execute(conn)?;
            }
            let pending = user.has_two_factor();
            let token = create_session(conn, user.id, pending, &meta, policy)?;
            if pending {
                audit::record(
                    conn,
                    Event::new(Actor::User(user.id), "session.password_verified")
                        .target("user", user.id)
                        .ip(meta.ip.as_deref()),
                )?;
                return Ok(SignedIn::SecondFactorNeeded { token });
            }
            diesel::update(users::table.find(user.id)).set(users::last_login_at.eq(db::now())).execute(conn)?;
            audit::record(
                conn,
                Event::new(Actor::User(user.id), "session.signed_in").target("user", user.id).ip(meta.ip.as_deref()),
            )?;
            Ok(SignedIn::Session { token })
        })
    })
    .await
}

/// Completes a pending sign-in with a TOTP code or a recovery code, and issues a new session id.
pub fn complete_second_factor(
    conn: &mut DbConn,
    session_hash: &str,
    code: &str,
    meta: &RequestMeta,
    policy: SessionPolicy,
) -> Result<String, ServiceError> {
    let (session, user): (Session, User) = sessions::table
        .inner_join(users::table)
        .filter(sessions::id_hash.eq(session_hash))
        .filter(sessions::second_factor_pending.eq(true))
        .select((Session::as_select(), User::as_select()))
        .first(conn)
        .optional()?
        .ok_or(ServiceError::Forbidden)?;
    let key = format!("second-factor:{}", user.id);
    count_attempt(conn, &key)?;
    let accepted = db::write_transaction(conn, |conn| {
        let how = check_second_factor(conn, &user, code)?;
        if let Some(how) = how {
            diesel::delete(sessions::table.find(&session.id_hash)).execute(conn)?;
            let token = create_session(conn, user.id, false, meta, policy)?;
            diesel::update(users::table.find(user.id)).set(users::last_login_at.eq(db::now())).execute(conn)?;
            clear_failures(conn, &key)?;
            audit::record(
                conn,
                Event::new(Actor::User(user.id), "session.signed_in")
                    .target("user", user.id)
                    .ip(meta.ip.as_deref())
                    .details(json!({ "second_factor": how })),
            )?;
            return Ok(Some(token));
        }
        Ok::<_, ServiceError>(None)
    })?;
    match accepted {
        Some(token) => Ok(token),
        None => {
            audit::record(
                conn,
                Event::new(Actor::User(user.id), "session.second_factor_failed")
                    .target("user", user.id)
                    .ip(meta.ip.as_deref()),
            )?;
            Err(ServiceError::invalid("code", "That code is not right, or was already used. Try the next one."))
        }
    }
}

/// Whether `code` is the current TOTP (not used before) or an unused recovery code; uses it up.
fn check_second_factor(conn: &mut DbConn, user: &User, code: &str) -> Result<Option<&'static str>, ServiceError> {
    let (Some(secret), Some(_)) = (&user.totp_secret, user.totp_enabled_at) else { return Ok(None) };
    let now = db::now().and_utc().timestamp();
    if let Some(step) = totp::matching_step(secret, code, now) {
        if user.totp_last_step.is_some_and(|last| step <= last) {
            return Ok(None);
        }
        diesel::update(users::table.find(user.id)).set(users::totp_last_step.eq(step)).execute(conn)?;
        return Ok(Some("totp"));
    }
    let normalized = normalize_recovery_code(code);
    if normalized.len() != 10 {
        return Ok(None);
    }
    let used = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user.id))
            .filter(recovery_codes::code_hash.eq(hash_token(&normalized)))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(db::now()))
    .execute(conn)?;
    Ok((used == 1).then_some("recovery_code"))
}

pub fn sign_out(conn: &mut DbConn, identity: &Identity, meta: &RequestMeta) -> Result<(), ServiceError> {
    if let Some(hash) = identity.session_hash() {
        diesel::delete(sessions::table.find(hash)).execute(conn)?;
    }
    audit::record(
        conn,
        Event::new(Actor::User(identity.user_id), "session.signed_out")
            .target("user", identity.user_id)
            .ip(meta.ip.as_deref()),
    )
}

/// Ends a pending (password-only) session.
pub fn abandon_pending_session(conn: &mut DbConn, session_hash: &str) -> Result<(), ServiceError> {
    diesel::delete(sessions::table.find(session_hash).filter(sessions::second_factor_pending.eq(true)))
        .execute(conn)?;
    Ok(())
}

/// Ends every session of the user, this one included.
pub fn sign_out_everywhere(conn: &mut DbConn, identity: &Identity, meta: &RequestMeta) -> Result<usize, ServiceError> {
    db::write_transaction(conn, |conn| {
        let ended = end_all_sessions(conn, identity.user_id)?;
        let tokens = revoke_all_api_tokens(conn, identity.user_id)?;
        audit::record(
            conn,
            Event::new(Actor::User(identity.user_id), "session.signed_out_everywhere")
                .target("user", identity.user_id)
                .ip(meta.ip.as_deref())
                .details(json!({ "sessions": ended, "api_tokens": tokens })),
        )?;
        Ok(ended)
    })
}

/// The user's live sessions, newest first.
pub fn list_sessions(conn: &mut DbConn, user_id: i64) -> Result<Vec<Session>, ServiceError> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::second_factor_pending.eq(false))
        .filter(sessions::expires_at.gt(db::now()))
        .order(sessions::last_seen_at.desc())
        .select(Session::as_select())
        .load(conn)?)
}

// ---------------------------------------------------------------------------------------------------------
// Invitations and passwords

/// A new account as an admin enters it.
#[derive(Clone, Debug)]
pub struct InviteInput {
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// Required for member representatives: the organization they represent.
    pub member_id: Option<i64>,
}

pub struct InvitationEmail {
    pub name: String,
    pub inviter: Option<String>,
    pub roles: String,
    pub link: String,
    pub valid_hours: i64,
}
crate::email_templates!(
    InvitationEmail,
    "email/invitation/subject.txt",
    "email/invitation/body.txt",
    "email/invitation/body.html"
);

pub struct PasswordResetEmail {
    pub name: String,
    pub link: String,
    pub valid_minutes: i64,
}
crate::email_templates!(
    PasswordResetEmail,
    "email/password_reset/subject.txt",
    "email/password_reset/body.txt",
    "email/password_reset/body.html"
);

pub struct AccountExistsEmail {
    pub name: String,
    pub inviter: String,
    pub organization: String,
    pub link: String,
}
crate::email_templates!(
    AccountExistsEmail,
    "email/account_exists/subject.txt",
    "email/account_exists/body.txt",
    "email/account_exists/body.html"
);

fn validate_invite(conn: &mut DbConn, input: &InviteInput) -> Result<(String, String), ServiceError> {
    validate_invite_fields(conn, input, true)
}

/// The invitation's fields checked; `check_taken` adds "someone already has this address" (for admins, who
/// see every account anyway).
fn validate_invite_fields(
    conn: &mut DbConn,
    input: &InviteInput,
    check_taken: bool,
) -> Result<(String, String), ServiceError> {
    let mut errors = Vec::new();
    let email = normalize_email(&input.email, "email").map_err(|e| errors.push(e)).ok();
    let name = clean_name(&input.display_name, "display_name").map_err(|e| errors.push(e)).ok();
    if input.roles.is_empty() {
        errors.push(ServiceError::invalid("roles", "Choose at least one role."));
    }
    let rep = input.roles.contains(&Role::MemberRep);
    match (rep, input.member_id) {
        (true, None) => {
            errors.push(ServiceError::invalid("member_id", "Choose the organization this person represents."))
        }
        (true, Some(id)) => {
            let exists: i64 = members::table.filter(members::id.eq(id)).count().get_result(conn)?;
            if exists == 0 {
                errors.push(ServiceError::invalid("member_id", "That organization does not exist."));
            }
        }
        (false, Some(_)) => errors.push(ServiceError::invalid(
            "member_id",
            "Only member representatives belong to an organization; add that role or clear the organization.",
        )),
        (false, None) => {}
    }
    if let (true, Some(email)) = (check_taken, &email) {
        if find_by_email(conn, email)?.is_some() {
            errors.push(ServiceError::invalid("email", "Someone already has an account with this email address."));
        }
    }
    let fields: Vec<FieldError> = errors
        .into_iter()
        .flat_map(|e| match e {
            ServiceError::Validation(f) => f,
            _ => Vec::new(),
        })
        .collect();
    match (email, name) {
        (Some(email), Some(name)) if fields.is_empty() => Ok((email, name)),
        _ => Err(ServiceError::Validation(fields)),
    }
}

fn issue_token(conn: &mut DbConn, user_id: i64, purpose: &str, valid: ChronoDuration) -> Result<String, ServiceError> {
    let token = random_token();
    let now = db::now();
    // A new link replaces any earlier one for the same purpose.
    diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::user_id.eq(user_id))
            .filter(one_time_tokens::purpose.eq(purpose))
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(now))
    .execute(conn)?;
    diesel::insert_into(one_time_tokens::table)
        .values((
            one_time_tokens::token_hash.eq(hash_token(&token)),
            one_time_tokens::purpose.eq(purpose),
            one_time_tokens::user_id.eq(user_id),
            one_time_tokens::created_at.eq(now),
            one_time_tokens::expires_at.eq(now + valid),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The user a valid (unused, unexpired) link of `purpose` belongs to.
fn user_for_token(conn: &mut DbConn, token: &str, purpose: &str) -> Result<(i64, User), ServiceError> {
    let expired_or_used =
        || ServiceError::invalid("token", "This link has expired or was already used. Ask for a new one.");
    let found: Option<(i64, NaiveDateTime, Option<NaiveDateTime>, User)> = one_time_tokens::table
        .inner_join(users::table)
        .filter(one_time_tokens::token_hash.eq(hash_token(token)))
        .filter(one_time_tokens::purpose.eq(purpose))
        .select((one_time_tokens::id, one_time_tokens::expires_at, one_time_tokens::used_at, User::as_select()))
        .first(conn)
        .optional()?;
    match found {
        Some((id, expires_at, None, user)) if expires_at > db::now() => Ok((id, user)),
        Some(_) => Err(expired_or_used()),
        None => Err(expired_or_used()),
    }
}

fn use_token(conn: &mut DbConn, token_id: i64) -> Result<(), ServiceError> {
    let used = diesel::update(one_time_tokens::table.find(token_id).filter(one_time_tokens::used_at.is_null()))
        .set(one_time_tokens::used_at.eq(db::now()))
        .execute(conn)?;
    if used != 1 {
        return Err(ServiceError::invalid("token", "This link was already used. Ask for a new one."));
    }
    Ok(())
}

fn set_roles_rows(conn: &mut DbConn, user_id: i64, roles: &[Role]) -> Result<(), ServiceError> {
    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(user_id))).execute(conn)?;
    let now = db::now();
    for role in roles {
        diesel::insert_into(user_roles::table)
            .values((
                user_roles::user_id.eq(user_id),
                user_roles::role.eq(role.as_str()),
                user_roles::granted_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ")
}

/// Creates an invited account with its roles and a single-use link (valid 72 hours). With `site`, the link
/// is emailed through the outbox in the same transaction; without (the CLI), the caller shows it. Returns
/// the user and the link's token.
pub fn invite_user(
    conn: &mut DbConn,
    actor: Actor,
    input: &InviteInput,
    site: Option<&MailSite>,
    meta: &RequestMeta,
) -> Result<(User, String), ServiceError> {
    if let Actor::User(id) = actor {
        rate_limit::hit(conn, rate_limit::INVITES_PER_ADMIN, &id.to_string())?;
    }
    let mut roles = input.roles.clone();
    roles.sort();
    roles.dedup();
    db::write_transaction(conn, |conn| {
        let (email, name) = validate_invite(conn, input)?;
        let now = db::now();
        let user: User = crate::on_backend!(conn, |c| diesel::insert_into(users::table)
            .values(NewUser {
                email: &email,
                display_name: &name,
                password_hash: None,
                status: UserStatus::Invited.as_str(),
                member_id: input.member_id,
                created_at: now,
                updated_at: now,
            })
            .returning(User::as_returning())
            .get_result(c))?;
        set_roles_rows(conn, user.id, &roles)?;
        let token = issue_token(conn, user.id, "invite", ChronoDuration::hours(INVITE_VALID_HOURS))?;
        if let Some(site) = site {
            let inviter = match actor {
                Actor::User(id) => Some(find_user(conn, id)?.display_name),
                _ => None,
            };
            enqueue_invitation(conn, site, &user, inviter, &roles, &token)?;
        }
        audit::record(
            conn,
            Event::new(actor.clone(), "user.invited").target("user", user.id).ip(meta.ip.as_deref()).details(
                json!({ "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(), "member_id": input.member_id }),
            ),
        )?;
        Ok((user, token))
    })
}

/// Invites a representative of `organization` for someone who may not see every account (a representative,
/// the treasurer). The answer is the same whether the address already has an account or not, so an invitation
/// cannot be used to find out who has one: for an address that has, nothing is created and its owner gets an
/// email instead (an admin can add the organization to their account).
pub fn invite_representative(
    conn: &mut DbConn,
    actor_id: i64,
    input: &InviteInput,
    organization: &str,
    site: &MailSite,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let existing = db::write_transaction(conn, |conn| {
        let (email, _) = validate_invite_fields(conn, input, false)?;
        find_by_email(conn, &email)
    })?;
    let Some(owner) = existing else {
        invite_user(conn, Actor::User(actor_id), input, Some(site), meta)?;
        return Ok(());
    };
    rate_limit::hit(conn, rate_limit::INVITES_PER_ADMIN, &actor_id.to_string())?;
    db::write_transaction(conn, |conn| {
        let inviter = find_user(conn, actor_id)?.display_name;
        let content = AccountExistsEmail {
            name: owner.display_name.clone(),
            inviter,
            organization: organization.to_string(),
            link: format!("{}/sign-in", site.base_url),
        }
        .render(&site.context())
        .map_err(render_failure)?;
        mail::enqueue(
            conn,
            &Outgoing {
                idempotency_key: format!("account-exists:{}:{}", owner.id, random_token()),
                category: Category::Security,
                user_id: Some(owner.id),
                to_address: owner.email.clone(),
                to_name: Some(owner.display_name.clone()),
                content,
            },
        )?;
        audit::record(
            conn,
            Event::new(Actor::User(actor_id), "user.invited_existing")
                .target("user", owner.id)
                .ip(meta.ip.as_deref())
                .details(json!({ "member_id": input.member_id })),
        )
    })
}

fn enqueue_invitation(
    conn: &mut DbConn,
    site: &MailSite,
    user: &User,
    inviter: Option<String>,
    roles: &[Role],
    token: &str,
) -> Result<(), ServiceError> {
    let content = InvitationEmail {
        name: user.display_name.clone(),
        inviter,
        roles: roles_text(roles),
        link: format!("{}/invitation/{token}", site.base_url),
        valid_hours: INVITE_VALID_HOURS,
    }
    .render(&site.context())
    .map_err(render_failure)?;
    mail::enqueue(
        conn,
        &Outgoing {
            idempotency_key: format!("invite:{}:{}", user.id, &hash_token(token)[..16]),
            category: Category::Security,
            user_id: Some(user.id),
            to_address: user.email.clone(),
            to_name: Some(user.display_name.clone()),
            content,
        },
    )?;
    Ok(())
}

/// Sends a fresh invitation link (the old one stops working) to someone who has not accepted yet.
pub fn resend_invitation(
    conn: &mut DbConn,
    actor_id: i64,
    user_id: i64,
    site: &MailSite,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    rate_limit::hit(conn, rate_limit::INVITES_PER_ADMIN, &actor_id.to_string())?;
    db::write_transaction(conn, |conn| {
        let user = find_user(conn, user_id)?;
        if user.status() != UserStatus::Invited {
            return Err(ServiceError::Conflict("This person has already accepted the invitation.".into()));
        }
        let roles = roles_of(conn, user.id)?;
        let token = issue_token(conn, user.id, "invite", ChronoDuration::hours(INVITE_VALID_HOURS))?;
        let inviter = find_user(conn, actor_id)?.display_name;
        enqueue_invitation(conn, site, &user, Some(inviter), &roles, &token)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor_id), "user.invitation_resent").target("user", user.id).ip(meta.ip.as_deref()),
        )
    })
}

/// Who an invitation link is for, if it is still valid (for the set-password page).
pub fn invitation(conn: &mut DbConn, token: &str, meta: &RequestMeta) -> Result<User, ServiceError> {
    rate_limit::hit(conn, rate_limit::TOKEN_LINK_PER_IP, meta.ip.as_deref().unwrap_or_default())?;
    let (_, user) = user_for_token(conn, token, "invite")?;
    if user.status() != UserStatus::Invited {
        return Err(ServiceError::invalid("token", "This invitation was already accepted. Sign in instead."));
    }
    Ok(user)
}

/// Accepts an invitation: sets the name and password, activates the account and signs in.
pub async fn accept_invitation(
    db: &Db,
    hasher: &Hasher,
    token: &str,
    display_name: &str,
    password: &str,
    meta: &RequestMeta,
    policy: SessionPolicy,
) -> Result<String, ServiceError> {
    let lookup = token.to_string();
    let lookup_meta = meta.clone();
    let user = db.run(move |conn| invitation(conn, &lookup, &lookup_meta)).await?;
    let name = clean_name(display_name, "display_name")?;
    if let Some(problem) = check_policy(password, &user.email) {
        return Err(ServiceError::invalid("password", problem));
    }
    let hash = hasher.hash(password.to_string()).await.map_err(hash_failure)?;
    let (token, meta) = (token.to_string(), meta.clone());
    db.run(move |conn| accept_invitation_with_hash(conn, &token, &name, &hash, &meta, policy)).await
}

/// The transaction of [`accept_invitation`], once the password is hashed; returns the new session's cookie
/// value. (The demo seeds its accounts through it.)
pub fn accept_invitation_with_hash(
    conn: &mut DbConn,
    token: &str,
    name: &str,
    hash: &str,
    meta: &RequestMeta,
    policy: SessionPolicy,
) -> Result<String, ServiceError> {
    db::write_transaction(conn, |conn| {
        let (token_id, user) = user_for_token(conn, token, "invite")?;
        use_token(conn, token_id)?;
        let now = db::now();
        diesel::update(users::table.find(user.id))
            .set((
                users::display_name.eq(name),
                users::password_hash.eq(hash),
                users::status.eq(UserStatus::Active.as_str()),
                users::password_changed_at.eq(now),
                users::last_login_at.eq(now),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(user.id), "user.invitation_accepted").target("user", user.id).ip(meta.ip.as_deref()),
        )?;
        create_session(conn, user.id, false, meta, policy)
    })
}

/// Emails a reset link (valid one hour) when an active account has this address. The answer is the same
/// either way, so it tells nobody which addresses have accounts.
pub fn request_password_reset(
    conn: &mut DbConn,
    email: &str,
    site: &MailSite,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let email = normalize_email(email, "email")?;
    rate_limit::hit(conn, rate_limit::RESET_PER_IP, meta.ip.as_deref().unwrap_or_default())?;
    rate_limit::hit(conn, rate_limit::RESET_PER_EMAIL, &hash_token(&email))?;
    db::write_transaction(conn, |conn| {
        let Some(user) = find_by_email(conn, &email)? else { return Ok(()) };
        if user.status() != UserStatus::Active {
            return Ok(());
        }
        let token = issue_token(conn, user.id, "reset", ChronoDuration::minutes(RESET_VALID_MINUTES))?;
        let content = PasswordResetEmail {
            name: user.display_name.clone(),
            link: format!("{}/password/reset/{token}", site.base_url),
            valid_minutes: RESET_VALID_MINUTES,
        }
        .render(&site.context())
        .map_err(render_failure)?;
        mail::enqueue(
            conn,
            &Outgoing {
                idempotency_key: format!("reset:{}:{}", user.id, &hash_token(&token)[..16]),
                category: Category::Security,
                user_id: Some(user.id),
                to_address: user.email.clone(),
                to_name: Some(user.display_name.clone()),
                content,
            },
        )?;
        audit::record(
            conn,
            Event::new(Actor::Anonymous, "user.password_reset_requested")
                .target("user", user.id)
                .ip(meta.ip.as_deref()),
        )
    })
}

/// Who a reset link is for, if it is still valid.
pub fn reset_target(conn: &mut DbConn, token: &str, meta: &RequestMeta) -> Result<User, ServiceError> {
    rate_limit::hit(conn, rate_limit::TOKEN_LINK_PER_IP, meta.ip.as_deref().unwrap_or_default())?;
    Ok(user_for_token(conn, token, "reset")?.1)
}

/// Sets a new password from a reset link; every session of the user ends.
pub async fn reset_password(
    db: &Db,
    hasher: &Hasher,
    token: &str,
    password: &str,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let (lookup, lookup_meta) = (token.to_string(), meta.clone());
    let user = db.run(move |conn| reset_target(conn, &lookup, &lookup_meta)).await?;
    if let Some(problem) = check_policy(password, &user.email) {
        return Err(ServiceError::invalid("password", problem));
    }
    let hash = hasher.hash(password.to_string()).await.map_err(hash_failure)?;
    let (token, meta) = (token.to_string(), meta.clone());
    db.run(move |conn| {
        db::write_transaction(conn, |conn| {
            let (token_id, user) = user_for_token(conn, &token, "reset")?;
            use_token(conn, token_id)?;
            store_new_password(conn, user.id, &hash)?;
            clear_failures(conn, &format!("password:{}", hash_token(&user.email)))?;
            audit::record(
                conn,
                Event::new(Actor::User(user.id), "user.password_reset").target("user", user.id).ip(meta.ip.as_deref()),
            )
        })
    })
    .await
}

fn store_new_password(conn: &mut DbConn, user_id: i64, hash: &str) -> Result<(), ServiceError> {
    let now = db::now();
    diesel::update(users::table.find(user_id))
        .set((users::password_hash.eq(hash), users::password_changed_at.eq(now), users::updated_at.eq(now)))
        .execute(conn)?;
    end_all_sessions(conn, user_id)?;
    revoke_all_api_tokens(conn, user_id)?;
    Ok(())
}

/// Changes the password after checking the current one. Every session ends; the caller gets a new one.
pub async fn change_password(
    db: &Db,
    hasher: &Hasher,
    identity: &Identity,
    current: &str,
    new: &str,
    meta: &RequestMeta,
    policy: SessionPolicy,
) -> Result<String, ServiceError> {
    let user_id = identity.user_id;
    let user = db.run(move |conn| find_user(conn, user_id)).await?;
    if hasher.verify(current.to_string(), user.password_hash.clone()).await.map_err(hash_failure)? == Verified::No {
        return Err(ServiceError::invalid("current_password", "That is not your current password."));
    }
    if let Some(problem) = check_policy(new, &user.email) {
        return Err(ServiceError::invalid("new_password", problem));
    }
    let hash = hasher.hash(new.to_string()).await.map_err(hash_failure)?;
    let meta = meta.clone();
    db.run(move |conn| {
        db::write_transaction(conn, |conn| {
            store_new_password(conn, user_id, &hash)?;
            audit::record(
                conn,
                Event::new(Actor::User(user_id), "user.password_changed")
                    .target("user", user_id)
                    .ip(meta.ip.as_deref()),
            )?;
            create_session(conn, user_id, false, &meta, policy)
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------------------
// Administration

/// A user with what the admin pages show.
#[derive(Clone, Debug)]
pub struct UserRow {
    pub user: User,
    pub roles: Vec<Role>,
    pub member_name: Option<String>,
}

pub const USERS_PAGE_SIZE: i64 = 25;

/// Users matching a search (name or email), status and role, by name; returns the page and the total.
pub fn list_users(
    conn: &mut DbConn,
    search: &str,
    status: Option<UserStatus>,
    role: Option<Role>,
    page: i64,
) -> Result<(Vec<UserRow>, i64), ServiceError> {
    let page = page.max(1);
    let pattern =
        format!("%{}%", search.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let filtered = || {
        let mut q = users::table.left_join(members::table).into_boxed();
        if !search.trim().is_empty() {
            q = q.filter(
                users::email.like(pattern.clone()).escape('\\').or(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "lower(users.display_name) LIKE ",
                )
                .bind::<diesel::sql_types::Text, _>(pattern.clone())
                .sql(" ESCAPE '\\'")),
            );
        }
        if let Some(status) = status {
            q = q.filter(users::status.eq(status.as_str()));
        }
        if let Some(role) = role {
            q = q.filter(
                users::id
                    .eq_any(user_roles::table.filter(user_roles::role.eq(role.as_str())).select(user_roles::user_id)),
            );
        }
        q
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let rows: Vec<(User, Option<String>)> = filtered()
        .order((users::display_name, users::id))
        .limit(USERS_PAGE_SIZE)
        .offset(crate::domain::page_offset(page, USERS_PAGE_SIZE))
        .select((User::as_select(), members::name.nullable()))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|(u, _)| u.id).collect();
    let role_rows: Vec<(i64, String)> = user_roles::table
        .filter(user_roles::user_id.eq_any(&ids))
        .select((user_roles::user_id, user_roles::role))
        .load(conn)?;
    Ok((
        rows.into_iter()
            .map(|(user, member_name)| {
                let mut roles: Vec<Role> =
                    role_rows.iter().filter(|(id, _)| *id == user.id).filter_map(|(_, r)| Role::parse(r)).collect();
                roles.sort();
                UserRow { user, roles, member_name }
            })
            .collect(),
        total,
    ))
}

pub fn user_row(conn: &mut DbConn, user_id: i64) -> Result<UserRow, ServiceError> {
    let user = find_user(conn, user_id)?;
    let roles = roles_of(conn, user_id)?;
    let member_name = match user.member_id {
        Some(id) => members::table.find(id).select(members::name).first(conn).optional()?,
        None => None,
    };
    Ok(UserRow { user, roles, member_name })
}

fn admin_count(conn: &mut DbConn) -> Result<i64, ServiceError> {
    Ok(user_roles::table
        .inner_join(users::table)
        .filter(user_roles::role.eq(Role::Admin.as_str()))
        .filter(users::status.eq(UserStatus::Active.as_str()))
        .count()
        .get_result(conn)?)
}

/// Changes a user's roles (and organization, for representatives). Nobody removes their own admin role, and
/// the last active admin keeps it.
pub fn set_roles(
    conn: &mut DbConn,
    actor_id: i64,
    user_id: i64,
    roles: &[Role],
    member_id: Option<i64>,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    db::write_transaction(conn, |conn| {
        let user = find_user(conn, user_id)?;
        let before = roles_of(conn, user_id)?;
        if roles.is_empty() {
            return Err(ServiceError::invalid("roles", "Choose at least one role, or disable the account."));
        }
        let losing_admin = before.contains(&Role::Admin) && !roles.contains(&Role::Admin);
        if losing_admin && actor_id == user_id {
            return Err(ServiceError::invalid("roles", "You cannot remove your own admin role; ask another admin."));
        }
        if losing_admin && user.status() == UserStatus::Active && admin_count(conn)? <= 1 {
            return Err(ServiceError::invalid("roles", "This is the last admin; make someone else admin first."));
        }
        let rep = roles.contains(&Role::MemberRep);
        let member_id = if rep { member_id } else { None };
        if rep && member_id.is_none() {
            return Err(ServiceError::invalid("member_id", "Choose the organization this person represents."));
        }
        if let Some(id) = member_id {
            if members::table.filter(members::id.eq(id)).count().get_result::<i64>(conn)? == 0 {
                return Err(ServiceError::invalid("member_id", "That organization does not exist."));
            }
        }
        set_roles_rows(conn, user_id, &roles)?;
        diesel::update(users::table.find(user_id))
            .set((users::member_id.eq(member_id), users::updated_at.eq(db::now())))
            .execute(conn)?;
        // Someone who no longer represents an organization is no longer its primary or billing contact (an
        // organization's contacts are its representatives; `steward check` verifies it).
        let kept = member_id.unwrap_or(0); // no organization has id 0
        diesel::update(members::table.filter(members::primary_contact_id.eq(user_id)).filter(members::id.ne(kept)))
            .set(members::primary_contact_id.eq(None::<i64>))
            .execute(conn)?;
        diesel::update(members::table.filter(members::billing_contact_id.eq(user_id)).filter(members::id.ne(kept)))
            .set(members::billing_contact_id.eq(None::<i64>))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor_id), "user.roles_changed")
                .target("user", user_id)
                .ip(meta.ip.as_deref())
                .details(json!({
                    "from": before.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                    "to": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                    "member_id": member_id,
                }))
                .changes(
                    Changes::new()
                        .field(
                            "roles",
                            &before.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
                            &roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
                        )
                        .field("member_id", &user.member_id, &member_id),
                ),
        )
    })
}

/// Disables an account: it cannot sign in, and its sessions and tokens stop working at once.
pub fn disable_user(conn: &mut DbConn, actor_id: i64, user_id: i64, meta: &RequestMeta) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let user = find_user(conn, user_id)?;
        if actor_id == user_id {
            return Err(ServiceError::Conflict("You cannot disable your own account.".into()));
        }
        if user.status() == UserStatus::Disabled {
            return Ok(());
        }
        if roles_of(conn, user_id)?.contains(&Role::Admin)
            && user.status() == UserStatus::Active
            && admin_count(conn)? <= 1
        {
            return Err(ServiceError::Conflict("This is the last admin; make someone else admin first.".into()));
        }
        diesel::update(users::table.find(user_id))
            .set((users::status.eq(UserStatus::Disabled.as_str()), users::updated_at.eq(db::now())))
            .execute(conn)?;
        let ended = end_all_sessions(conn, user_id)?;
        let tokens = revoke_all_api_tokens(conn, user_id)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor_id), "user.disabled")
                .target("user", user_id)
                .ip(meta.ip.as_deref())
                .details(json!({ "sessions_ended": ended, "api_tokens_revoked": tokens }))
                .changes(Changes::new().field("status", user.status().as_str(), UserStatus::Disabled.as_str())),
        )
    })
}

/// Enables a disabled account again (as active if it has a password, else as invited).
pub fn enable_user(conn: &mut DbConn, actor_id: i64, user_id: i64, meta: &RequestMeta) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let user = find_user(conn, user_id)?;
        if user.status() != UserStatus::Disabled {
            return Ok(());
        }
        let status = if user.password_hash.is_some() { UserStatus::Active } else { UserStatus::Invited };
        diesel::update(users::table.find(user_id))
            .set((users::status.eq(status.as_str()), users::updated_at.eq(db::now())))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor_id), "user.enabled")
                .target("user", user_id)
                .ip(meta.ip.as_deref())
                .changes(Changes::new().field("status", UserStatus::Disabled.as_str(), status.as_str())),
        )
    })
}

/// Organizations to choose from when inviting a representative.
pub fn member_choices(conn: &mut DbConn) -> Result<Vec<(i64, String)>, ServiceError> {
    Ok(members::table.order(members::name).select((members::id, members::name)).load(conn)?)
}

// ---------------------------------------------------------------------------------------------------------
// API tokens

pub fn list_api_tokens(conn: &mut DbConn, user_id: i64) -> Result<Vec<ApiToken>, ServiceError> {
    Ok(api_tokens::table
        .filter(api_tokens::user_id.eq(user_id))
        .order(api_tokens::id.desc())
        .select(ApiToken::as_select())
        .load(conn)?)
}

/// A personal API token as its owner asks for it.
#[derive(Clone, Debug, Default)]
pub struct TokenInput {
    pub name: String,
    pub scope: TokenScope,
    /// The last day (UTC) the token works; none: until revoked.
    pub expires_on: Option<NaiveDate>,
}

/// Creates a token for the signed-in person after asking for their password again (a session left open on
/// a shared computer is not enough to mint a lasting credential); the plain token is returned once and never
/// stored.
pub async fn create_api_token(
    db: &Db,
    hasher: &Hasher,
    identity: &Identity,
    password: &str,
    input: &TokenInput,
    meta: &RequestMeta,
) -> Result<(ApiToken, String), ServiceError> {
    check_token_input(input)?;
    let user_id = identity.user_id;
    let user = db
        .run(move |conn| {
            rate_limit::hit(conn, rate_limit::REAUTH_PER_USER, &user_id.to_string())?;
            find_user(conn, user_id)
        })
        .await?;
    if password.is_empty()
        || hasher.verify(password.to_string(), user.password_hash).await.map_err(hash_failure)? == Verified::No
    {
        return Err(ServiceError::invalid("password", "That is not your password."));
    }
    let (input, meta) = (input.clone(), meta.clone());
    db.run(move |conn| issue_api_token(conn, user_id, &input, &meta)).await
}

fn check_token_input(input: &TokenInput) -> Result<String, ServiceError> {
    let mut errors = Vec::new();
    let name = crate::domain::check_name(&input.name, "name", 80, &mut errors)
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join(" "));
    if let Some(day) = input.expires_on {
        let today = db::now().date();
        if day < today {
            errors.push(FieldError::new("expires_on", "Choose today or a later day, or no end."));
        } else if day > today + ChronoDuration::days(3 * 366) {
            errors.push(FieldError::new("expires_on", "Choose a day within three years, or no end."));
        }
    }
    match name {
        Some(name) if errors.is_empty() => Ok(name),
        _ => Err(ServiceError::Validation(errors)),
    }
}

/// The transaction of [`create_api_token`], once the password is checked (the demo, benchmarks and tests call
/// it directly for their accounts).
pub fn issue_api_token(
    conn: &mut DbConn,
    user_id: i64,
    input: &TokenInput,
    meta: &RequestMeta,
) -> Result<(ApiToken, String), ServiceError> {
    let name = check_token_input(input)?;
    // The token works through its last day, UTC.
    let expires_at = input.expires_on.and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0));
    db::write_transaction(conn, |conn| {
        let active: i64 = api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null())
            .count()
            .get_result(conn)?;
        if active >= 20 {
            return Err(ServiceError::Conflict("You have 20 active tokens; revoke one first.".into()));
        }
        let plain = new_api_token();
        let token: ApiToken = crate::on_backend!(conn, |c| diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(user_id),
                api_tokens::name.eq(&name),
                api_tokens::token_hash.eq(hash_token(&plain)),
                api_tokens::prefix.eq(&plain[..8]),
                api_tokens::created_at.eq(db::now()),
                api_tokens::scope.eq(input.scope.as_str()),
                api_tokens::expires_at.eq(expires_at),
            ))
            .returning(ApiToken::as_returning())
            .get_result(c))?;
        audit::record(
            conn,
            Event::new(Actor::User(user_id), "api_token.created").target("api_token", token.id).ip(meta.ip.as_deref()).details(
                json!({ "name": name, "scope": input.scope.as_str(), "expires_at": expires_at.map(|at| at.to_string()) }),
            ),
        )?;
        Ok((token, plain))
    })
}

/// Revokes every live token of the user: a new password, "sign out everywhere" and a disabled account end
/// them with the sessions, so a token made by whoever had the old password stops too. Returns how many.
fn revoke_all_api_tokens(conn: &mut DbConn, user_id: i64) -> Result<usize, ServiceError> {
    Ok(diesel::update(
        api_tokens::table.filter(api_tokens::user_id.eq(user_id)).filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(db::now()))
    .execute(conn)?)
}

/// Revokes one of the signed-in person's own tokens.
pub fn revoke_api_token(
    conn: &mut DbConn,
    identity: &Identity,
    token_id: i64,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let revoked = diesel::update(
            api_tokens::table
                .find(token_id)
                .filter(api_tokens::user_id.eq(identity.user_id))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(db::now()))
        .execute(conn)?;
        if revoked == 0 {
            return Err(ServiceError::NotFound("token"));
        }
        audit::record(
            conn,
            Event::new(Actor::User(identity.user_id), "api_token.revoked")
                .target("api_token", token_id)
                .ip(meta.ip.as_deref()),
        )
    })
}

// ---------------------------------------------------------------------------------------------------------
// Two-factor sign-in

/// Starts (or restarts) enrolment: a new secret, not active until confirmed with a code.
pub fn begin_two_factor(conn: &mut DbConn, identity: &Identity) -> Result<String, ServiceError> {
    let user = find_user(conn, identity.user_id)?;
    if user.has_two_factor() {
        return Err(ServiceError::Conflict("Two-factor sign-in is already on.".into()));
    }
    if let Some(secret) = user.totp_secret {
        return Ok(secret);
    }
    let secret = totp::new_secret();
    diesel::update(users::table.find(user.id)).set(users::totp_secret.eq(&secret)).execute(conn)?;
    Ok(secret)
}

/// Confirms enrolment with a code from the app; returns ten recovery codes, shown once.
pub fn confirm_two_factor(
    conn: &mut DbConn,
    identity: &Identity,
    code: &str,
    meta: &RequestMeta,
) -> Result<Vec<String>, ServiceError> {
    db::write_transaction(conn, |conn| {
        let user = find_user(conn, identity.user_id)?;
        let Some(secret) = user.totp_secret.as_deref().filter(|_| !user.has_two_factor()) else {
            return Err(ServiceError::Conflict("Start setting up two-factor sign-in first.".into()));
        };
        let Some(step) = totp::matching_step(secret, code, db::now().and_utc().timestamp()) else {
            return Err(ServiceError::invalid(
                "code",
                "That code is not right; check the app's clock and try the next one.",
            ));
        };
        diesel::update(users::table.find(user.id))
            .set((users::totp_enabled_at.eq(db::now()), users::totp_last_step.eq(step)))
            .execute(conn)?;
        let codes = replace_recovery_codes(conn, user.id)?;
        audit::record(
            conn,
            Event::new(Actor::User(user.id), "user.two_factor_enabled").target("user", user.id).ip(meta.ip.as_deref()),
        )?;
        Ok(codes)
    })
}

fn replace_recovery_codes(conn: &mut DbConn, user_id: i64) -> Result<Vec<String>, ServiceError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
    let codes: Vec<String> = (0..10).map(|_| new_recovery_code()).collect();
    for code in &codes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(hash_token(&normalize_recovery_code(code))),
            ))
            .execute(conn)?;
    }
    Ok(codes)
}

/// Turns two-factor sign-in off after checking the password; refused when the foundation requires it for
/// one of the user's roles.
pub async fn disable_two_factor(
    db: &Db,
    hasher: &Hasher,
    identity: &Identity,
    password: &str,
    required: bool,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    if required {
        return Err(ServiceError::Conflict(
            "The foundation requires two-factor sign-in for your role; it cannot be turned off.".into(),
        ));
    }
    let user_id = identity.user_id;
    let user = db.run(move |conn| find_user(conn, user_id)).await?;
    if hasher.verify(password.to_string(), user.password_hash).await.map_err(hash_failure)? == Verified::No {
        return Err(ServiceError::invalid("password", "That is not your password."));
    }
    let meta = meta.clone();
    db.run(move |conn| {
        db::write_transaction(conn, |conn| {
            diesel::update(users::table.find(user_id))
                .set((
                    users::totp_secret.eq(None::<String>),
                    users::totp_enabled_at.eq(None::<NaiveDateTime>),
                    users::totp_last_step.eq(None::<i64>),
                ))
                .execute(conn)?;
            diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)?;
            audit::record(
                conn,
                Event::new(Actor::User(user_id), "user.two_factor_disabled")
                    .target("user", user_id)
                    .ip(meta.ip.as_deref()),
            )
        })
    })
    .await
}

/// Unused recovery codes left.
pub fn recovery_codes_left(conn: &mut DbConn, user_id: i64) -> Result<i64, ServiceError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// The roles for which the foundation may require a second factor.
pub const TWO_FACTOR_ROLES: &[Role] = &[Role::Treasurer, Role::Admin];

/// Sets the time zone a person's pages show times in.
pub fn set_time_zone(conn: &mut DbConn, user_id: i64, time_zone: &str) -> Result<(), ServiceError> {
    let time_zone = time_zone.trim();
    if !crate::locale::valid_time_zone(time_zone) {
        return Err(ServiceError::invalid("time_zone", "Choose a time zone from the list, such as Europe/Berlin."));
    }
    db::write_transaction(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set((users::time_zone.eq(time_zone), users::updated_at.eq(db::now())))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(user_id), "account.time_zone_changed")
                .target("user", user_id)
                .details(serde_json::json!({ "time_zone": time_zone })),
        )
    })
}
