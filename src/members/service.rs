//! Rules for tiers, member organizations and their representatives. Ownership lives here: a representative
//! sees and edits only their own organization.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;

use super::model::{HistoryEntry, Member, MemberStatus, Tier};
use crate::accounts::service::{self as accounts, InviteInput, MailSite, RequestMeta};
use crate::accounts::{Identity, Role};
use crate::audit::{self, Actor, Changes, Event};
use crate::db::schema::{invoices, member_history, members, membership_tiers, user_roles, users};
use crate::db::{self, DbConn};
use crate::domain::{FieldError, ServiceError};
pub use crate::domain::{ImportError, ImportProblem};
use crate::money;

pub const PAGE_SIZE: i64 = 25;

/// Who may see every organization.
pub const READERS: &[Role] = &[Role::Treasurer, Role::Council, Role::Admin];

pub fn can_see(identity: &Identity, member_id: i64) -> bool {
    identity.has_any(READERS) || (identity.has_role(Role::MemberRep) && identity.member_id == Some(member_id))
}

fn can_edit_profile(identity: &Identity, member_id: i64) -> bool {
    identity.has_role(Role::Treasurer) || (identity.has_role(Role::MemberRep) && identity.member_id == Some(member_id))
}

/// Whether `identity` may read the treasurer's notes.
pub fn sees_notes(identity: &Identity) -> bool {
    identity.has_any(&[Role::Treasurer, Role::Council])
}

fn invalid(errors: Vec<FieldError>) -> Result<(), ServiceError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Validation(errors))
    }
}

// ---------------------------------------------------------------------------------------------------------
// Tiers

/// A tier as entered: the amount as typed, so "12.345 USD" is refused rather than rounded.
#[derive(Clone, Debug, Default)]
pub struct TierInput {
    pub name: String,
    pub annual_dues: String,
    pub currency: String,
    pub benefits: String,
}

fn validate_tier(conn: &mut DbConn, input: &TierInput, id: Option<i64>) -> Result<(String, i64, String), ServiceError> {
    let mut errors = Vec::new();
    let name = input.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(problem) = crate::domain::hidden_characters(&input.name) {
        errors.push(FieldError::new("name", problem));
    } else if name.is_empty() || name.chars().count() > 80 {
        errors.push(FieldError::new("name", "Name the tier (1 to 80 characters)."));
    } else {
        let taken: i64 = membership_tiers::table
            .filter(membership_tiers::name.eq(&name))
            .filter(membership_tiers::id.ne(id.unwrap_or(-1)))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            errors.push(FieldError::new("name", "Another tier has this name."));
        }
    }
    let currency = money::parse_currency(&input.currency).map_err(|m| errors.push(FieldError::new("currency", m))).ok();
    let dues = currency.as_deref().and_then(|c| {
        money::parse_amount(&input.annual_dues, c).map_err(|m| errors.push(FieldError::new("annual_dues", m))).ok()
    });
    if input.benefits.chars().count() > 4000 {
        errors.push(FieldError::new("benefits", "Keep the benefits under 4,000 characters."));
    }
    invalid(errors)?;
    Ok((name, dues.unwrap_or_default(), currency.unwrap_or_default()))
}

pub fn list_tiers(conn: &mut DbConn) -> Result<Vec<(Tier, i64)>, ServiceError> {
    let tiers: Vec<Tier> = membership_tiers::table
        .order((membership_tiers::retired, membership_tiers::position, membership_tiers::id))
        .select(Tier::as_select())
        .load(conn)?;
    let counts: Vec<(Option<i64>, i64)> =
        members::table.group_by(members::tier_id).select((members::tier_id, diesel::dsl::count_star())).load(conn)?;
    Ok(tiers
        .into_iter()
        .map(|t| {
            let n = counts.iter().find(|(id, _)| *id == Some(t.id)).map(|(_, n)| *n).unwrap_or(0);
            (t, n)
        })
        .collect())
}

