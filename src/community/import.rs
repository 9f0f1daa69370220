//! Reading what GitHub returns (one API page, or a file saved by `gh api --paginate`) and coverage reports
//! (Cobertura XML, LCOV) into plain values. Pure: no database, no network; bad input is an error that says
//! where, never a panic.

use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;

/// What kind of GitHub item a JSON object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PullRequest,
    Issue,
    Comment,
    Release,
    Advisory,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PullRequest => "pull_request",
            Self::Issue => "issue",
            Self::Comment => "comment",
            Self::Release => "release",
            Self::Advisory => "advisory",
        }
    }
}

/// One item as stored: enough to compute every series and to link back to GitHub.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedItem {
    pub kind: Kind,
    pub github_id: i64,
    pub number: Option<i64>,
    pub author: String,
    pub occurred_at: NaiveDateTime,
    pub merged_at: Option<NaiveDateTime>,
    pub title: String,
    pub detail: String,
    pub url: String,
    /// When GitHub last changed it (for incremental collection); not stored.
    pub updated_at: Option<NaiveDateTime>,
}

/// An item left out, and why (shown with the data quality).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub item: String,
    pub reason: String,
}

/// What one page or file held.
#[derive(Debug, Default)]
pub struct Parsed {
    pub items: Vec<ParsedItem>,
    pub skipped: Vec<Skipped>,
}

/// Parses a JSON document: one array (an API page), several arrays one after another (`gh api --paginate`),
/// or one object. Each object's kind is recognised from its fields.
pub fn parse_github_json(text: &[u8]) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let mut any = false;
    for (n, value) in serde_json::Deserializer::from_slice(text).into_iter::<Value>().enumerate() {
        let value = value.map_err(|e| format!("is not valid JSON (line {}, column {}): {e}", e.line(), e.column()))?;
        any = true;
        match value {
            Value::Array(objects) => {
                for (i, object) in objects.iter().enumerate() {
                    parse_object(object, &format!("document {}, item {}", n + 1, i + 1), &mut out)?;
                }
            }
            Value::Object(_) => parse_object(&value, &format!("document {}", n + 1), &mut out)?,
            _ => return Err(format!("document {} is neither a list nor an object of GitHub items", n + 1)),
        }
    }
    if !any {
        return Err("is empty".into());
    }
    Ok(out)
}

fn text(o: &Value, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(str::to_string)
}

fn time(o: &Value, key: &str, place: &str) -> Result<Option<NaiveDateTime>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.naive_utc()))
            .map_err(|_| format!("{place}: {key} '{s}' is not a date and time like 2026-09-30T12:00:00Z")),
        Some(_) => Err(format!("{place}: {key} is not a date and time")),
    }
}

fn login(o: &Value, key: &str) -> Option<String> {
    o.get(key).and_then(|u| u.get("login")).and_then(Value::as_str).map(str::to_string)
}

/// Which kind of item an object is, from the fields only that kind has.
pub fn kind_of(o: &Value) -> Option<Kind> {
    if o.get("ghsa_id").is_some() {
        Some(Kind::Advisory)
    } else if o.get("tag_name").is_some() {
        Some(Kind::Release)
    } else if o.get("merged_at").is_some() && o.get("head").is_some() {
        Some(Kind::PullRequest)
    } else if o.get("issue_url").is_some() && o.get("number").is_none() {
        Some(Kind::Comment)
    } else if o.get("number").is_some() && o.get("title").is_some() {
        Some(Kind::Issue)
    } else {
        None
    }
}

