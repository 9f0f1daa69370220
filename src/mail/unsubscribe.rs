//! Unsubscribe links: `/email/unsubscribe?u=USER_ID&c=CATEGORY&s=SIGNATURE`, signed with the instance's
//! [`SigningKey`] so that nobody can turn off someone else's mail. The same address serves the page behind the
//! link in the body and RFC 8058's one-click `List-Unsubscribe-Post`.

use super::Category;
use crate::config::SigningKey;

/// The path of every unsubscribe link (the CSRF check exempts it: the signature protects it).
pub const PATH: &str = "/email/unsubscribe";

fn signed_text(user_id: i64, category: Category) -> String {
    format!("unsubscribe:v1:{user_id}:{}", category.as_str())
}

/// The link that turns `category` off for `user_id`. Callers put it in the body at enqueue time
/// (`EmailContext::unsubscribe_url`); the worker puts the same link in the `List-Unsubscribe` header.
pub fn unsubscribe_url(key: &SigningKey, base_url: &str, user_id: i64, category: Category) -> String {
    let signature = key.sign(&signed_text(user_id, category));
    format!("{}{PATH}?u={user_id}&c={}&s={signature}", base_url.trim_end_matches('/'), category.as_str())
}

/// A verified link: this person asked to stop this bulk category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsubscribeLink {
    pub user_id: i64,
    pub category: Category,
}

impl UnsubscribeLink {
    /// Checks the three query parameters; `None` when any is missing, malformed, not a bulk category, or not
    /// signed by `key`.
    pub fn verify(
        key: &SigningKey,
        user: Option<&str>,
        category: Option<&str>,
        signature: Option<&str>,
    ) -> Option<Self> {
        let user_id: i64 = user?.trim().parse().ok()?;
        let category = Category::parse(category?.trim())?;
        if !category.is_bulk() || !key.verify(&signed_text(user_id, category), signature?.trim()) {
            return None;
        }
        Some(Self { user_id, category })
    }

    /// The link's own query string, for the confirmation form to post back to.
    pub fn query(&self, key: &SigningKey) -> String {
        let signature = key.sign(&signed_text(self.user_id, self.category));
        format!("u={}&c={}&s={signature}", self.user_id, self.category.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn key(k: &str) -> SigningKey {
        SigningKey(Secret::new(k))
    }

    fn parts(url: &str) -> (String, String, String) {
        let query = url.split_once('?').unwrap().1;
        let get = |name: &str| {
            query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).unwrap_or_default().to_string()
        };
        (get("u"), get("c"), get("s"))
    }

    #[test]
    fn links_verify_only_with_their_key_and_contents() {
        let k = key("a-key-of-at-least-thirty-two-characters");
        let url = unsubscribe_url(&k, "https://steward.example.org/", 42, Category::Reports);
        assert!(url.starts_with("https://steward.example.org/email/unsubscribe?u=42&c=reports&s="), "{url}");
        let (u, c, s) = parts(&url);
        let link = UnsubscribeLink::verify(&k, Some(&u), Some(&c), Some(&s)).unwrap();
        assert_eq!(link, UnsubscribeLink { user_id: 42, category: Category::Reports });
        assert_eq!(link.query(&k), url.split_once('?').unwrap().1);

        assert_eq!(
            UnsubscribeLink::verify(&key("another-key-entirely-different-0000"), Some(&u), Some(&c), Some(&s)),
            None
        );
        assert_eq!(UnsubscribeLink::verify(&k, Some("43"), Some(&c), Some(&s)), None);
        assert_eq!(UnsubscribeLink::verify(&k, Some(&u), Some("surveys"), Some(&s)), None);
        assert_eq!(UnsubscribeLink::verify(&k, Some(&u), Some(&c), None), None);
        assert_eq!(UnsubscribeLink::verify(&k, Some("x"), Some(&c), Some(&s)), None);
        // Security mail has no unsubscribe link, even a correctly signed one.
        let (u, c, s) = parts(&unsubscribe_url(&k, "http://h", 42, Category::Security));
        assert_eq!(UnsubscribeLink::verify(&k, Some(&u), Some(&c), Some(&s)), None);
    }
}
