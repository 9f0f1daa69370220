//! Reading and writing settings, and a short-lived cache so every page can show the foundation's name
//! without a query of its own.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::config::Secret;
use crate::db::schema::settings;
use crate::db::{self, Db, DbConn};
use crate::domain::ServiceError;

pub const FOUNDATION_NAME: &str = "foundation_name";
pub const FOUNDATION_TAGLINE: &str = "foundation_tagline";
/// "true" when treasurers and admins must sign in with a second factor.
pub const REQUIRE_TWO_FACTOR: &str = "require_two_factor";
/// How numbers and dates are written (a [`crate::locale::Locale`] code).
pub const LOCALE: &str = "locale";
/// "true" when the public transparency page and its feed are on.
pub const TRANSPARENCY: &str = "transparency_enabled";
const SECRET_KEY: &str = "secret_key";

/// What pages show about the foundation itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub name: String,
    pub tagline: String,
    pub require_two_factor: bool,
    /// The public transparency page is on.
    pub transparency: bool,
    pub locale: crate::locale::Locale,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            name: "Steward".into(),
            tagline: "Members, money and outcomes of an open-source foundation.".into(),
            require_two_factor: false,
            transparency: false,
            locale: crate::locale::Locale::International,
        }
    }
}

pub fn get(conn: &mut DbConn, key: &str) -> Result<Option<String>, ServiceError> {
    Ok(settings::table.find(key).select(settings::value).first::<String>(conn).optional()?)
}

/// Sets a value, replacing any earlier one.
pub fn set(conn: &mut DbConn, key: &str, value: &str) -> Result<(), ServiceError> {
    db::write_transaction(conn, |conn| {
        let now = db::now();
        let updated = diesel::update(settings::table.find(key))
            .set((settings::value.eq(value), settings::updated_at.eq(now)))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(settings::table)
                .values((settings::key.eq(key), settings::value.eq(value), settings::updated_at.eq(now)))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The key that signs links, generated on first use and kept in the database so that every instance on it
/// agrees. `STEWARD_SECRET_KEY` overrides it.
pub fn secret_key(conn: &mut DbConn) -> Result<Secret, ServiceError> {
    db::write_transaction(conn, |conn| {
        if let Some(existing) = get(conn, SECRET_KEY)? {
            return Ok(Secret::new(existing));
        }
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let key = hex::encode(bytes);
        set(conn, SECRET_KEY, &key)?;
        Ok(Secret::new(key))
    })
}

/// The site settings as an admin edits them.
#[derive(Clone, Debug, validator::Validate)]
pub struct SiteInput {
    #[validate(
        custom(function = "crate::domain::visible_text"),
        length(min = 1, max = 120, message = "Give the foundation's name (1 to 120 characters).")
    )]
    pub name: String,
    #[validate(length(max = 300, message = "Keep the description under 300 characters."))]
    pub tagline: String,
    pub require_two_factor: bool,
    /// A [`crate::locale::Locale`] code.
    pub locale: String,
}

/// Saves the site settings and records who changed what.
pub fn update_site(conn: &mut DbConn, actor_id: i64, input: &SiteInput, ip: Option<&str>) -> Result<(), ServiceError> {
    let input =
        SiteInput { name: input.name.trim().to_string(), tagline: input.tagline.trim().to_string(), ..input.clone() };
    crate::domain::check(&input)?;
    let code = if input.locale.trim().is_empty() { crate::locale::Locale::International.code() } else { &input.locale };
    let Some(locale) = crate::locale::Locale::parse(code) else {
        return Err(ServiceError::invalid("locale", "Choose one of the formats listed."));
    };
    db::write_transaction(conn, |conn| {
        let before = load_site(conn)?;
        set(conn, LOCALE, locale.code())?;
        set(conn, FOUNDATION_NAME, &input.name)?;
        set(conn, FOUNDATION_TAGLINE, &input.tagline)?;
        set(conn, REQUIRE_TWO_FACTOR, if input.require_two_factor { "true" } else { "false" })?;
        crate::audit::record(
            conn,
            crate::audit::Event::new(crate::audit::Actor::User(actor_id), "settings.changed")
                .ip(ip)
                .details(serde_json::json!({
                    "name_changed": before.name != input.name,
                    "tagline_changed": before.tagline != input.tagline,
                    "require_two_factor": input.require_two_factor,
                    "locale": locale.code(),
                }))
                .changes(
                    crate::audit::Changes::new()
                        .field("name", &before.name, &input.name)
                        .field("tagline", &before.tagline, &input.tagline)
                        .field("require_two_factor", &before.require_two_factor, &input.require_two_factor)
                        .field("locale", before.locale.code(), locale.code()),
                ),
        )
    })
}

pub fn load_site(conn: &mut DbConn) -> Result<Site, ServiceError> {
    let rows: Vec<(String, String)> = settings::table
        .filter(settings::key.eq_any([FOUNDATION_NAME, FOUNDATION_TAGLINE, REQUIRE_TWO_FACTOR, TRANSPARENCY, LOCALE]))
        .select((settings::key, settings::value))
        .load(conn)?;
    let mut site = Site::default();
    for (key, value) in rows {
        match key.as_str() {
            FOUNDATION_NAME => site.name = value,
            FOUNDATION_TAGLINE => site.tagline = value,
            REQUIRE_TWO_FACTOR => site.require_two_factor = value == "true",
            TRANSPARENCY => site.transparency = value == "true",
            LOCALE => site.locale = crate::locale::Locale::parse(&value).unwrap_or(site.locale),
            _ => {}
        }
    }
    // Every page and email of this process writes numbers and dates the foundation's way.
    site.locale.make_current();
    Ok(site)
}

/// Keeps [`Site`] for a few seconds; another instance's change shows up within that time.
#[derive(Clone)]
pub struct SiteCache {
    inner: Arc<RwLock<Option<(Instant, Site)>>>,
    ttl: Duration,
}

impl SiteCache {
    pub fn new(ttl: Duration) -> Self {
        Self { inner: Arc::new(RwLock::new(None)), ttl }
    }

    pub async fn get(&self, db: &Db) -> Result<Site, ServiceError> {
        if let Some((at, site)) = self.inner.read().ok().and_then(|g| g.clone()) {
            if at.elapsed() < self.ttl {
                return Ok(site);
            }
        }
        let site = db.run(load_site).await?;
        if let Ok(mut guard) = self.inner.write() {
            *guard = Some((Instant::now(), site.clone()));
        }
        Ok(site)
    }

    /// Forgets the cached value, after a change made by this instance.
    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.inner.write() {
            *guard = None;
        }
    }
}
