//! Migrations and schema: up, down and up again on both backends, and `schema.rs` matching what each
//! migration set builds.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use steward::db::{self, DbConn};

use crate::backend_tests;
use crate::support::TestDb;

/// table -> column -> (type as schema.rs names it, nullable)
type Shape = BTreeMap<String, BTreeMap<String, (String, bool)>>;

/// Reads `src/db/schema.rs` as text: every `table!` with its columns.
fn schema_rs_shape() -> Shape {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/schema.rs")).unwrap();
    let mut shape = Shape::new();
    let mut table: Option<String> = None;
    let mut in_table_macro = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("diesel::table!") {
            in_table_macro = true;
            continue;
        }
        if in_table_macro && table.is_none() {
            if let Some((name, _)) = line.split_once(" (") {
                table = Some(name.trim().to_string());
                shape.insert(name.trim().to_string(), BTreeMap::new());
            }
            continue;
        }
        if let Some(t) = &table {
            if line.starts_with('}') {
                table = None;
                in_table_macro = false;
                continue;
            }
            if let Some((col, ty)) = line.trim_end_matches(',').split_once(" -> ") {
                let ty = ty.trim();
                let (ty, nullable) = match ty.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')) {
                    Some(inner) => (inner.to_string(), true),
                    None => (ty.to_string(), false),
                };
                shape.get_mut(t).unwrap().insert(col.trim().to_string(), (ty, nullable));
            }
        }
    }
    assert!(!shape.is_empty(), "no tables found in schema.rs");
    shape
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct ColumnInfo {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    not_null: i32,
}

/// What the database itself says, with its types translated to schema.rs names.
fn database_shape(conn: &mut DbConn) -> Shape {
    let columns: Vec<ColumnInfo> = match conn {
        DbConn::Sqlite(_) => {
            let tables: Vec<TableName> = diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name <> '__diesel_schema_migrations'",
            )
            .load(conn)
            .unwrap();
            tables
                .into_iter()
                .flat_map(|t| {
                    diesel::sql_query(format!(
                        "SELECT '{0}' AS table_name, name AS column_name, upper(type) AS data_type, \
                         CAST(\"notnull\" OR pk AS INTEGER) AS not_null FROM pragma_table_info('{0}')",
                        t.name
                    ))
                    .load::<ColumnInfo>(conn)
                    .unwrap()
                })
                .collect()
        }
        DbConn::Postgres(_) => diesel::sql_query(
            "SELECT table_name::text, column_name::text, data_type::text, \
             CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END AS not_null \
             FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name <> '__diesel_schema_migrations'",
        )
        .load(conn)
        .unwrap(),
    };
    let mut shape = Shape::new();
    for c in columns {
        let ty = match c.data_type.as_str() {
            "BIGINT" | "bigint" => "BigInt",
            // SQLite's rowid primary keys must be spelled INTEGER; schema.rs reads them as BigInt.
            "INTEGER" if c.column_name == "id" || c.column_name.ends_with("_id") => "BigInt",
            "INTEGER" | "integer" => "Integer",
            "TEXT" | "text" => "Text",
            "BOOLEAN" | "boolean" => "Bool",
            "TIMESTAMP" | "timestamp without time zone" => "Timestamp",
            "DATE" | "date" => "Date",
            "DOUBLE" | "double precision" => "Double",
            other => panic!("{}.{} has the type {other}, which schema.rs cannot share", c.table_name, c.column_name),
        };
        shape.entry(c.table_name).or_default().insert(c.column_name, (ty.to_string(), c.not_null == 0));
    }
    shape
}

backend_tests! {
    async fn migrations_run_up_down_and_up_again(backend) {
        tokio::task::spawn_blocking(move || {
            let test_db = TestDb::empty(backend);
            let db = test_db.connect();
            let mut conn = db.get().unwrap();
            let applied = db::run_migrations(&mut conn).unwrap();
            assert!(!applied.is_empty());
            assert_eq!(db::pending_migration_count(&mut conn).unwrap(), 0);
            let reverted = db::revert_all_migrations(&mut conn).unwrap();
            assert_eq!(reverted.len(), applied.len());
            assert_eq!(db::pending_migration_count(&mut conn).unwrap(), applied.len());
            // Down really removed the tables.
            assert!(database_shape(&mut conn).is_empty(), "tables left after reverting every migration");
            let again = db::run_migrations(&mut conn).unwrap();
            assert_eq!(again, applied);
        })
        .await
        .unwrap();
    }

    async fn schema_rs_matches_the_migrations(backend) {
        tokio::task::spawn_blocking(move || {
            let (_test_db, db) = TestDb::migrated(backend);
            let mut conn = db.get().unwrap();
            let expected = schema_rs_shape();
            let actual = database_shape(&mut conn);
            let expected_tables: Vec<_> = expected.keys().collect();
            let actual_tables: Vec<_> = actual.keys().collect();
            assert_eq!(expected_tables, actual_tables, "tables in schema.rs vs the {backend:?} migrations");
            for (table, columns) in &expected {
                assert_eq!(columns, &actual[table], "columns of {table}: schema.rs vs the {backend:?} migrations");
            }
        })
        .await
        .unwrap();
    }

    async fn twin_migration_folders_have_the_same_names(backend) {
        let names = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let _ = backend;
        assert_eq!(names("sqlite"), names("postgres"));
    }

    async fn a_failed_write_transaction_leaves_nothing_behind(backend) {
        tokio::task::spawn_blocking(move || {
            let (_test_db, db) = TestDb::migrated(backend);
            let mut conn = db.get().unwrap();
            let result: Result<(), steward::domain::ServiceError> = db::write_transaction(&mut conn, |conn| {
                steward::settings::service::set(conn, "probe", "written")?;
                Err(steward::domain::ServiceError::Conflict("abort".into()))
            });
            assert!(result.is_err());
            assert_eq!(steward::settings::service::get(&mut conn, "probe").unwrap(), None);
            // The connection is usable again afterwards.
            steward::settings::service::set(&mut conn, "probe", "kept").unwrap();
            assert_eq!(steward::settings::service::get(&mut conn, "probe").unwrap().as_deref(), Some("kept"));
        })
        .await
        .unwrap();
    }
}

/// TLS to PostgreSQL works with the built-in libpq (`sslmode=require`); PostgreSQL only, since SQLite is a
/// local file.
#[test]
fn postgres_connections_can_require_tls() {
    use diesel::sql_types::Bool;
    use steward::config::DatabaseUrl;

    #[derive(QueryableByName)]
    struct Ssl {
        #[diesel(sql_type = Bool)]
        ssl: bool,
    }
    let test_db = TestDb::empty(crate::support::Backend::Postgres);
    let url = DatabaseUrl::parse(&format!("{}?sslmode=require", test_db.url_string())).unwrap();
    let db = steward::db::Db::connect(&url, 1, std::time::Duration::from_secs(5)).expect("TLS connection");
    let row: Ssl = diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result(&mut db.get().unwrap())
        .unwrap();
    assert!(row.ssl, "the connection is encrypted");
}
