//! Rows of member organizations and tiers.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{member_history, members, membership_tiers};

/// Where an organization stands with the foundation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Talking about joining; owes nothing yet.
    Prospective,
    Active,
    /// Did not renew; may come back.
    Lapsed,
    /// Left.
    Former,
}

impl MemberStatus {
    pub const ALL: [MemberStatus; 4] = [Self::Prospective, Self::Active, Self::Lapsed, Self::Former];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prospective => "prospective",
            Self::Active => "active",
            Self::Lapsed => "lapsed",
            Self::Former => "former",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s.trim().to_ascii_lowercase())
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = membership_tiers)]
pub struct Tier {
    pub id: i64,
    pub name: String,
    /// Yearly dues in minor units of `currency` (cents for USD).
    pub annual_dues_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    pub benefits: String,
    pub position: i32,
    /// A retired tier takes no new members; members already on it keep it.
    pub retired: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Tier {
    pub fn dues(&self) -> String {
        crate::money::format(self.annual_dues_minor, &self.currency)
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = members)]
pub struct Member {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub tier_id: Option<i64>,
    pub status: String,
    pub joined_on: Option<NaiveDate>,
    pub renews_on: Option<NaiveDate>,
    pub website: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub logo_url: Option<String>,
    /// For the treasurer and council only.
    #[serde(skip)]
    pub notes: String,
    pub primary_contact_id: Option<i64>,
    pub billing_contact_id: Option<i64>,
}

impl Member {
    pub fn status(&self) -> MemberStatus {
        MemberStatus::parse(&self.status).unwrap_or(MemberStatus::Prospective)
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = member_history)]
pub struct HistoryEntry {
    pub id: i64,
    pub member_id: i64,
    pub status: String,
    pub tier_id: Option<i64>,
    pub changed_on: NaiveDate,
    pub changed_at: NaiveDateTime,
    pub changed_by: Option<i64>,
    pub note: String,
}
