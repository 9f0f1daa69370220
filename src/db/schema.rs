// One schema for both backends: portable column types only (BigInt ids, Text, Bool, UTC Timestamp, money
// as BigInt minor units). tests/integration/db.rs compares this file with what each migration set builds.

diesel::table! {
    funding_priorities (id) {
        id -> BigInt,
        slug -> Text,
        title -> Text,
        summary -> Text,
        position -> Integer,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    key_outcomes (id) {
        id -> BigInt,
        priority_id -> BigInt,
        description -> Text,
        position -> Integer,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(key_outcomes -> funding_priorities (priority_id));

diesel::allow_tables_to_appear_in_same_query!(funding_priorities, key_outcomes, settings,);
