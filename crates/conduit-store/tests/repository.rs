//! The repository cases, one table, each run on SQLite and on real Postgres (a fresh database
//! per case; Postgres unreachable fails the run, it never skips). Every query uses `$1…`
//! placeholders, so the SQLite run also shows they work through the Any driver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
#[macro_use]
mod support;

use cases::{
    credentials::*, feed::*, sso_authorize::*, sso_device::*, sso_flows::*, sso_idps::*,
    sso_misc::*, sso_refresh::*, users::*,
};
use conduit_store::Engine;
use support::{run_all, Case};

static CASES: &[Case] = &[
    case!(migrate_is_idempotent_and_ready),
    case!(users_create_list_lookup),
    case!(user_subject_taken_is_conflict_and_writes_nothing),
    case!(user_unknown_team_is_not_found_and_writes_nothing),
    case!(teams_create_list_conflict),
    case!(user_team_set_and_cleared),
    case!(user_deactivated_keeps_keys),
    case!(user_role_changed),
    case!(keys_listed_newest_first_without_sessions),
    case!(credential_unknown_user_or_team),
    case!(revoke_is_idempotent),
    case!(changes_since_orders_versions),
    case!(set_password_ends_sessions_only),
    case!(names_stored_verbatim),
    case!(touch_records_last_use_without_a_version),
    case!(audit_lists_newest_first_with_paging),
    case!(hit_rate_counts_across_handles),
    case!(listen_hears_another_handles_write),
    case!(sqlite_file_private_and_secret_free),
    case!(concurrent_writes_get_distinct_versions),
    case!(idp_crud_and_deleted_in_feed),
    case!(provisioning_keyed_on_issuer_and_subject),
    case!(flow_taken_once_and_expired_refused),
    case!(cli_session_bound_completed_taken_once),
    case!(cli_session_expired_refused),
    case!(authorize_request_bound_and_apart_from_the_cli_poll),
    case!(authorization_code_redeemed_once_and_spent_by_mistakes),
    case!(authorization_code_race_issues_once),
    case!(device_code_lifecycle),
    case!(device_code_denied_and_expired),
    case!(device_poll_race_issues_once),
    case!(refresh_rotation_replay_and_revoke),
    case!(refresh_family_hard_end),
    case!(deactivating_a_user_revokes_their_families),
    case!(refresh_race_rotates_once),
    case!(signing_keys_newest_first_expired_excluded),
    case!(managed_settings_set_get_delete),
    case!(prune_expired_deletes_only_the_expired),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_cases_on_sqlite() {
    run_all(Engine::Sqlite, CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_cases_on_postgres() {
    run_all(Engine::Postgres, CASES).await;
}