pub fn find_tier(conn: &mut DbConn, id: i64) -> Result<Tier, ServiceError> {
    membership_tiers::table
        .find(id)
        .select(Tier::as_select())
        .first(conn)
        .optional()?
        .ok_or(ServiceError::NotFound("tier"))
}

pub fn create_tier(conn: &mut DbConn, actor: i64, input: &TierInput) -> Result<Tier, ServiceError> {
    db::write_transaction(conn, |conn| {
        let (name, dues, currency) = validate_tier(conn, input, None)?;
        let position: Option<i32> =
            membership_tiers::table.select(diesel::dsl::max(membership_tiers::position)).first(conn)?;
        let now = db::now();
        let tier: Tier = crate::on_backend!(conn, |c| diesel::insert_into(membership_tiers::table)
            .values((
                membership_tiers::name.eq(&name),
                membership_tiers::annual_dues_minor.eq(dues),
                membership_tiers::currency.eq(&currency),
                membership_tiers::benefits.eq(input.benefits.trim()),
                membership_tiers::position.eq(position.unwrap_or(0) + 1),
                membership_tiers::retired.eq(false),
                membership_tiers::created_at.eq(now),
                membership_tiers::updated_at.eq(now),
            ))
            .returning(Tier::as_returning())
            .get_result(c))?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "tier.created")
                .target("tier", tier.id)
                .details(json!({ "name": name, "annual_dues_minor": dues, "currency": currency })),
        )?;
        Ok(tier)
    })
}

pub fn update_tier(conn: &mut DbConn, actor: i64, id: i64, input: &TierInput) -> Result<Tier, ServiceError> {
    db::write_transaction(conn, |conn| {
        let before = find_tier(conn, id)?;
        let (name, dues, currency) = validate_tier(conn, input, Some(id))?;
        diesel::update(membership_tiers::table.find(id))
            .set((
                membership_tiers::name.eq(&name),
                membership_tiers::annual_dues_minor.eq(dues),
                membership_tiers::currency.eq(&currency),
                membership_tiers::benefits.eq(input.benefits.trim()),
                membership_tiers::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "tier.changed")
                .target("tier", id)
                .details(json!({
                    "from": { "name": before.name, "annual_dues_minor": before.annual_dues_minor, "currency": before.currency },
                    "to": { "name": name, "annual_dues_minor": dues, "currency": currency },
                }))
                .changes(
                    Changes::new()
                        .field("name", &before.name, &name)
                        .field("annual_dues_minor", &before.annual_dues_minor, &dues)
                        .field("currency", &before.currency, &currency)
                        .field("benefits", before.benefits.as_str(), input.benefits.trim()),
                ),
        )?;
        find_tier(conn, id)
    })
}

/// Retires a tier (or brings it back): retired tiers take no new members.
pub fn set_tier_retired(conn: &mut DbConn, actor: i64, id: i64, retired: bool) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        find_tier(conn, id)?;
        diesel::update(membership_tiers::table.find(id))
            .set((membership_tiers::retired.eq(retired), membership_tiers::updated_at.eq(db::now())))
            .execute(conn)?;
        let action = if retired { "tier.retired" } else { "tier.reinstated" };
        audit::record(conn, Event::new(Actor::User(actor), action).target("tier", id))
    })
}

/// Deletes a tier that no member has ever had; one in use can only be retired.
pub fn delete_tier(conn: &mut DbConn, actor: i64, id: i64) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let tier = find_tier(conn, id)?;
        let used: i64 = members::table.filter(members::tier_id.eq(id)).count().get_result(conn)?;
        let in_history: i64 = member_history::table.filter(member_history::tier_id.eq(id)).count().get_result(conn)?;
        if used + in_history > 0 {
            return Err(ServiceError::Conflict(format!(
                "The tier '{}' is or was in use, so it cannot be deleted; retire it instead.",
                tier.name
            )));
        }
        diesel::delete(membership_tiers::table.find(id)).execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor), "tier.deleted").target("tier", id).details(json!({ "name": tier.name })),
        )
    })
}

