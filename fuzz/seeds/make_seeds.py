#!/usr/bin/env python3
"""Writes the hand-made starting inputs of each fuzz target into fuzz/corpus/<target>/ (run once before
the first fuzzing; the corpus committed is what fuzzing and `cargo fuzz cmin` made of these)."""
import base64, hashlib, json, os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..", "corpus")

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)

def i64(n):
    return struct.pack("<q", n)

# Money as people type it, in several locales' habits (the parser reads 1,234.56 and refuses the others).
for s in ["1,234.56", "1234.5", " 25000 ", "5000", "1.005", "0", "0.05", "100,000.00", "1_000_000",
          "1.234,56", "1 234,56", "1\u202f234,56", "1'234.56", "12.345", "-5", "abc", "1.", ".5", "1e5",
          "$1,000", "EUR 12.00", "99999999999999999999", "1000000000000000", "10000000000000.00", "usd"]:
    put("money", s)
for n in [0, 5, -1200, 123456, 2**63 - 1, -2**63, 10**18]:
    put("money", i64(n) + b"1,234.56")

for s in ["1.0850", "0.92", "1.5", "0.0067", "150", "1000000", "0.0000000001", "1.12345678901", "10000000",
          "0", "1,5", "007.50"]:
    put("exchange_rate", s)
    put("exchange_rate", s.encode() + i64(10_000))
    put("exchange_rate", s.encode() + i64(-2**63))

for s in ["87.5", "-3", "1,204", "0.125", "+12", "1.2345", "NaN", "inf", "1e3", "--1", "1000000000000000"]:
    put("metric_value", s)
for n in [87500, -3000, 2**63 - 1, -2**63, 10**18]:
    put("metric_value", i64(n))

for s in ["2026-Q3", "2026-H2", "2026-09", " 2026-q4 ", "2024-02", "2000-Q1", "2999-H1", "1999-Q1", "2026-13",
          "2026-Q+1", "2026-07-01", "2024-02-29", "2027-01-01", "2026-12-01T09:00", "2026-12-01 09:00",
          "2026-12-01T09:00:30", "01/07/2026", "overall", "subproject:core", "repository:notebook/core",
          "subproject:core\nmonth", "repository:notebook/widgets\nquarter", "2026-11\nmonth", "9999-12"]:
    put("dates", s)

cobertura = '''<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage branch-rate="0" branches-covered="0" branches-valid="0" complexity="0" line-rate="0.8123" lines-covered="1873" lines-valid="2306" timestamp="1764150000" version="1.9">
\t<sources><source>/home/ci/notebook/core</source></sources>
\t<packages>
\t\t<package name="src" line-rate="0.8123" branch-rate="0" complexity="0">
\t\t\t<classes>
\t\t\t\t<class name="kernel.rs" filename="src/kernel.rs" line-rate="0.75" branch-rate="0" complexity="0">
\t\t\t\t\t<methods/>
\t\t\t\t\t<lines><line number="1" hits="3"/><line number="2" hits="0"/><line number="4" hits="12"/></lines>
\t\t\t\t</class>
\t\t\t</classes>
\t\t</package>
\t</packages>
</coverage>
'''
put("coverage", cobertura)
put("coverage", '<?xml version="1.0"?><coverage lines-covered=\'0\' lines-valid=\'10\'/>')
put("coverage", '\ufeff<coverage line-rate="1" lines-covered="5" lines-valid="5" version="7.4.1"></coverage>')
lcov = '''TN:
SF:/home/ci/notebook/core/src/kernel.rs
FN:12,_RNvCs1_6kernel5start
FNDA:4,_RNvCs1_6kernel5start
FNF:1
FNH:1
DA:12,4
DA:13,4
DA:14,0
BRDA:13,0,0,1
BRF:1
BRH:1
LF:3
LH:2
end_of_record
SF:/home/ci/notebook/core/src/wire.rs
DA:1,1
DA:2,0
DA:3,7
end_of_record
'''
put("coverage", lcov)
put("coverage", "SF:a\nLF:9223372036854775807\nLH:1\nend_of_record\n")
put("coverage", "VER:2\nSF:x.py\nDA:1,1,abc\nend_of_record\n")

user = lambda login: {"login": login, "id": 1000 + len(login), "type": "User", "site_admin": False}
pr = {"url": "https://api.github.com/repos/notebook/core/pulls/412", "id": 2044471234, "number": 412,
      "state": "closed", "title": "Kernel: restart without losing widgets", "user": user("ada"),
      "body": "Fixes #398.", "created_at": "2026-09-02T08:14:55Z", "updated_at": "2026-09-04T10:00:01Z",
      "closed_at": "2026-09-04T09:59:59Z", "merged_at": "2026-09-04T09:59:59Z",
      "head": {"ref": "restart", "sha": "a1b2c3"}, "base": {"ref": "main"},
      "html_url": "https://github.com/notebook/core/pull/412", "draft": False}
issue = {"id": 2011223344, "number": 398, "title": "Restart loses widget state", "user": user("mei"),
         "state": "open", "comments": 3, "created_at": "2026-08-20T17:03:00Z", "updated_at": "2026-09-04T10:00:00Z",
         "html_url": "https://github.com/notebook/core/issues/398", "labels": [{"name": "bug"}]}
issue_pr = dict(issue, number=412, pull_request={"url": "https://api.github.com/repos/notebook/core/pulls/412"})
comment = {"id": 3311002200, "issue_url": "https://api.github.com/repos/notebook/core/issues/398",
           "user": user("lin"), "created_at": "2026-08-21T09:00:00Z", "updated_at": "2026-08-21T09:00:00Z",
           "body": "Reproduced on 7.2.", "html_url": "https://github.com/notebook/core/issues/398#issuecomment-1"}