fn parse_object(o: &Value, place: &str, out: &mut Parsed) -> Result<(), String> {
    if !o.is_object() {
        return Err(format!("{place} is not an object"));
    }
    let Some(kind) = kind_of(o) else {
        return Err(format!(
            "{place} is not a pull request, issue, comment, release or security advisory as GitHub's API returns them"
        ));
    };
    let github_id = o.get("id").and_then(Value::as_i64);
    let number = o.get("number").and_then(Value::as_i64);
    let url = text(o, "html_url").unwrap_or_default();
    let name = match kind {
        Kind::Advisory => text(o, "ghsa_id").unwrap_or_default(),
        Kind::Release => text(o, "tag_name").unwrap_or_default(),
        _ => number.map(|n| format!("#{n}")).or_else(|| github_id.map(|i| format!("comment {i}"))).unwrap_or_default(),
    };
    let place = if name.is_empty() { place.to_string() } else { format!("{place} ({name})") };
    // An issue that is a pull request comes again, with more detail, from the pulls endpoint.
    if kind == Kind::Issue && o.get("pull_request").is_some_and(|p| !p.is_null()) {
        return Ok(());
    }
    let updated_at = time(o, "updated_at", &place)?;
    let (github_id, author, occurred_at) = match kind {
        Kind::Advisory => {
            // Advisories have no numeric id; a stable one is made from the GHSA id.
            let ghsa = text(o, "ghsa_id").ok_or_else(|| format!("{place}: ghsa_id is not text"))?;
            let published = time(o, "published_at", &place)?;
            let Some(published) = published else {
                out.skipped.push(Skipped { item: ghsa, reason: "advisory not published".into() });
                return Ok(());
            };
            (ghsa_number(&ghsa), login(o, "publisher").or_else(|| login(o, "author")).unwrap_or_default(), published)
        }
        Kind::Release => {
            let id = github_id.ok_or_else(|| format!("{place}: id is missing or not a number"))?;
            let at = match time(o, "published_at", &place)? {
                Some(t) => t,
                None => time(o, "created_at", &place)?.ok_or_else(|| format!("{place}: created_at is missing"))?,
            };
            (id, login(o, "author").unwrap_or_default(), at)
        }
        _ => {
            let id = github_id.ok_or_else(|| format!("{place}: id is missing or not a number"))?;
            let at = time(o, "created_at", &place)?.ok_or_else(|| format!("{place}: created_at is missing"))?;
            let Some(author) = login(o, "user") else {
                out.skipped.push(Skipped { item: name, reason: "no author (deleted account)".into() });
                return Ok(());
            };
            (id, author, at)
        }
    };
    if author.ends_with("[bot]") {
        out.skipped.push(Skipped { item: name, reason: format!("written by a bot ({author})") });
        return Ok(());
    }
    let mut item = ParsedItem {
        kind,
        github_id,
        number,
        author,
        occurred_at,
        merged_at: None,
        title: String::new(),
        detail: String::new(),
        url,
        updated_at,
    };
    match kind {
        Kind::PullRequest => {
            item.merged_at = time(o, "merged_at", &place)?;
            item.title = text(o, "title").unwrap_or_default();
        }
        Kind::Issue => item.title = text(o, "title").unwrap_or_default(),
        Kind::Comment => {
            let issue_url = text(o, "issue_url").unwrap_or_default();
            item.number = issue_url.rsplit('/').next().and_then(|n| n.parse().ok());
            if item.number.is_none() {
                return Err(format!("{place}: issue_url '{issue_url}' does not end in an issue number"));
            }
        }
        Kind::Release => {
            item.title = name;
            let draft = o.get("draft").and_then(Value::as_bool).unwrap_or(false);
            let pre = o.get("prerelease").and_then(Value::as_bool).unwrap_or(false);
            item.detail = if draft {
                "draft"
            } else if pre {
                "prerelease"
            } else {
                ""
            }
            .into();
        }
        Kind::Advisory => {
            item.title = name;
            let mut patched = Vec::new();
            if let Some(vulns) = o.get("vulnerabilities").and_then(Value::as_array) {
                for v in vulns {
                    if let Some(p) = v.get("patched_versions").and_then(Value::as_str) {
                        patched.extend(p.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
                    }
                }
            }
            item.detail = patched.join(",");
        }
    }
    out.items.push(item);
    Ok(())
}

/// A stable positive number for an advisory's GHSA id (FNV-1a, 53 bits).
fn ghsa_number(ghsa: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in ghsa.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 11) as i64
}

