//! What every page's frame needs: title, site name, stylesheet, navigation for the viewer's roles, the
//! CSRF token for forms, and a one-time message.

use super::assets;
use super::flash::Flash;

#[derive(Clone, Debug)]
pub struct NavLink {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// The data `templates/layout.html` reads; every page struct carries one as `layout`.
#[derive(Clone, Debug)]
pub struct Layout {
    pub title: String,
    pub site_name: String,
    pub stylesheet: String,
    /// The token every form sends back as `_csrf`.
    pub csrf: String,
    /// The signed-in person's name, when someone is signed in.
    pub user_name: Option<String>,
    pub nav: Vec<NavLink>,
    pub flash: Option<Flash>,
    /// Where this page sits: (label, link) pairs from the top, without the page itself.
    pub breadcrumbs: Vec<(String, String)>,
    /// The viewer's time zone (IANA name): templates show times with `.shown_in(layout.time_zone)`.
    pub time_zone: String,
}

impl Layout {
    pub fn new(title: impl Into<String>, site_name: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            site_name: site_name.into(),
            stylesheet: assets::stylesheet_path(),
            csrf: String::new(),
            user_name: None,
            nav: Vec::new(),
            flash: None,
            breadcrumbs: Vec::new(),
            time_zone: "UTC".into(),
        }
    }

    /// For pages drawn without a database round trip, such as error pages.
    pub fn plain(title: impl Into<String>) -> Self {
        Self::new(title, "Steward")
    }

    pub fn crumb(mut self, label: impl Into<String>, href: impl Into<String>) -> Self {
        self.breadcrumbs.push((label.into(), href.into()));
        self
    }
}
