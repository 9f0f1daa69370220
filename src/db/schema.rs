// One schema for both backends: portable column types only (BigInt ids, Text, Bool, UTC Timestamp, money
// as BigInt minor units). tests/integration/db.rs compares this file with what each migration set builds.

diesel::table! {
    allocations (id) {
        id -> BigInt,
        initiative_id -> BigInt,
        budget_id -> BigInt,
        budget_line_id -> Nullable<BigInt>,
        amount_minor -> BigInt,
        currency -> Text,
        note -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    budget_lines (id) {
        id -> BigInt,
        budget_id -> BigInt,
        label -> Text,
        amount_minor -> BigInt,
        position -> Integer,
    }
}

diesel::table! {
    budgets (id) {
        id -> BigInt,
        fiscal_year_id -> BigInt,
        priority_id -> BigInt,
        amount_minor -> BigInt,
        currency -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    disbursement_approvals (id) {
        id -> BigInt,
        disbursement_id -> BigInt,
        approver_id -> BigInt,
        approved_at -> Timestamp,
    }
}

diesel::table! {
    disbursements (id) {
        id -> BigInt,
        allocation_id -> BigInt,
        payee -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        purpose -> Text,
        document_url -> Text,
        status -> Text,
        approvals_required -> Integer,
        requested_by -> BigInt,
        requested_at -> Timestamp,
        closed_by -> Nullable<BigInt>,
        closed_at -> Nullable<Timestamp>,
        close_reason -> Nullable<Text>,
        paid_on -> Nullable<Date>,
        base_amount_minor -> Nullable<BigInt>,
        ledger_entry_id -> Nullable<BigInt>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    exchange_rates (id) {
        id -> BigInt,
        currency -> Text,
        effective_on -> Date,
        rate -> Text,
        recorded_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    feedback_items (id) {
        id -> BigInt,
        user_id -> BigInt,
        member_id -> Nullable<BigInt>,
        subject -> Text,
        body -> Text,
        priority_id -> Nullable<BigInt>,
        initiative_id -> Nullable<BigInt>,
        status -> Text,
        answer -> Text,
        answered_by -> Nullable<BigInt>,
        answered_at -> Nullable<Timestamp>,
        quotable -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    fiscal_years (id) {
        id -> BigInt,
        label -> Text,
        starts_on -> Date,
        ends_on -> Date,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

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
        public -> Bool,
    }
}

diesel::table! {
    initiative_steps (id) {
        id -> BigInt,
        initiative_id -> BigInt,
        from_status -> Nullable<Text>,
        to_status -> Text,
        note -> Text,
        changed_by -> Nullable<BigInt>,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    initiatives (id) {
        id -> BigInt,
        priority_id -> BigInt,
        title -> Text,
        summary -> Text,
        subprojects -> Text,
        lead -> Text,
        status -> Text,
        starts_on -> Nullable<Date>,
        ends_on -> Nullable<Date>,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        public -> Bool,
    }
}

diesel::table! {
    invoices (id) {
        id -> BigInt,
        number -> BigInt,
        member_id -> BigInt,
        fiscal_year_id -> BigInt,
        tier_id -> Nullable<BigInt>,
        description -> Text,
        period_start -> Date,
        period_end -> Date,
        amount_minor -> BigInt,
        currency -> Text,
        issued_on -> Date,
        due_on -> Date,
        status -> Text,
        paid_minor -> BigInt,
        void_reason -> Nullable<Text>,
        voided_at -> Nullable<Timestamp>,
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

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        token_hash -> Text,
        prefix -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        scope -> Text,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_user_id -> Nullable<BigInt>,
        actor_label -> Text,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        details -> Text,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    idempotency_keys (key_hash) {
        key_hash -> Text,
        request_hash -> Text,
        status -> Integer,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    email_preferences (user_id) {
        user_id -> BigInt,
        reports -> Bool,
        reminders -> Bool,
        surveys -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> BigInt,
        entry_date -> Date,
        fiscal_year_id -> BigInt,
        kind -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        base_amount_minor -> BigInt,
        exchange_rate -> Text,
        member_id -> Nullable<BigInt>,
        invoice_id -> Nullable<BigInt>,
        payment_id -> Nullable<BigInt>,
        reverses_entry_id -> Nullable<BigInt>,
        memo -> Text,
        created_at -> Timestamp,
        created_by -> Nullable<BigInt>,
        priority_id -> Nullable<BigInt>,
        allocation_id -> Nullable<BigInt>,
        disbursement_id -> Nullable<BigInt>,
        transfer_of_entry_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    member_history (id) {
        id -> BigInt,
        member_id -> BigInt,
        status -> Text,
        tier_id -> Nullable<BigInt>,
        changed_on -> Date,
        changed_at -> Timestamp,
        changed_by -> Nullable<BigInt>,
        note -> Text,
    }
}

diesel::table! {
    members (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        tier_id -> Nullable<BigInt>,
        status -> Text,
        joined_on -> Nullable<Date>,
        renews_on -> Nullable<Date>,
        website -> Nullable<Text>,
        country -> Nullable<Text>,
        logo_url -> Nullable<Text>,
        notes -> Text,
        primary_contact_id -> Nullable<BigInt>,
        billing_contact_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    membership_tiers (id) {
        id -> BigInt,
        name -> Text,
        annual_dues_minor -> BigInt,
        currency -> Text,
        benefits -> Text,
        position -> Integer,
        retired -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    metric_initiatives (metric_id, initiative_id) {
        metric_id -> BigInt,
        initiative_id -> BigInt,
    }
}

diesel::table! {
    metric_observations (id) {
        id -> BigInt,
        metric_id -> BigInt,
        observed_on -> Date,
        value_milli -> BigInt,
        source -> Text,
        source_label -> Text,
        note -> Text,
        recorded_by -> Nullable<BigInt>,
        recorded_at -> Timestamp,
        superseded_at -> Nullable<Timestamp>,
        superseded_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    metrics (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Text,
        unit -> Text,
        direction -> Text,
        priority_id -> Nullable<BigInt>,
        key_outcome_id -> Nullable<BigInt>,
        baseline_milli -> BigInt,
        baseline_on -> Date,
        target_milli -> BigInt,
        target_on -> Date,
        source -> Text,
        survey_question_id -> Nullable<BigInt>,
        survey_aggregate -> Nullable<Text>,
        expected_interval_days -> Integer,
        scope_notes -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        public -> Bool,
    }
}

diesel::table! {
    one_time_tokens (id) {
        id -> BigInt,
        token_hash -> Text,
        purpose -> Text,
        user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        idempotency_key -> Text,
        category -> Text,
        user_id -> Nullable<BigInt>,
        to_address -> Text,
        to_name -> Nullable<Text>,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payments (id) {
        id -> BigInt,
        invoice_id -> BigInt,
        amount_minor -> BigInt,
        currency -> Text,
        paid_on -> Date,
        reference -> Text,
        recorded_by -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    rate_limits (bucket, key, window_start) {
        bucket -> Text,
        key -> Text,
        window_start -> Timestamp,
        hits -> Integer,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sequences (name) {
        name -> Text,
        next_value -> BigInt,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        second_factor_pending -> Bool,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    sign_in_failures (key) {
        key -> Text,
        failures -> Integer,
        last_failure_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    survey_answers (response_id, question_id) {
        response_id -> BigInt,
        question_id -> BigInt,
        value -> Text,
    }
}

diesel::table! {
    survey_invitations (id) {
        id -> BigInt,
        survey_id -> BigInt,
        user_id -> BigInt,
        member_id -> Nullable<BigInt>,
        token_hash -> Text,
        used -> Bool,
        sent_on -> Date,
    }
}

diesel::table! {
    survey_organization_answers (survey_id, member_id) {
        survey_id -> BigInt,
        member_id -> BigInt,
    }
}

diesel::table! {
    survey_pool (id) {
        id -> Text,
        survey_id -> BigInt,
        locator -> Text,
        sealed -> Text,
    }
}

diesel::table! {
    survey_questions (id) {
        id -> BigInt,
        survey_id -> BigInt,
        position -> Integer,
        kind -> Text,
        prompt -> Text,
        required -> Bool,
        options -> Text,
        copied_from -> Nullable<BigInt>,
    }
}

diesel::table! {
    survey_responses (id) {
        id -> BigInt,
        survey_id -> BigInt,
        resume_hash -> Text,
        user_id -> Nullable<BigInt>,
        member_id -> Nullable<BigInt>,
        tier_id -> Nullable<BigInt>,
        status -> Text,
        updated_on -> Date,
    }
}

diesel::table! {
    survey_targets (survey_id, member_id) {
        survey_id -> BigInt,
        member_id -> BigInt,
    }
}

diesel::table! {
    surveys (id) {
        id -> BigInt,
        title -> Text,
        introduction -> Text,
        cycle -> Text,
        opens_at -> Timestamp,
        closes_at -> Timestamp,
        audience -> Text,
        anonymous -> Bool,
        min_group_size -> Integer,
        reminder_days -> Text,
        public_token -> Nullable<Text>,
        status -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> BigInt,
        role -> Text,
        granted_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        display_name -> Text,
        password_hash -> Nullable<Text>,
        status -> Text,
        member_id -> Nullable<BigInt>,
        totp_secret -> Nullable<Text>,
        totp_enabled_at -> Nullable<Timestamp>,
        totp_last_step -> Nullable<BigInt>,
        password_changed_at -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        time_zone -> Text,
    }
}

diesel::table! {
    reports (id) {
        id -> BigInt,
        period -> Text,
        starts_on -> Date,
        ends_on -> Date,
        content -> Nullable<Text>,
        foreword -> Text,
        changes -> Text,
        generated_at -> Nullable<Timestamp>,
        generated_by -> Nullable<BigInt>,
        sent_at -> Nullable<Timestamp>,
        sent_by -> Nullable<BigInt>,
        recipients -> Integer,
        published -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    report_members (report_id, member_id) {
        report_id -> BigInt,
        member_id -> BigInt,
        content -> Text,
    }
}

diesel::table! {
    repositories (id) {
        id -> BigInt,
        owner -> Text,
        name -> Text,
        subproject -> Text,
        priority_id -> Nullable<BigInt>,
        included -> Bool,
        exclusion_reason -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    repository_maintainers (id) {
        id -> BigInt,
        repository_id -> BigInt,
        login -> Text,
        since -> Date,
        until -> Nullable<Date>,
        source -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    collector_runs (id) {
        id -> BigInt,
        kind -> Text,
        status -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        since -> Nullable<Timestamp>,
        cursor -> Text,
        items -> Integer,
        skipped -> Text,
        observations -> Integer,
        error -> Text,
        started_by -> Nullable<BigInt>,
    }
}

diesel::table! {
    community_items (id) {
        id -> BigInt,
        repository_id -> BigInt,
        kind -> Text,
        github_id -> BigInt,
        number -> Nullable<BigInt>,
        author -> Text,
        occurred_at -> Timestamp,
        merged_at -> Nullable<Timestamp>,
        title -> Text,
        detail -> Text,
        url -> Text,
        run_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    coverage_reports (id) {
        id -> BigInt,
        repository_id -> BigInt,
        measured_on -> Date,
        lines_covered -> BigInt,
        lines_valid -> BigInt,
        format -> Text,
        filename -> Text,
        run_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    community_metric_links (metric_id) {
        metric_id -> BigInt,
        series -> Text,
        scope -> Text,
        period -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(repositories -> funding_priorities (priority_id));
diesel::joinable!(repository_maintainers -> repositories (repository_id));
diesel::joinable!(community_items -> repositories (repository_id));
diesel::joinable!(coverage_reports -> repositories (repository_id));
diesel::joinable!(community_metric_links -> metrics (metric_id));
diesel::joinable!(allocations -> budget_lines (budget_line_id));
diesel::joinable!(allocations -> budgets (budget_id));
diesel::joinable!(allocations -> initiatives (initiative_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(budget_lines -> budgets (budget_id));
diesel::joinable!(budgets -> fiscal_years (fiscal_year_id));
diesel::joinable!(budgets -> funding_priorities (priority_id));
diesel::joinable!(disbursement_approvals -> disbursements (disbursement_id));
diesel::joinable!(disbursement_approvals -> users (approver_id));
diesel::joinable!(disbursements -> allocations (allocation_id));
diesel::joinable!(initiative_steps -> initiatives (initiative_id));
diesel::joinable!(initiatives -> funding_priorities (priority_id));
diesel::joinable!(audit_events -> users (actor_user_id));
diesel::joinable!(email_preferences -> users (user_id));
diesel::joinable!(invoices -> fiscal_years (fiscal_year_id));
diesel::joinable!(invoices -> members (member_id));
diesel::joinable!(invoices -> membership_tiers (tier_id));
diesel::joinable!(key_outcomes -> funding_priorities (priority_id));
diesel::joinable!(ledger_entries -> fiscal_years (fiscal_year_id));
diesel::joinable!(payments -> invoices (invoice_id));
diesel::joinable!(one_time_tokens -> users (user_id));
diesel::joinable!(outbox -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(survey_answers -> survey_questions (question_id));
diesel::joinable!(survey_answers -> survey_responses (response_id));
diesel::joinable!(survey_invitations -> surveys (survey_id));
diesel::joinable!(survey_invitations -> users (user_id));
diesel::joinable!(survey_pool -> surveys (survey_id));
diesel::joinable!(survey_questions -> surveys (survey_id));
diesel::joinable!(survey_responses -> surveys (survey_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(member_history -> members (member_id));
diesel::joinable!(metric_initiatives -> initiatives (initiative_id));
diesel::joinable!(metric_initiatives -> metrics (metric_id));
diesel::joinable!(metric_observations -> metrics (metric_id));
diesel::joinable!(metrics -> funding_priorities (priority_id));
diesel::joinable!(metrics -> key_outcomes (key_outcome_id));
diesel::joinable!(member_history -> membership_tiers (tier_id));
diesel::joinable!(members -> membership_tiers (tier_id));
diesel::joinable!(users -> members (member_id));
diesel::joinable!(report_members -> reports (report_id));
diesel::joinable!(report_members -> members (member_id));

diesel::allow_tables_to_appear_in_same_query!(
    collector_runs,
    community_items,
    community_metric_links,
    coverage_reports,
    repositories,
    repository_maintainers,
    allocations,
    api_tokens,
    audit_events,
    budget_lines,
    budgets,
    disbursement_approvals,
    disbursements,
    exchange_rates,
    feedback_items,
    email_preferences,
    fiscal_years,
    funding_priorities,
    idempotency_keys,
    initiative_steps,
    initiatives,
    invoices,
    key_outcomes,
    ledger_entries,
    member_history,
    members,
    membership_tiers,
    metric_initiatives,
    metric_observations,
    metrics,
    one_time_tokens,
    outbox,
    payments,
    rate_limits,
    recovery_codes,
    report_members,
    reports,
    sequences,
    sessions,
    settings,
    sign_in_failures,
    survey_answers,
    survey_invitations,
    survey_organization_answers,
    survey_pool,
    survey_questions,
    survey_responses,
    survey_targets,
    surveys,
    user_roles,
    users,
);
