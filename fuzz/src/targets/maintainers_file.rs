//! A repository's maintainers file (MAINTAINERS.md, CODEOWNERS) as GitHub's contents API returns it
//! (`community::collector::file_text`), and the `@login` mentions read from it
//! (`community::service::logins_in_file`).

use steward::community::collector::file_text;
use steward::community::service::logins_in_file;

fn check(text: &str) {
    let logins = logins_in_file(text);
    for (i, login) in logins.iter().enumerate() {
        assert!((1..=39).contains(&login.len()), "{login:?}");
        assert!(login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{login:?}");
        assert!(text.contains(&format!("@{login}")), "{login:?} is mentioned in the file");
        assert!(!logins[..i].iter().any(|l| l.eq_ignore_ascii_case(login)), "{login:?} twice");
    }
}

/// One input of the `maintainers_file` target.
pub fn run(data: &[u8]) {
    check(&super::text(data));
    if let Ok(text) = file_text(data) {
        check(&text);
    }
}