// ---------------------------------------------------------------------------------------------------------
// Members

/// An organization as entered, field by field as typed (forms and CSV rows).
#[derive(Clone, Debug, Default)]
pub struct MemberFields {
    pub name: String,
    pub slug: String,
    /// The tier's id (forms) or name (CSV); empty for none.
    pub tier: String,
    pub status: String,
    pub joined_on: String,
    pub renews_on: String,
    pub website: String,
    pub country: String,
    pub logo_url: String,
    pub notes: String,
}

/// A checked organization, ready to store.
#[derive(Clone, Debug)]
pub struct MemberInput {
    pub name: String,
    pub slug: String,
    pub tier_id: Option<i64>,
    pub status: MemberStatus,
    pub joined_on: Option<NaiveDate>,
    pub renews_on: Option<NaiveDate>,
    pub website: Option<String>,
    pub country: Option<String>,
    pub logo_url: Option<String>,
    pub notes: String,
}

fn parse_date(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new(field, format!("'{raw}' is not a date like 2026-07-01.")));
            None
        }
    }
}

fn optional_url(raw: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
        && raw.len() <= 500
        && !raw.contains(char::is_whitespace)
        && raw.split("://").nth(1).is_some_and(|rest| rest.len() > 2 && rest.contains('.'));
    if ok {
        Some(raw.to_string())
    } else {
        errors.push(FieldError::new(field, "Enter a web address starting with https://."));
        None
    }
}

/// Reads and checks typed fields. `tier_by_name` reads the tier column as a tier's name (CSV) instead of its
/// id (forms). Uniqueness of the slug is checked against the database, except for `id` itself.
pub fn parse_member(
    conn: &mut DbConn,
    fields: &MemberFields,
    id: Option<i64>,
    tier_by_name: bool,
) -> Result<MemberInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let name = fields.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(problem) = crate::domain::hidden_characters(&fields.name) {
        errors.push(FieldError::new("name", problem));
    } else if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "Give the organization's name (1 to 200 characters)."));
    }
    let slug = fields.slug.trim().to_lowercase();
    let slug_ok = (2..=80).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !slug_ok {
        errors.push(FieldError::new("slug", "Use 2 to 80 lower-case letters, digits and hyphens, e.g. acme-corp."));
    } else if ["new", "import"].contains(&slug.as_str()) {
        errors.push(FieldError::new("slug", format!("'{slug}' is reserved; choose another.")));
    } else {
        let taken = members::table
            .filter(members::slug.eq(&slug))
            .filter(members::id.ne(id.unwrap_or(-1)))
            .count()
            .get_result::<i64>(conn)
            .unwrap_or(0);
        if taken > 0 {
            errors.push(FieldError::new("slug", format!("Another organization already uses '{slug}'.")));
        }
    }
    let tier_raw = fields.tier.trim();
    let tier: Option<Tier> = if tier_raw.is_empty() {
        None
    } else {
        let found = if tier_by_name {
            membership_tiers::table
                .filter(membership_tiers::name.eq(tier_raw))
                .select(Tier::as_select())
                .first(conn)
                .optional()
        } else {
            match tier_raw.parse::<i64>() {
                Ok(tier_id) => membership_tiers::table.find(tier_id).select(Tier::as_select()).first(conn).optional(),
                Err(_) => Ok(None),
            }
        };
        match found.ok().flatten() {
            Some(t) => Some(t),
            None => {
                errors.push(FieldError::new("tier", format!("There is no tier '{tier_raw}'.")));
                None
            }
        }
    };
    let status = match MemberStatus::parse(&fields.status) {
        Some(s) => s,
        None if fields.status.trim().is_empty() => MemberStatus::Prospective,
        None => {
            errors.push(FieldError::new(
                "status",
                format!("'{}' is not a status: use prospective, active, lapsed or former.", fields.status.trim()),
            ));
            MemberStatus::Prospective
        }
    };
    let joined_on = parse_date(&fields.joined_on, "joined_on", &mut errors);
    let renews_on = parse_date(&fields.renews_on, "renews_on", &mut errors);
    if let (Some(j), Some(r)) = (joined_on, renews_on) {
        if r <= j {
            errors.push(FieldError::new("renews_on", "The renewal date must come after the joining date."));
        }
    }
    if matches!(status, MemberStatus::Active | MemberStatus::Lapsed) {
        if tier.is_none() && !errors.iter().any(|e| e.field == "tier") {
            errors.push(FieldError::new("tier", "An active or lapsed member needs a tier."));
        }
        if joined_on.is_none() && !errors.iter().any(|e| e.field == "joined_on") {
            errors.push(FieldError::new("joined_on", "An active or lapsed member needs a joining date."));
        }
    }
    let website = optional_url(&fields.website, "website", &mut errors);
    let logo_url = optional_url(&fields.logo_url, "logo_url", &mut errors);
    let country = match fields.country.trim().to_ascii_uppercase() {
        c if c.is_empty() => None,
        c if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()) => Some(c),
        _ => {
            errors.push(FieldError::new("country", "Use the two-letter country code, e.g. DE or US."));
            None
        }
    };
    if fields.notes.chars().count() > 5000 {
        errors.push(FieldError::new("notes", "Keep the notes under 5,000 characters."));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(MemberInput {
        name,
        slug,
        tier_id: tier.map(|t| t.id),
        status,
        joined_on,
        renews_on,
        website,
        country,
        logo_url,
        notes: fields.notes.trim().to_string(),
    })
}

