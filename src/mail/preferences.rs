//! Which bulk mail each person wants. A person without a row wants everything; security mail and notices are
//! not theirs to turn off.

use std::collections::HashMap;

use diesel::prelude::*;

use super::Category;
use crate::db::schema::{email_preferences, users};
use crate::db::{self, DbConn, DbError};
use crate::domain::ServiceError;

/// One person's choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = email_preferences)]
pub struct EmailPreferences {
    pub reports: bool,
    pub reminders: bool,
    pub surveys: bool,
}

impl Default for EmailPreferences {
    fn default() -> Self {
        Self { reports: true, reminders: true, surveys: true }
    }
}

impl EmailPreferences {
    /// Whether mail of `category` may go to this person.
    pub fn wants(&self, category: Category) -> bool {
        match category {
            Category::Security | Category::Notice => true,
            Category::Reports => self.reports,
            Category::Reminders => self.reminders,
            Category::Surveys => self.surveys,
        }
    }
}

/// The choices of each of `user_ids` that has made any; the others want everything.
pub fn for_users(conn: &mut DbConn, user_ids: &[i64]) -> Result<HashMap<i64, EmailPreferences>, DbError> {
    if user_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, EmailPreferences)> = email_preferences::table
        .filter(email_preferences::user_id.eq_any(user_ids))
        .select((email_preferences::user_id, EmailPreferences::as_select()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// One person's choices.
pub fn for_user(conn: &mut DbConn, user_id: i64) -> Result<EmailPreferences, ServiceError> {
    Ok(for_users(conn, &[user_id])?.remove(&user_id).unwrap_or_default())
}

/// Turns a bulk category on or off for a person.
pub fn set(conn: &mut DbConn, user_id: i64, category: Category, wanted: bool) -> Result<(), ServiceError> {
    if !category.is_bulk() {
        return Err(ServiceError::invalid("category", format!("{} emails cannot be turned off", category.as_str())));
    }
    db::write_transaction(conn, |conn| {
        let exists: i64 = users::table.filter(users::id.eq(user_id)).count().get_result(conn)?;
        if exists == 0 {
            return Err(ServiceError::NotFound("account"));
        }
        let mut choices = for_user(conn, user_id)?;
        match category {
            Category::Reports => choices.reports = wanted,
            Category::Reminders => choices.reminders = wanted,
            Category::Surveys => choices.surveys = wanted,
            Category::Security | Category::Notice => {}
        }
        let now = db::now();
        let values = (
            email_preferences::reports.eq(choices.reports),
            email_preferences::reminders.eq(choices.reminders),
            email_preferences::surveys.eq(choices.surveys),
            email_preferences::updated_at.eq(now),
        );
        let updated = diesel::update(email_preferences::table.find(user_id)).set(values).execute(conn)?;
        if updated == 0 {
            diesel::insert_into(email_preferences::table)
                .values((email_preferences::user_id.eq(user_id), values))
                .execute(conn)?;
        }
        Ok(())
    })
}
