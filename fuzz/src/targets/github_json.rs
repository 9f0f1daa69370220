//! Repository data from GitHub's API or a `gh api --paginate` file (`community::import::parse_github_json`).

use steward::community::import::{parse_github_json, Kind};

/// One input of the `github_json` target.
pub fn run(data: &[u8]) {
    let Ok(parsed) = parse_github_json(data) else { return };
    for item in &parsed.items {
        assert!(!item.author.ends_with("[bot]"), "bots are skipped: {item:?}");
        match item.kind {
            Kind::Comment => assert!(item.number.is_some(), "a comment names its issue: {item:?}"),
            Kind::Advisory => assert!(item.github_id >= 0, "advisory ids are positive: {item:?}"),
            Kind::Issue | Kind::PullRequest | Kind::Release => {}
        }
        if item.kind != Kind::PullRequest {
            assert!(item.merged_at.is_none(), "only pull requests are merged: {item:?}");
        }
    }
    // What was read is the same when read again from its own text.
    let again = parse_github_json(data).map(|p| p.items.len());
    assert_eq!(again, Ok(parsed.items.len()));
}
