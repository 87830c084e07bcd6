//! The typed IPC surface: every command, collected for Tauri and exported to
//! TypeScript (`ui/src/lib/ipc/bindings.ts`). A test fails when the committed
//! file differs from what the Rust code would generate.

use tauri::Runtime;
use tauri_specta::{collect_commands, collect_events};

use crate::commands::{
    approvals, calendar, changes, connections, dashboard, deployment, profiles, promotions,
    settings, sync, workspace,
};

/// Where the generated bindings live, relative to the repository root.
pub const BINDINGS_PATH: &str = "ui/src/lib/ipc/bindings.ts";

pub fn builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new()
        // One TypeScript type per Rust type: the app never sends a type back in a
        // different shape than it receives it.
        .disable_serde_phases()
        .commands(collect_commands![
            workspace::app_status,
            workspace::load_demo_workspace,
            workspace::move_database_aside,
            workspace::reorder_environments,
            dashboard::dashboard,
            dashboard::cell_history,
            dashboard::report_dashboard_rendered,
            settings::credential_status,
            settings::set_credential,
            settings::remove_credential,
            settings::preferences,
            settings::set_theme,
            profiles::session,
            profiles::create_profile,
            profiles::use_profile,
            changes::changes,
            changes::change,
            changes::change_form_options,
            changes::raise_change,
            changes::edit_change,
            changes::move_change,
            changes::override_risk,
            changes::export_evidence,
            changes::verify_audit,
            changes::recent_audit,
            changes::policies,
            approvals::approval_queue,
            approvals::decide,
            approvals::approve_many,
            approvals::provider_approvals,
            approvals::decide_provider_approval,
            calendar::calendar_view,
            calendar::save_calendar_rule,
            calendar::delete_calendar_rule,
            calendar::next_free_calendar_slot,
            calendar::check_schedule,
            calendar::reschedule_change,
            calendar::override_freeze,
            calendar::calendar_rules,
            calendar::preview_calendar_rule,
            calendar::export_calendar_ics,
            calendar::preview_ics_import,
            calendar::import_ics,
            calendar::report_calendar_rendered,
            promotions::promote_options,
            promotions::promotion_gates,
            promotions::request_promotion,
            promotions::promotion,
            promotions::cell_promotions,
            promotions::rollback_readiness,
            promotions::target_status,
            deployment::deployment_settings,
            deployment::add_trusted_key,
            deployment::remove_trusted_key,
            deployment::bind_target,
            deployment::set_artefact_location,
            connections::connections,
            connections::add_connection,
            connections::remove_connection,
            connections::set_connection_secret,
            sync::test_connection,
            sync::provider_bindings,
            sync::add_binding,
            sync::remove_binding,
            sync::sync_status,
            sync::sync_now,
        ])
        .events(collect_events![
            promotions::PromotionUpdated,
            sync::SyncProgressed
        ])
}

/// Writes the TypeScript bindings to `path`.
pub fn export(path: &std::path::Path) -> Result<(), specta_typescript::Error> {
    let language = specta_typescript::Typescript::default()
        .header("// Generated from the Rust commands by tauri-specta. Do not edit: run `make bindings`.\n/* eslint-disable */");
    builder::<tauri::Wry>().export(language, path)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn committed_bindings_match_the_rust_commands() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let committed = root.join(super::BINDINGS_PATH);
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            super::export(&committed).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("bindings.ts");
        super::export(&fresh).unwrap();
        let expected = std::fs::read_to_string(&fresh).unwrap();
        let actual = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            expected == actual,
            "{} is out of date with the Rust commands: run `make bindings` and commit the result",
            super::BINDINGS_PATH
        );
    }
}
