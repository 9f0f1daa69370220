//! A repository's maintainers file (MAINTAINERS.md, CODEOWNERS) as GitHub's contents API returns it
//! (`community::collector::file_text`), and the `@login` mentions read from it
//! (`community::service::logins_in_file`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| steward_fuzz::maintainers_file::run(data));
