//! The metric observations CSV import (`metrics::service::import_csv`), run on the demo foundation in a
//! transaction that is rolled back: all or nothing, never an internal error.

use diesel::prelude::*;
use steward::db::schema::metric_observations;
use steward::domain::ImportError;
use steward::metrics::service::import_csv;

/// One input of the `observations_csv` target.
pub fn run(data: &[u8]) {
    super::with_demo(|conn| {
        let council = super::demo_user(conn, "council@demo.steward.invalid");
        let count = |conn: &mut _| -> i64 {
            metric_observations::table.count().get_result(conn).expect("counting observations")
        };
        let before = count(conn);
        let result = import_csv(conn, council, "fuzz.csv", data);
        let after = count(conn);
        match result {
            Ok(added) => {
                assert!(added > 0, "an import that adds nothing is refused");
                assert_eq!(after - before, added as i64, "every row counted is stored");
            }
            Err(ImportError::Problems(problems)) => {
                assert!(!problems.is_empty());
                assert_eq!(after, before, "a refused file writes nothing");
                assert!(problems.iter().all(|p| p.line >= 1 && !p.message.is_empty()), "{problems:?}");
            }
            Err(ImportError::Service(e)) => panic!("an uploaded file caused an internal error: {e:?}"),
        }
    });
}