/// Lines covered and lines measured, from a coverage report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCoverage {
    pub covered: i64,
    pub valid: i64,
    pub format: &'static str,
}

/// Reads a Cobertura XML or LCOV report, told apart by its content.
pub fn parse_coverage(data: &[u8]) -> Result<LineCoverage, String> {
    let text = std::str::from_utf8(data).map_err(|_| "is not UTF-8 text".to_string())?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('<') {
        parse_cobertura(trimmed)
    } else {
        parse_lcov(trimmed)
    }
}

/// Cobertura: the `lines-covered` and `lines-valid` attributes of the root `<coverage>` element.
pub fn parse_cobertura(text: &str) -> Result<LineCoverage, String> {
    let start = text.find("<coverage").ok_or("has no <coverage> element; is it a Cobertura XML report?")?;
    let rest = &text[start + "<coverage".len()..];
    if !rest.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
        return Err("has no <coverage> element; is it a Cobertura XML report?".into());
    }
    let end = rest.find('>').ok_or("ends inside the <coverage> element")?;
    let attrs = &rest[..end];
    if !rest[end..].contains("</coverage>") && !attrs.trim_end().ends_with('/') {
        return Err("is cut short: the <coverage> element is never closed".into());
    }
    let attr = |name: &str| -> Option<&str> {
        let mut s = attrs;
        while let Some(i) = s.find(name) {
            let before_ok = i == 0 || s[..i].ends_with(char::is_whitespace);
            let after = s[i + name.len()..].trim_start();
            if before_ok {
                if let Some(after) = after.strip_prefix('=') {
                    let after = after.trim_start();
                    let quote = after.chars().next()?;
                    if quote == '"' || quote == '\'' {
                        let body = &after[1..];
                        return body.find(quote).map(|j| &body[..j]);
                    }
                }
            }
            s = &s[i + name.len()..];
        }
        None
    };
    let number = |name: &str| -> Result<i64, String> {
        let raw = attr(name).ok_or_else(|| format!("<coverage> has no {name} attribute"))?;
        raw.trim().parse::<i64>().map_err(|_| format!("<coverage> {name}=\"{raw}\" is not a whole number"))
    };
    let covered = number("lines-covered")?;
    let valid = number("lines-valid")?;
    check(covered, valid, "cobertura")
}

fn check(covered: i64, valid: i64, format: &'static str) -> Result<LineCoverage, String> {
    if valid <= 0 {
        return Err("measures no lines".into());
    }
    if covered < 0 || covered > valid {
        return Err(format!("says {covered} of {valid} lines are covered, which cannot be"));
    }
    Ok(LineCoverage { covered, valid, format })
}

