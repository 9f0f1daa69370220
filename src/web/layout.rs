//! What every page's frame needs: the title, the site's name and the stylesheet's address.

use super::assets;

/// The data `templates/layout.html` reads; every page struct carries one as `layout`.
#[derive(Clone, Debug)]
pub struct Layout {
    pub title: String,
    pub site_name: String,
    pub stylesheet: String,
}

impl Layout {
    pub fn new(title: impl Into<String>, site_name: impl Into<String>) -> Self {
        Self { title: title.into(), site_name: site_name.into(), stylesheet: assets::stylesheet_path() }
    }

    /// For pages drawn without a database round trip, such as error pages.
    pub fn plain(title: impl Into<String>) -> Self {
        Self::new(title, "Steward")
    }
}