bot = dict(comment, id=3311002201, user={"login": "dependabot[bot]", "type": "Bot"})
release = {"id": 170001, "tag_name": "v7.3.0", "name": "7.3.0", "draft": False, "prerelease": False,
           "author": user("ada"), "created_at": "2026-09-10T12:00:00Z", "published_at": "2026-09-10T12:30:00Z",
           "html_url": "https://github.com/notebook/core/releases/tag/v7.3.0"}
advisory = {"ghsa_id": "GHSA-8r3f-844c-mc37", "cve_id": "CVE-2026-1234", "summary": "XSS in widget labels",
            "severity": "medium", "published_at": "2026-09-12T00:00:00Z", "updated_at": "2026-09-12T00:00:00Z",
            "publisher": user("ada"), "vulnerabilities": [{"package": {"ecosystem": "pip", "name": "nbcore"},
            "vulnerable_version_range": "< 7.3.1", "patched_versions": "7.3.1, 7.2.9"}]}
draft_advisory = dict(advisory, ghsa_id="GHSA-xxxx-yyyy-zzzz", published_at=None)
put("github_json", json.dumps([pr]))
put("github_json", json.dumps([issue, issue_pr]) + "\n" + json.dumps([comment, bot]))
put("github_json", json.dumps([release, dict(release, id=170002, tag_name="v7.4.0rc1", prerelease=True)]))
put("github_json", json.dumps([advisory, draft_advisory]))
put("github_json", json.dumps(pr, indent=2))
put("github_json", json.dumps([dict(pr, user=None), dict(issue, created_at="yesterday")]))
put("github_json", "[]")

maintainers = """# Maintainers

| Name | GitHub | Area |
|------|--------|------|
| Ada Lovelace | @ada | kernel, releases |
| Lin Chen | [@lin](https://github.com/lin) | widgets |
* Sam Okafor (@sam-okafor) <sam@example.org>
"""
codeowners = "# Owners\n*       @ada @lin\n/docs/  @notebook/docs-team @mei\n*.py    @Ada\n"
put("maintainers_file", maintainers)
put("maintainers_file", codeowners)
for text in [maintainers, codeowners]:
    b64 = base64.b64encode(text.encode()).decode()
    content = "\n".join(b64[i:i + 60] for i in range(0, len(b64), 60)) + "\n"
    put("maintainers_file", json.dumps({"type": "file", "encoding": "base64", "name": "MAINTAINERS.md",
                                        "path": "MAINTAINERS.md", "size": len(text), "content": content}))
put("maintainers_file", json.dumps({"type": "dir", "content": ""}))

for s in ["4", "-3", "0", "10", "[]", "[1,2,3]", "[ 2, 0 ]", "[40,60]", '"a text"', '"4"', "4.5", "+4",
          "[1,,2]", "null", '{"a":1}', " 7", "9223372036854775807", "-0", "1\n2\n3\n4", "2\n1\n4\n3",
          "40\n30\n30", "0\n2", "87.5", "Faster releases, please.", "5\n\n\n"]:
    put("survey_answers", s)

members_csv = """name,slug,tier,status,joined_on,renews_on,website,country
Orbit Data,orbit-data,Gold,active,2026-01-15,2027-01-15,https://orbit.example.org,US
"Pine & Oak, Inc.",pine-oak,Silver,prospective,,,,DE
Quill Research,quill-research,Community,lapsed,2024-03-01,2025-03-01,http://quill.example,GB
"""
put("members_csv", members_csv)
put("members_csv", "\ufeffName,Slug,Tier,Status,Joined_On,Renews_On,Website,Country\r\nA,ab,,,,,,\r\n")
put("members_csv", members_csv.replace("orbit-data", "quanta-labs"))
put("members_csv", "name,slug,tier,status,joined_on,renews_on,website,country\nX,x-y,Platinum,active,2026-02-30,,ftp://x,\n")
put("members_csv", "name,slug\nA,b\n")
put("members_csv", 'name,slug,tier,status,joined_on,renews_on,website,country\n"unterminated,a,b\n')

obs_csv = """metric,observed_on,value,note
non-maintainer-prs,2026-10-31,212,October count from the collector
core-coverage,2026-09-30,81.23,Cobertura from CI
days-to-fix,2026-10-31,-0.5,
member-value,2026-10-31,"1,204",survey wave 3
"""
put("observations_csv", obs_csv)
put("observations_csv", "metric,observed_on,value,note\nno-such-metric,2026-10-31,1,\ndues-revenue,31/10/2026,1e3,\n")
put("observations_csv", "metric,observed_on,value,note\nminor-releases,2026-10-31,2,\nminor-releases,2026-10-31,3,\n")
put("observations_csv", "\ufeffMETRIC , Observed_On,value,note\r\nranking,2026-01-01,1.2345,x\r\n")

for t, code in [(1_764_150_000, "123456"), (59, "287 082"), (0, "000000"), (-1, "12a456"), (2**63 - 1, "999999")]:
    put("totp", i64(t) + code.encode())
put("totp", b"JBSWY3DPEHPK3PXP")

for s in ["success%3AInvitation%20sent.", "error:The%20file%20has%202%20problems.", "info:", "success%3A%E2%9C%93",
          "warning:x", "error%3", "%zz", "success:%FF"]:
    put("flash_cookie", s)