/// LCOV: the sum of `LH` (lines hit) and `LF` (lines found) over every file record; a record without them
/// counts its `DA` lines.
pub fn parse_lcov(text: &str) -> Result<LineCoverage, String> {
    let (mut covered, mut valid) = (0i64, 0i64);
    let (mut hit, mut found, mut da_hit, mut da_found) = (None::<i64>, None::<i64>, 0i64, 0i64);
    let mut in_record = false;
    let mut records = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let n = i + 1;
        if line.is_empty() {
            continue;
        }
        // Counts are never negative; a total too large for an i64 is refused rather than wrapped.
        let number = |raw: &str| {
            raw.trim()
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| format!("line {n}: '{line}' has no whole number of lines"))
        };
        if let Some(_path) = line.strip_prefix("SF:") {
            if in_record {
                return Err(format!("line {n}: a new file starts before end_of_record"));
            }
            in_record = true;
            (hit, found, da_hit, da_found) = (None, None, 0, 0);
        } else if line == "end_of_record" {
            if !in_record {
                return Err(format!("line {n}: end_of_record without a file (SF:) before it"));
            }
            let f = found.unwrap_or(da_found);
            let h = hit.unwrap_or(da_hit);
            if h > f {
                return Err(format!("line {n}: more lines hit ({h}) than found ({f})"));
            }
            let too_many = || format!("line {n}: the line counts add up to more than any report has");
            covered = covered.checked_add(h).ok_or_else(too_many)?;
            valid = valid.checked_add(f).ok_or_else(too_many)?;
            records += 1;
            in_record = false;
        } else if let Some(v) = line.strip_prefix("LH:") {
            hit = Some(number(v)?);
        } else if let Some(v) = line.strip_prefix("LF:") {
            found = Some(number(v)?);
        } else if let Some(v) = line.strip_prefix("DA:") {
            let mut parts = v.split(',');
            let _line_no = number(parts.next().unwrap_or_default())?;
            let count = number(parts.next().unwrap_or_default())?;
            da_found += 1;
            if count > 0 {
                da_hit += 1;
            }
        } else if line.split_once(':').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        }) {
            // TN, FN, FNDA, FNF, FNH, BRDA, BRF, BRH, VER: not about lines.
        } else {
            return Err(format!("line {n}: '{}' is not LCOV", line.chars().take(60).collect::<String>()));
        }
    }
    if in_record {
        return Err("is cut short: the last file has no end_of_record".into());
    }
    if records == 0 {
        return Err("has no file records (SF: ... end_of_record); is it an LCOV report?".into());
    }
    check(covered, valid, "lcov")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_every_kind_are_recognised() {
        let text = br#"[{"id": 1, "number": 5, "title": "Fix", "user": {"login": "ann"}, "created_at": "2026-01-10T10:00:00Z",
            "merged_at": "2026-01-12T10:00:00Z", "head": {}, "html_url": "u"}]
            [{"id": 2, "number": 6, "title": "Bug", "user": {"login": "bob"}, "created_at": "2026-01-11T00:00:00Z"},
             {"id": 3, "number": 5, "title": "Fix", "user": {"login": "ann"}, "created_at": "2026-01-10T10:00:00Z", "pull_request": {}},
             {"id": 4, "issue_url": "https://api.github.com/repos/o/r/issues/5", "user": {"login": "cy"}, "created_at": "2026-01-10T12:00:00Z"},
             {"id": 5, "tag_name": "v1.2.0", "author": {"login": "ann"}, "published_at": "2026-02-01T00:00:00Z", "draft": false, "prerelease": false},
             {"ghsa_id": "GHSA-aaaa", "published_at": "2026-02-03T00:00:00Z", "vulnerabilities": [{"patched_versions": "1.2.1, 1.1.9"}]},
             {"id": 6, "issue_url": "x/7", "user": {"login": "dependabot[bot]"}, "created_at": "2026-01-10T12:00:00Z"}]"#;
        let parsed = parse_github_json(text).unwrap();
        let kinds: Vec<Kind> = parsed.items.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, [Kind::PullRequest, Kind::Issue, Kind::Comment, Kind::Release, Kind::Advisory]);
        assert_eq!(parsed.items[2].number, Some(5));
        assert_eq!(parsed.items[4].detail, "1.2.1,1.1.9");
        assert_eq!(parsed.skipped.len(), 1);
        assert!(parsed.skipped[0].reason.contains("bot"));
    }

    #[test]
    fn bad_json_says_where_and_never_panics() {
        assert!(parse_github_json(b"[{\"id\": 1,").unwrap_err().contains("not valid JSON"));
        assert!(parse_github_json(b"").unwrap_err().contains("empty"));
        assert!(parse_github_json(b"42").unwrap_err().contains("neither"));
        assert!(parse_github_json(b"[{\"foo\": 1}]").unwrap_err().contains("item 1"));
        let bad_date = br#"[{"id": 2, "number": 6, "title": "B", "user": {"login": "b"}, "created_at": "yesterday"}]"#;
        assert!(parse_github_json(bad_date).unwrap_err().contains("created_at 'yesterday'"));
        for junk in [&b"\xff\xfe"[..], b"[[[", b"{}", b"[null]", b"[{\"id\": \"x\", \"tag_name\": 1}]"] {
            let _ = parse_github_json(junk);
        }
    }

    #[test]
    fn cobertura_and_lcov_are_read() {
        let xml = r#"<?xml version="1.0"?><coverage line-rate="0.8" lines-covered="800" lines-valid="1000" version="1"><packages/></coverage>"#;
        assert_eq!(
            parse_coverage(xml.as_bytes()).unwrap(),
            LineCoverage { covered: 800, valid: 1000, format: "cobertura" }
        );
        let lcov = "TN:\nSF:src/a.rs\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\nSF:src/b.rs\nDA:1,3\nDA:2,1\nDA:3,0\nend_of_record\n";
        assert_eq!(parse_coverage(lcov.as_bytes()).unwrap(), LineCoverage { covered: 3, valid: 5, format: "lcov" });
    }

    #[test]
    fn bad_coverage_files_are_refused_with_a_reason() {
        assert!(parse_coverage(b"<coverage lines-valid=\"10\"></coverage>").unwrap_err().contains("lines-covered"));
        assert!(parse_coverage(b"<coverage lines-covered=\"11\" lines-valid=\"10\"></coverage>").is_err());
        assert!(parse_coverage(b"<coverage lines-covered=\"1\" lines-valid=\"10\">")
            .unwrap_err()
            .contains("cut short"));
        assert!(parse_coverage(b"<html></html>").unwrap_err().contains("Cobertura"));
        assert!(parse_coverage(b"SF:a\nDA:1,1\n").unwrap_err().contains("end_of_record"));
        assert!(parse_coverage(b"hello world").unwrap_err().contains("not LCOV"));
        assert!(parse_coverage(b"").unwrap_err().contains("no file records"));
        assert!(parse_coverage(b"SF:a\nLF:x\nend_of_record").unwrap_err().contains("line 2"));
        assert!(parse_coverage(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn hostile_coverage_files_are_refused_without_a_panic() {
        // Found by the fuzzer (fuzz/fuzz_targets/coverage.rs): a multi-byte character just before the end of
        // the <coverage> tag made the reader slice inside it.
        let cut = "<?xml version=\"1.0\"?><coverage WER:2\nSF:x.py\nDA:\u{3f3}\u{3e1}/>";
        assert!(parse_coverage(cut.as_bytes()).unwrap_err().contains("lines-covered"));
        let wide = "<coverage lines-covered=\"1\" lines-valid=\"2\" \u{e9}\u{e9}\u{e9}\u{e9}\u{e9}></coverage>";
        assert_eq!(
            parse_coverage(wide.as_bytes()).unwrap(),
            LineCoverage { covered: 1, valid: 2, format: "cobertura" }
        );
        // Totals past i64 used to overflow (a panic in debug builds, a wrapped total in release ones).
        let max = i64::MAX;
        let huge = format!("SF:a\nLF:{max}\nLH:{max}\nend_of_record\nSF:b\nLF:{max}\nLH:1\nend_of_record\n");
        assert!(parse_coverage(huge.as_bytes()).unwrap_err().contains("add up"));
        // A negative count could hide lines: -5 hit in one file made another's misses look covered.
        let negative = "SF:a\nLF:0\nLH:-5\nend_of_record\nSF:b\nLF:10\nLH:10\nend_of_record\n";
        assert!(parse_coverage(negative.as_bytes()).unwrap_err().contains("line 3"));
        assert!(parse_coverage(b"SF:a\nDA:1,-1\nend_of_record\n").is_err());
    }
}
