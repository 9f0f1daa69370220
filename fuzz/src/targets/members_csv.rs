//! The member organizations CSV import (`members::service::import_csv`), run on the demo foundation in a
//! transaction that is rolled back: all or nothing, never an internal error.

use diesel::prelude::*;
use steward::accounts::model::{AuthMethod, Identity, Role};
use steward::db::schema::{audit_events, members};
use steward::domain::ImportError;
use steward::members::service::import_csv;

/// One input of the `members_csv` target.
pub fn run(data: &[u8]) {
    super::with_demo(|conn| {
        let treasurer = Identity {
            user_id: super::demo_user(conn, "treasurer@demo.steward.invalid"),
            email: "treasurer@demo.steward.invalid".into(),
            display_name: "Treasurer".into(),
            member_id: None,
            roles: vec![Role::Treasurer],
            has_two_factor: false,
            via: AuthMethod::ApiToken { token_id: 0 },
            time_zone: "UTC".into(),
        };
        let count = |conn: &mut _| -> (i64, i64) {
            (
                members::table.count().get_result(conn).expect("counting members"),
                audit_events::table.count().get_result(conn).expect("counting audit events"),
            )
        };
        let (before, events_before) = count(conn);
        let result = import_csv(conn, &treasurer, data);
        let (after, events_after) = count(conn);
        match result {
            Ok(added) => {
                assert!(added > 0, "an import that adds nothing is refused");
                assert_eq!(after - before, added as i64, "every row counted is stored");
                assert_eq!(events_after, events_before + 1, "the import is audited once");
            }
            Err(ImportError::Problems(problems)) => {
                assert!(!problems.is_empty());
                assert_eq!((after, events_after), (before, events_before), "a refused file writes nothing");
                assert!(problems.iter().all(|p| p.line >= 1 && !p.message.is_empty()), "{problems:?}");
            }
            Err(ImportError::Service(e)) => panic!("an uploaded file caused an internal error: {e:?}"),
        }
    });
}
