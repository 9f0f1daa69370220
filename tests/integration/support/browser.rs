//! A person with a browser: a cookie jar, and the CSRF token of the last page seen, sent with every form.

use std::sync::Mutex;
use std::time::Duration;

pub struct Browser {
    pub client: reqwest::Client,
    base: String,
    csrf: Mutex<String>,
}

/// The value of the first `_csrf` hidden field of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    Some(html[at..].chars().take_while(|c| *c != '"').collect())
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self { client, base: base.to_string(), csrf: Mutex::new(String::new()) }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// GETs a page and remembers its CSRF token.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = self.client.get(self.url(path)).send().await.expect("GET");
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        if let Some(token) = csrf_of(&body) {
            *self.csrf.lock().unwrap() = token;
        }
        (status, body)
    }

    /// Where a redirect goes, or "" when the answer is not a redirect.
    pub fn location(res: &reqwest::Response) -> String {
        res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    }

    /// POSTs a form with the CSRF token of the last page seen (GETs `/` first when there is none).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        if self.csrf.lock().unwrap().is_empty() {
            self.get("/").await;
        }
        if self.csrf.lock().unwrap().is_empty() {
            self.get("/sign-in").await;
        }
        let token = self.csrf.lock().unwrap().clone();
        let mut form: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.client.post(self.url(path)).form(&form).send().await.expect("POST")
    }

    /// Signs in through the form; the answer is the redirect (303) or the form again (422/429).
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.get("/sign-in").await;
        let res = self.post("/sign-in", &[("email", email), ("password", password)]).await;
        // The session has its own CSRF token: pick it up from the next page.
        self.csrf.lock().unwrap().clear();
        res
    }

    /// Forgets the remembered CSRF token (after the session changed).
    pub fn forget_csrf(&self) {
        self.csrf.lock().unwrap().clear();
    }
}
