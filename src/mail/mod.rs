//! Outbound email: messages rendered from templates, written to the outbox in the caller's transaction, and
//! delivered after commit by a worker (inside `steward serve`, or `steward mail deliver`) over SMTP, or into
//! `.eml` files when no SMTP server is configured.

pub mod admin;
pub mod delivery;
pub mod outbox;
pub mod pages;
pub mod preferences;
pub mod render;
pub mod transport;
pub mod unsubscribe;
pub mod worker;

pub use delivery::{Delivery, DeliveryReport};
pub use outbox::{enqueue, OutboxStatus, Outgoing};
pub use render::{EmailContent, EmailContext, Rendered};
pub use transport::Mailer;
pub use unsubscribe::unsubscribe_url;

/// The unsubscribe pages (public: the signed link is the authority).
/// What kind of mail a message is. Security mail always goes; bulk categories honour the recipient's
/// preferences and carry an unsubscribe link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Invitations, password resets, sign-in notices.
    Security,
    /// One-off notices a person triggered or must have (an answer to their feedback, an invoice).
    Notice,
    /// Periodic progress reports.
    Reports,
    /// Dues and survey reminders.
    Reminders,
    /// Survey invitations.
    Surveys,
}

impl Category {
    pub const ALL: [Category; 5] =
        [Category::Security, Category::Notice, Category::Reports, Category::Reminders, Category::Surveys];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Security => "security",
            Self::Notice => "notice",
            Self::Reports => "reports",
            Self::Reminders => "reminders",
            Self::Surveys => "surveys",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Bulk mail can be turned off by its recipient.
    pub fn is_bulk(self) -> bool {
        matches!(self, Self::Reports | Self::Reminders | Self::Surveys)
    }

    /// The category's mail as people call it, e.g. on the unsubscribe page.
    pub fn emails_label(self) -> &'static str {
        match self {
            Self::Security => "security emails",
            Self::Notice => "notices",
            Self::Reports => "progress report emails",
            Self::Reminders => "reminder emails",
            Self::Surveys => "survey invitations",
        }
    }
}
