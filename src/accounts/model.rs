//! Rows and small types of accounts.

use std::fmt;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::{api_tokens, sessions, users};

/// What a person may do. A user may hold several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Represents one member organization.
    MemberRep,
    /// Everything financial.
    Treasurer,
    /// Reads everything but secrets; surveys, metrics, approvals.
    Council,
    /// Accounts, roles, settings, mail queue, audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::MemberRep, Role::Treasurer, Role::Council, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemberRep => "member_rep",
            Self::Treasurer => "treasurer",
            Self::Council => "council",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }

    /// How the role is named on pages.
    pub fn label(self) -> &'static str {
        match self {
            Self::MemberRep => "Member representative",
            Self::Treasurer => "Treasurer",
            Self::Council => "Council",
            Self::Admin => "Admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited; has not set a password yet.
    Invited,
    Active,
    /// May not sign in; every session and token stops working.
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Invited, Self::Active, Self::Disabled].into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Clone, Debug, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub status: String,
    pub member_id: Option<i64>,
    pub totp_secret: Option<String>,
    pub totp_enabled_at: Option<NaiveDateTime>,
    pub totp_last_step: Option<i64>,
    pub password_changed_at: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// An IANA name; pages show times in it.
    pub time_zone: String,
}

impl User {
    pub fn status(&self) -> UserStatus {
        UserStatus::parse(&self.status).unwrap_or(UserStatus::Disabled)
    }

    pub fn has_two_factor(&self) -> bool {
        self.totp_enabled_at.is_some()
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: Option<&'a str>,
    pub status: &'a str,
    pub member_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub second_factor_pending: bool,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    #[serde(skip)]
    pub user_id: i64,
    pub name: String,
    #[serde(skip)]
    pub token_hash: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    /// `read` (GET only) or `read_write`.
    #[schema(value_type = TokenScope)]
    pub scope: String,
    /// When the token stops working; none: until revoked.
    pub expires_at: Option<NaiveDateTime>,
}

impl ApiToken {
    pub fn scope(&self) -> TokenScope {
        // An unknown value grants the least.
        TokenScope::parse(&self.scope).unwrap_or(TokenScope::Read)
    }

    /// Past its end: refused like an unknown token.
    pub fn expired(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= crate::db::now())
    }
}

/// What a personal API token may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Reads only: GET and HEAD. Any other method is refused with 403.
    Read,
    /// Everything its owner's roles allow.
    #[default]
    ReadWrite,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read_write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Read, Self::ReadWrite].into_iter().find(|v| v.as_str() == s.trim())
    }

    /// How the scope is named on pages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Read => "Read only",
            Self::ReadWrite => "Read and write",
        }
    }
}

/// Who is making a request: the user, their roles, and how they proved it.
#[derive(Clone, Debug)]
pub struct Identity {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub member_id: Option<i64>,
    pub roles: Vec<Role>,
    pub has_two_factor: bool,
    pub via: AuthMethod,
    /// An IANA name: pages show times in it.
    pub time_zone: String,
}

#[derive(Clone, Debug)]
pub enum AuthMethod {
    /// A browser session; `csrf_token` guards its forms.
    Session { id_hash: String, csrf_token: String, second_factor_pending: bool },
    /// A personal API token that may do everything its owner's roles allow.
    ApiToken { token_id: i64 },
    /// A personal API token that may only read (GET and HEAD); `accounts::routing` refuses anything else.
    ReadOnlyApiToken { token_id: i64 },
}

impl Identity {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has_role(*r))
    }

    /// Called with a personal API token that may only read.
    pub fn read_only(&self) -> bool {
        matches!(self.via, AuthMethod::ReadOnlyApiToken { .. })
    }

    /// Signed in with a password but not yet with the second factor.
    pub fn awaiting_second_factor(&self) -> bool {
        matches!(self.via, AuthMethod::Session { second_factor_pending: true, .. })
    }

    pub fn session_hash(&self) -> Option<&str> {
        match &self.via {
            AuthMethod::Session { id_hash, .. } => Some(id_hash),
            AuthMethod::ApiToken { .. } | AuthMethod::ReadOnlyApiToken { .. } => None,
        }
    }
}