fn check_tier_open(conn: &mut DbConn, tier_id: Option<i64>, previous: Option<i64>) -> Result<(), ServiceError> {
    if let Some(id) = tier_id.filter(|id| Some(*id) != previous) {
        if find_tier(conn, id)?.retired {
            return Err(ServiceError::invalid("tier", "This tier is retired and takes no new members."));
        }
    }
    Ok(())
}

fn record_history(
    conn: &mut DbConn,
    member_id: i64,
    status: MemberStatus,
    tier_id: Option<i64>,
    actor: Option<i64>,
    note: &str,
) -> Result<(), ServiceError> {
    let now = db::now();
    diesel::insert_into(member_history::table)
        .values((
            member_history::member_id.eq(member_id),
            member_history::status.eq(status.as_str()),
            member_history::tier_id.eq(tier_id),
            member_history::changed_on.eq(now.date()),
            member_history::changed_at.eq(now),
            member_history::changed_by.eq(actor),
            member_history::note.eq(note),
        ))
        .execute(conn)?;
    Ok(())
}

fn insert_member(conn: &mut DbConn, input: &MemberInput, actor: Option<i64>) -> Result<Member, ServiceError> {
    let now = db::now();
    let member: Member = crate::on_backend!(conn, |c| diesel::insert_into(members::table)
        .values((
            members::slug.eq(&input.slug),
            members::name.eq(&input.name),
            members::created_at.eq(now),
            members::updated_at.eq(now),
            members::tier_id.eq(input.tier_id),
            members::status.eq(input.status.as_str()),
            members::joined_on.eq(input.joined_on),
            members::renews_on.eq(input.renews_on),
            members::website.eq(&input.website),
            members::country.eq(&input.country),
            members::logo_url.eq(&input.logo_url),
            members::notes.eq(&input.notes),
        ))
        .returning(Member::as_returning())
        .get_result(c))?;
    record_history(conn, member.id, input.status, input.tier_id, actor, "created")?;
    Ok(member)
}

/// Adds an organization (treasurer).
pub fn create_member(conn: &mut DbConn, actor: &Identity, fields: &MemberFields) -> Result<Member, ServiceError> {
    if !actor.has_role(Role::Treasurer) {
        return Err(ServiceError::Forbidden);
    }
    db::write_transaction(conn, |conn| {
        let input = parse_member(conn, fields, None, false).map_err(ServiceError::Validation)?;
        check_tier_open(conn, input.tier_id, None)?;
        let member = insert_member(conn, &input, Some(actor.user_id))?;
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "member.created")
                .target("member", member.id)
                .details(json!({ "slug": member.slug, "status": member.status, "tier_id": member.tier_id })),
        )?;
        Ok(member)
    })
}

