//! The fuzz targets' bodies, one module each with `run(data)`, and what they share. Two users include this
//! folder: the cargo-fuzz binaries in `fuzz/fuzz_targets/` (through `steward_fuzz`), which libFuzzer drives,
//! and the integration test `fuzz_corpus`, which replays every committed input in the ordinary test build (so
//! CI checks the corpus without building the fuzz targets). It therefore names no crate but `steward` and
//! its dependencies.
//!
//! The imports (members and observations CSV) run on an in-memory SQLite database holding the demo
//! foundation, whose rows they are checked against, each in a transaction that is rolled back, so that every
//! input meets the same state.

pub mod coverage;
pub mod dates;
pub mod exchange_rate;
pub mod flash_cookie;
pub mod github_json;
pub mod maintainers_file;
pub mod members_csv;
pub mod metric_value;
pub mod money;
pub mod observations_csv;
pub mod survey_answers;
pub mod totp;

use std::cell::RefCell;

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use r2d2::ManageConnection;
use steward::config::DatabaseUrl;
use steward::db::{self, ConnectionManager, DbConn};

thread_local! {
    static DEMO: RefCell<Option<DbConn>> = const { RefCell::new(None) };
}

/// Opens an in-memory SQLite database the way Steward opens its own (same pragmas), migrated and seeded
/// with the demo foundation.
fn open_demo() -> DbConn {
    let manager = ConnectionManager::new(DatabaseUrl::Sqlite(":memory:".into()));
    let mut conn = manager.connect().expect("opening an in-memory SQLite database");
    db::run_migrations(&mut conn).expect("migrating the fuzz database");
    steward::demo::seed(&mut conn, "http://localhost:8080").expect("seeding the demo foundation");
    conn
}

/// Builds the demo database now, on this thread. The CSV targets call it from libFuzzer's initialisation, so
/// that building it (seconds in an unoptimised build, longer on a busy machine) never counts against the time
/// limit of the first input; `with_demo` builds it on first use otherwise.
pub fn prepare_demo() {
    DEMO.with(|cell| {
        cell.borrow_mut().get_or_insert_with(open_demo);
    });
}

/// Runs `f` on the demo database inside a transaction that is always rolled back afterwards.
pub fn with_demo<T>(f: impl FnOnce(&mut DbConn) -> T) -> T {
    DEMO.with(|cell| {
        let mut slot = cell.borrow_mut();
        let conn = slot.get_or_insert_with(open_demo);
        let mut out = None;
        let rolled = conn.transaction::<(), DieselError, _>(|c| {
            out = Some(f(c));
            Err(DieselError::RollbackTransaction)
        });
        assert!(matches!(rolled, Err(DieselError::RollbackTransaction)), "rolling back failed: {rolled:?}");
        out.expect("the closure ran")
    })
}

/// The id of a demo user, by email.
pub fn demo_user(conn: &mut DbConn, email: &str) -> i64 {
    use steward::db::schema::users;
    users::table.filter(users::email.eq(email)).select(users::id).first(conn).expect("a demo user")
}

/// Input bytes as text, lossily: the parsers below take `&str`, and invalid UTF-8 is not their concern.
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}
