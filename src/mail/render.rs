//! Email bodies from templates: `templates/email/<name>/{subject.txt, body.txt, body.html}` over the shared
//! `templates/email/layout.html`. HTML is autoescaped; text is not (it is not HTML).

/// The three parts of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What every email shows besides its own content.
#[derive(Clone, Debug)]
pub struct EmailContext {
    /// The foundation's name, in the layout and the sender's display name.
    pub site_name: String,
    /// Where Steward is reached, for links.
    pub base_url: String,
    /// For bulk mail: the link that turns this category off for the recipient.
    pub unsubscribe_url: Option<String>,
}

/// A message type with its templates; implemented by [`email_templates!`](crate::email_templates).
pub trait EmailContent {
    fn render(&self, context: &EmailContext) -> Result<Rendered, askama::Error>;
}

/// Declares the templates of an email message type. The templates see the message as `m` and the
/// [`EmailContext`] as `ctx`; the subject is trimmed to one line.
///
/// ```ignore
/// email_templates!(InvitationEmail, "email/invitation/subject.txt", "email/invitation/body.txt",
///                  "email/invitation/body.html");
/// ```
#[macro_export]
macro_rules! email_templates {
    ($ty:ty, $subject:literal, $text:literal, $html:literal) => {
        const _: () = {
            #[allow(unused_imports)] // For dates in the templates: `{{ m.due_on.shown() }}`.
            use $crate::locale::Shown;

            #[allow(dead_code)] // A subject line may use only the context.
            #[derive(askama::Template)]
            #[template(path = $subject)]
            struct Subject<'a> {
                m: &'a $ty,
                ctx: &'a $crate::mail::EmailContext,
            }

            #[derive(askama::Template)]
            #[template(path = $text)]
            struct Text<'a> {
                m: &'a $ty,
                ctx: &'a $crate::mail::EmailContext,
            }

            #[derive(askama::Template)]
            #[template(path = $html)]
            struct Html<'a> {
                m: &'a $ty,
                ctx: &'a $crate::mail::EmailContext,
            }

            impl $crate::mail::EmailContent for $ty {
                fn render(&self, ctx: &$crate::mail::EmailContext) -> Result<$crate::mail::Rendered, askama::Error> {
                    use askama::Template;
                    let subject = Subject { m: self, ctx }.render()?;
                    Ok($crate::mail::Rendered {
                        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
                        text: Text { m: self, ctx }.render()?,
                        html: Html { m: self, ctx }.render()?,
                    })
                }
            }
        };
    };
}