pub fn find_member(conn: &mut DbConn, viewer: &Identity, id: i64) -> Result<Member, ServiceError> {
    if !can_see(viewer, id) {
        // Another organization's existence is not confirmed to a representative.
        return Err(ServiceError::NotFound("member"));
    }
    members::table.find(id).select(Member::as_select()).first(conn).optional()?.ok_or(ServiceError::NotFound("member"))
}

pub fn find_member_by_slug(conn: &mut DbConn, viewer: &Identity, slug: &str) -> Result<Member, ServiceError> {
    let id: Option<i64> = members::table.filter(members::slug.eq(slug)).select(members::id).first(conn).optional()?;
    find_member(conn, viewer, id.ok_or(ServiceError::NotFound("member"))?)
}

/// Changes an organization. The treasurer changes everything; the organization's own representatives change
/// its public profile (name, website, country, logo) and nothing else.
pub fn update_member(
    conn: &mut DbConn,
    actor: &Identity,
    id: i64,
    fields: &MemberFields,
) -> Result<Member, ServiceError> {
    db::write_transaction(conn, |conn| {
        let before = find_member(conn, actor, id)?;
        if !can_edit_profile(actor, id) {
            return Err(ServiceError::Forbidden);
        }
        let treasurer = actor.has_role(Role::Treasurer);
        // A representative's form has only the profile: the rest stays as it is.
        let merged = if treasurer {
            fields.clone()
        } else {
            MemberFields {
                name: fields.name.clone(),
                website: fields.website.clone(),
                country: fields.country.clone(),
                logo_url: fields.logo_url.clone(),
                slug: before.slug.clone(),
                tier: before.tier_id.map(|t| t.to_string()).unwrap_or_default(),
                status: before.status.clone(),
                joined_on: before.joined_on.map(|d| d.to_string()).unwrap_or_default(),
                renews_on: before.renews_on.map(|d| d.to_string()).unwrap_or_default(),
                notes: before.notes.clone(),
            }
        };
        let input = parse_member(conn, &merged, Some(id), false).map_err(ServiceError::Validation)?;
        check_tier_open(conn, input.tier_id, before.tier_id)?;
        diesel::update(members::table.find(id))
            .set((
                members::slug.eq(&input.slug),
                members::name.eq(&input.name),
                members::tier_id.eq(input.tier_id),
                members::status.eq(input.status.as_str()),
                members::joined_on.eq(input.joined_on),
                members::renews_on.eq(input.renews_on),
                members::website.eq(&input.website),
                members::country.eq(&input.country),
                members::logo_url.eq(&input.logo_url),
                members::notes.eq(&input.notes),
                members::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
        if before.status() != input.status || before.tier_id != input.tier_id {
            record_history(conn, id, input.status, input.tier_id, Some(actor.user_id), "")?;
        }
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "member.changed")
                .target("member", id)
                .details(json!({
                    "status": { "from": before.status, "to": input.status.as_str() },
                    "tier_id": { "from": before.tier_id, "to": input.tier_id },
                    "profile_only": !treasurer,
                }))
                // The notes are the treasurer's and council's; the log says only that they changed.
                .changes(
                    Changes::new()
                        .field("name", &before.name, &input.name)
                        .field("slug", &before.slug, &input.slug)
                        .field("status", before.status.as_str(), input.status.as_str())
                        .field("tier_id", &before.tier_id, &input.tier_id)
                        .field("joined_on", &before.joined_on, &input.joined_on)
                        .field("renews_on", &before.renews_on, &input.renews_on)
                        .field("website", &before.website, &input.website)
                        .field("country", &before.country, &input.country)
                        .field("logo_url", &before.logo_url, &input.logo_url)
                        .field("notes", "", if before.notes == input.notes { "" } else { "(changed)" }),
                ),
        )?;
        find_member(conn, actor, id)
    })
}

/// A member with what lists show.
#[derive(Clone, Debug)]
pub struct MemberRow {
    pub member: Member,
    pub tier: Option<Tier>,
    pub representatives: i64,
}

#[derive(Clone, Debug, Default)]
pub struct MemberFilter {
    pub q: String,
    pub tier_id: Option<i64>,
    pub status: Option<MemberStatus>,
    /// Only organizations with an unpaid invoice past its due date.
    pub overdue: bool,
    /// `name` (default), `joined`, `renews`, `tier`, `status`.
    pub sort: String,
    pub page: i64,
}

/// Organizations matching the filter, a page at a time, for those who see all of them.
pub fn list_members(
    conn: &mut DbConn,
    viewer: &Identity,
    filter: &MemberFilter,
) -> Result<(Vec<MemberRow>, i64), ServiceError> {
    let page = filter.page.max(1);
    let pattern =
        format!("%{}%", filter.q.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let own = if viewer.has_any(READERS) { None } else { Some(viewer.member_id.unwrap_or(-1)) };
    let today = db::now().date();
    let query = || {
        let mut q = members::table.left_join(membership_tiers::table).into_boxed();
        if let Some(id) = own {
            q = q.filter(members::id.eq(id));
        }
        if !filter.q.trim().is_empty() {
            q = q.filter(
                members::slug.like(pattern.clone()).escape('\\').or(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "lower(members.name) LIKE ",
                )
                .bind::<diesel::sql_types::Text, _>(pattern.clone())
                .sql(" ESCAPE '\\'")),
            );
        }
        if let Some(tier) = filter.tier_id {
            q = q.filter(members::tier_id.eq(tier));
        }
        if let Some(status) = filter.status {
            q = q.filter(members::status.eq(status.as_str()));
        }
        if filter.overdue {
            q = q.filter(
                members::id.eq_any(
                    invoices::table
                        .filter(invoices::status.eq("open"))
                        .filter(invoices::due_on.lt(today))
                        .select(invoices::member_id),
                ),
            );
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let sorted = match filter.sort.as_str() {
        "joined" => query().order((members::joined_on.desc(), members::name)),
        "renews" => query().order((members::renews_on.asc(), members::name)),
        "tier" => query().order((membership_tiers::position.asc(), members::name)),
        "status" => query().order((members::status.asc(), members::name)),
        _ => query().order((members::name.asc(), members::id)),
    };
    let rows: Vec<(Member, Option<Tier>)> = sorted
        .limit(PAGE_SIZE)
        .offset(crate::domain::page_offset(page, PAGE_SIZE))
        .select((Member::as_select(), Option::<Tier>::as_select()))
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|(m, _)| m.id).collect();
    let reps: Vec<(Option<i64>, i64)> = users::table
        .filter(users::member_id.eq_any(&ids))
        .filter(users::status.ne("disabled"))
        .group_by(users::member_id)
        .select((users::member_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok((
        rows.into_iter()
            .map(|(member, tier)| {
                let representatives = reps.iter().find(|(id, _)| *id == Some(member.id)).map(|(_, n)| *n).unwrap_or(0);
                MemberRow { member, tier, representatives }
            })
            .collect(),
        total,
    ))
}

/// A representative of an organization.
#[derive(Clone, Debug)]
pub struct Representative {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    pub status: String,
    pub primary: bool,
    pub billing: bool,
}

/// Everything the member page shows.
#[derive(Clone, Debug)]
pub struct MemberDetail {
    pub member: Member,
    pub tier: Option<Tier>,
    pub representatives: Vec<Representative>,
    pub history: Vec<(HistoryEntry, Option<String>)>,
}

pub fn member_detail(conn: &mut DbConn, viewer: &Identity, id: i64) -> Result<MemberDetail, ServiceError> {
    let member = find_member(conn, viewer, id)?;
    let tier = match member.tier_id {
        Some(t) => Some(find_tier(conn, t)?),
        None => None,
    };
    let mut query = users::table
        .filter(users::member_id.eq(id))
        .filter(
            users::id.eq_any(user_roles::table.filter(user_roles::role.eq("member_rep")).select(user_roles::user_id)),
        )
        .into_boxed();
    if !viewer.has_any(READERS) {
        // A representative sees the accounts in use, not open invitations: an invitation to an address that
        // already has an account creates none, so listing them would tell who has an account elsewhere.
        query = query.filter(users::status.ne(crate::accounts::model::UserStatus::Invited.as_str()));
    }
    let people: Vec<(i64, String, String, String)> = query
        .order(users::display_name)
        .select((users::id, users::display_name, users::email, users::status))
        .load(conn)?;
    let representatives = people
        .into_iter()
        .map(|(user_id, name, email, status)| Representative {
            primary: member.primary_contact_id == Some(user_id),
            billing: member.billing_contact_id == Some(user_id),
            user_id,
            name,
            email,
            status,
        })
        .collect();
    let history: Vec<(HistoryEntry, Option<String>)> = member_history::table
        .left_join(membership_tiers::table)
        .filter(member_history::member_id.eq(id))
        .order(member_history::id.desc())
        .select((HistoryEntry::as_select(), membership_tiers::name.nullable()))
        .load(conn)?;
    Ok(MemberDetail { member, tier, representatives, history })
}

/// Marks which representatives are the primary and the billing contact.
pub fn set_contacts(
    conn: &mut DbConn,
    actor: &Identity,
    id: i64,
    primary: Option<i64>,
    billing: Option<i64>,
) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let detail = member_detail(conn, actor, id)?;
        if !can_edit_profile(actor, id) {
            return Err(ServiceError::Forbidden);
        }
        for (field, chosen) in [("primary", primary), ("billing", billing)] {
            if let Some(user) = chosen {
                if !detail.representatives.iter().any(|r| r.user_id == user) {
                    return Err(ServiceError::invalid(field, "Choose one of this organization's representatives."));
                }
            }
        }
        diesel::update(members::table.find(id))
            .set((
                members::primary_contact_id.eq(primary),
                members::billing_contact_id.eq(billing),
                members::updated_at.eq(db::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "member.contacts_changed")
                .target("member", id)
                .details(json!({ "primary": primary, "billing": billing })),
        )
    })
}

/// Invites a representative for the organization (its own representatives, the treasurer, admins).
pub fn invite_representative(
    conn: &mut DbConn,
    actor: &Identity,
    id: i64,
    email: &str,
    name: &str,
    site: &MailSite,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let member = find_member(conn, actor, id)?;
    if !(can_edit_profile(actor, id) || actor.has_role(Role::Admin)) {
        return Err(ServiceError::Forbidden);
    }
    let input = InviteInput {
        email: email.to_string(),
        display_name: name.to_string(),
        roles: vec![Role::MemberRep],
        member_id: Some(id),
    };
    // The same answer whether the address has an account or not (its owner is told instead).
    accounts::invite_representative(conn, actor.user_id, &input, &member.name, site, meta)
}

// ---------------------------------------------------------------------------------------------------------
// CSV

/// The columns of the member CSV, in order.
pub const CSV_COLUMNS: [&str; 8] = ["name", "slug", "tier", "status", "joined_on", "renews_on", "website", "country"];

/// Every organization the viewer may see, as CSV.
pub fn export_csv(conn: &mut DbConn, viewer: &Identity) -> Result<String, ServiceError> {
    let own = if viewer.has_any(READERS) { None } else { Some(viewer.member_id.unwrap_or(-1)) };
    let mut query = members::table.left_join(membership_tiers::table).into_boxed();
    if let Some(id) = own {
        query = query.filter(members::id.eq(id));
    }
    let rows: Vec<(Member, Option<String>)> =
        query.order(members::name).select((Member::as_select(), membership_tiers::name.nullable())).load(conn)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ServiceError::Internal(format!("writing CSV: {e}"));
    out.write_record(CSV_COLUMNS).map_err(fail)?;
    for (m, tier) in rows {
        let record = [
            m.name,
            m.slug,
            tier.unwrap_or_default(),
            m.status,
            m.joined_on.map(|d| d.to_string()).unwrap_or_default(),
            m.renews_on.map(|d| d.to_string()).unwrap_or_default(),
            m.website.unwrap_or_default(),
            m.country.unwrap_or_default(),
        ];
        out.write_record(record.iter().map(|v| crate::domain::csv_cell(v))).map_err(fail)?;
    }
    let bytes = out.into_inner().map_err(|e| ServiceError::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ServiceError::Internal(e.to_string()))
}

/// Imports organizations from CSV: every row is checked first, and nothing is written unless all are good.
/// Returns how many were added, or every problem found.
pub fn import_csv(conn: &mut DbConn, actor: &Identity, data: &[u8]) -> Result<usize, ImportError> {
    if !actor.has_role(Role::Treasurer) {
        return Err(ImportError::Service(ServiceError::Forbidden));
    }
    let problem = |line: usize, column: &str, message: String| ImportProblem { line, column: column.into(), message };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(data);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().trim_start_matches('\u{feff}').to_lowercase()).collect(),
        Err(e) => return Err(ImportError::Problems(vec![problem(1, "", format!("The file is not CSV: {e}"))])),
    };
    if headers != CSV_COLUMNS {
        return Err(ImportError::Problems(vec![problem(
            1,
            "",
            format!("The header must be exactly: {}. It is: {}.", CSV_COLUMNS.join(","), headers.join(",")),
        )]));
    }
    db::write_transaction(conn, |conn| {
        let mut problems = Vec::new();
        let mut inputs = Vec::new();
        let mut seen_slugs: Vec<(String, usize)> = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problems.push(problem(line, "", format!("This line cannot be read: {e}")));
                    continue;
                }
            };
            let get = |n: usize| record.get(n).unwrap_or("").to_string();
            let fields = MemberFields {
                name: get(0),
                slug: get(1),
                tier: get(2),
                status: get(3),
                joined_on: get(4),
                renews_on: get(5),
                website: get(6),
                country: get(7),
                logo_url: String::new(),
                notes: String::new(),
            };
            match parse_member(conn, &fields, None, true) {
                Ok(input) => {
                    if let Some((_, first)) = seen_slugs.iter().find(|(s, _)| *s == input.slug) {
                        problems.push(problem(line, "slug", format!("'{}' is also on line {first}.", input.slug)));
                    } else {
                        seen_slugs.push((input.slug.clone(), line));
                    }
                    if let Some(tier_id) = input.tier_id {
                        if find_tier(conn, tier_id).map(|t| t.retired).unwrap_or(false) {
                            problems.push(problem(
                                line,
                                "tier",
                                "This tier is retired and takes no new members.".into(),
                            ));
                        }
                    }
                    inputs.push(input);
                }
                Err(errors) => {
                    problems.extend(errors.into_iter().map(|e| problem(line, &e.field, e.message)));
                }
            }
        }
        if inputs.is_empty() && problems.is_empty() {
            problems.push(problem(2, "", "The file has no rows to import.".into()));
        }
        if !problems.is_empty() {
            return Err(ImportError::Problems(problems));
        }
        for input in &inputs {
            insert_member(conn, input, Some(actor.user_id)).map_err(ImportError::Service)?;
        }
        audit::record(
            conn,
            Event::new(Actor::User(actor.user_id), "member.imported").details(json!({ "count": inputs.len() })),
        )
        .map_err(ImportError::Service)?;
        Ok(inputs.len())
    })
}

impl From<crate::db::DbError> for ImportError {
    fn from(e: crate::db::DbError) -> Self {
        Self::Service(e.into())
    }
}
