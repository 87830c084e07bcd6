//! A database file edited by hand (a word where a number belongs, bytes where
//! text belongs, an empty value where one is required) is reported by the
//! read that meets it, naming what is malformed and where, instead of
//! panicking inside a Tauri command and leaving the UI waiting for an answer
//! that never comes.

mod common;
use common::{fresh, now, slug};

use release_desk_changes::{ChangeId, Profile};
use release_desk_domain::Slug;
use release_desk_promotion::PromotionKind;
use release_desk_store::{HistoryPage, PromotionRequest, Store, TargetSnapshot, DATABASE_FILE};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::path::{Path, PathBuf};

/// The whole demo with a promotion running, copied aside untouched, and what
/// the reads below need to find in it.
#[derive(Clone)]
struct Demo {
    pristine: PathBuf,
    tom: Profile,
    decided: ChangeId,
    promotion: i64,
    cell: (Slug, Slug),
}

async fn demo(dir: &Path) -> Demo {
    let (store_dir, _file, store) = fresh().await;
    release_desk_demo::load_demo(&store, &store_dir.path().join("artefacts"), now())
        .await
        .unwrap();
    let people = store.profiles().await.unwrap();
    let named = |name: &str| people.iter().find(|p| p.name == name).unwrap().clone();
    let started = store
        .start_promotion(
            &PromotionRequest {
                request_key: "hand-edited".into(),
                kind: PromotionKind::Promote,
                service: slug("demo-web"),
                environment: slug("dev"),
                version: "1.0.0".into(),
            },
            TargetSnapshot {
                current: None,
                ready_leg: None,
            },
            &named("Priya Shah"),
            now(),
        )
        .await
        .unwrap();
    let mut decided = None;
    for summary in store.changes().await.unwrap() {
        let detail = store.change(summary.id, None, now()).await.unwrap();
        if !detail.decisions.is_empty() {
            decided = Some(summary.id);
            break;
        }
    }
    let dashboard = store.dashboard().await.unwrap();
    let (row, cell) = dashboard
        .rows
        .iter()
        .find_map(|row| {
            row.cells
                .iter()
                .find(|c| c.deployed.is_some() && c.last.is_some())
                .map(|c| (row, c))
        })
        .unwrap();
    let pristine = dir.join("pristine.sqlite3");
    sqlx::query("VACUUM INTO ?")
        .bind(pristine.to_string_lossy().into_owned())
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    Demo {
        pristine,
        tom: named("Tom Okafor"),
        decided: decided.expect("the demo has a change with decisions"),
        promotion: started.record.promotion.id,
        cell: (row.service.key.clone(), slug(&cell.environment)),
    }
}

/// A connection as a person with a SQLite browser has one: no foreign keys,
/// CHECK constraints ignored.
async fn by_hand(file: &Path) -> SqliteConnection {
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .foreign_keys(false)
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql("PRAGMA ignore_check_constraints = ON")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// Runs `update` on `table` as a hand edit: the table's triggers (some
/// tables refuse every update) are dropped for it and put back after.
async fn edit(file: &Path, table: &str, update: &str) {
    let mut conn = by_hand(file).await;
    let triggers: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
    )
    .bind(table)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (name, _) in &triggers {
        sqlx::raw_sql(&format!("DROP TRIGGER {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let changed = sqlx::raw_sql(update).execute(&mut conn).await.unwrap();
    assert!(changed.rows_affected() > 0, "`{update}` changed nothing");
    for (_, sql) in &triggers {
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
}

/// Removes the NOT NULL constraint of `table.column` the way SQLite's
/// documentation allows (rewriting the schema text), so NULL can be stored.
async fn drop_not_null(file: &Path, table: &str, column: &str) {
    let mut conn = by_hand(file).await;
    let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = ?")
        .bind(table)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let rewritten: String = sql
        .lines()
        .map(|line| {
            if line.trim_start().starts_with(&format!("{column} ")) {
                line.replace("NOT NULL", "")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(sql, rewritten, "{table}.{column} is not NOT NULL");
    sqlx::raw_sql("PRAGMA writable_schema = ON")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE sqlite_master SET sql = ? WHERE name = ?")
        .bind(rewritten)
        .bind(table)
        .execute(&mut conn)
        .await
        .unwrap();
    let version: i64 = sqlx::query_scalar("PRAGMA schema_version")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "PRAGMA schema_version = {}; PRAGMA writable_schema = OFF",
        version + 1
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
}

/// The reads behind the screens.
#[derive(Debug, Clone, Copy)]
enum Read {
    Workspace,
    PathToLive,
    Dashboard,
    CellHistory,
    ArtefactChoices,
    Changes,
    Change,
    ApprovalQueue,
    Profiles,
    CalendarRules,
    Bookings,
    TrustedKeys,
    TargetBindings,
    ArtefactLocations,
    Promotion,
    PromotionsOf,
    CheckGates,
    LastGoodRelease,
}

async fn perform(read: Read, store: Store, demo: Demo) -> release_desk_store::Result<()> {
    let (service, environment) = &demo.cell;
    match read {
        Read::Workspace => store.workspace().await.map(drop),
        Read::PathToLive => store.path_to_live().await.map(drop),
        Read::Dashboard => store.dashboard().await.map(drop),
        Read::CellHistory => store
            .cell_history(service, environment, &HistoryPage::default())
            .await
            .map(drop),
        Read::ArtefactChoices => store.artefact_choices().await.map(drop),
        Read::Changes => store.changes().await.map(drop),
        Read::Change => store.change(demo.decided, None, now()).await.map(drop),
        Read::ApprovalQueue => store.approval_queue(&demo.tom, now()).await.map(drop),
        Read::Profiles => store.profiles().await.map(drop),
        Read::CalendarRules => store.calendar_rules().await.map(drop),
        Read::Bookings => store.bookings().await.map(drop),
        Read::TrustedKeys => store.trusted_keys().await.map(drop),
        Read::TargetBindings => store.target_bindings().await.map(drop),
        Read::ArtefactLocations => store.artefact_locations().await.map(drop),
        Read::Promotion => store.promotion(demo.promotion).await.map(drop),
        Read::PromotionsOf => store
            .promotions_of(&slug("demo-web"), &slug("dev"), 10)
            .await
            .map(drop),
        Read::CheckGates => store
            .check_gates(
                PromotionKind::Promote,
                &slug("demo-web"),
                &slug("dev"),
                "1.0.0",
                now(),
            )
            .await
            .map(drop),
        Read::LastGoodRelease => store
            .last_good_release(service, environment, None)
            .await
            .map(drop),
    }
}

/// How a case spoils the file.
enum Spoil {
    /// An update on a table.
    Edit(&'static str, &'static str),
    /// A NULL in a NOT NULL column (its constraint removed first).
    Null(&'static str, &'static str),
}

struct Case {
    spoil: Spoil,
    reads: &'static [Read],
    /// The column the error must name.
    column: &'static str,
}

fn cases() -> Vec<Case> {
    use Read::*;
    use Spoil::*;
    let case = |spoil, reads, column| Case {
        spoil,
        reads,
        column,
    };
    vec![
        case(
            Edit(
                "workspace",
                "UPDATE workspace SET created_at_ms = 'last week'",
            ),
            &[Workspace],
            "created_at_ms",
        ),
        case(
            Edit("environments", "UPDATE environments SET production = 'no'"),
            &[PathToLive, Dashboard],
            "production",
        ),
        case(
            Edit(
                "deployments",
                "UPDATE deployments SET started_at_ms = 'yesterday'",
            ),
            &[Dashboard],
            "started_at_ms",
        ),
        case(
            Edit(
                "artefacts",
                "UPDATE artefacts SET source_commit = X'c0ffee'",
            ),
            &[CellHistory],
            "source_commit",
        ),
        case(
            Edit(
                "artefacts",
                "UPDATE artefacts SET created_at_ms = 'tuesday'",
            ),
            &[ArtefactChoices],
            "created_at_ms",
        ),
        case(
            Edit(
                "artefacts",
                "UPDATE artefacts SET version = CAST(version AS BLOB)",
            ),
            &[Dashboard, ArtefactChoices, Changes, LastGoodRelease],
            "version",
        ),
        case(
            Edit("change_records", "UPDATE change_records SET revision = 'x'"),
            &[Changes, Change, ApprovalQueue],
            "revision",
        ),
        case(
            Edit(
                "change_records",
                "UPDATE change_records SET planned_end_ms = 'later'",
            ),
            &[Bookings],
            "planned_end_ms",
        ),
        case(
            Edit("decisions", "UPDATE decisions SET at_ms = 'noon'"),
            &[Change],
            "at_ms",
        ),
        case(
            Edit(
                "profiles",
                "UPDATE profiles SET email = CAST(email AS BLOB)",
            ),
            &[Profiles],
            "email",
        ),
        case(Null("profiles", "name"), &[Profiles], "name"),
        case(
            Edit(
                "calendar_rules",
                "UPDATE calendar_rules SET duration_minutes = 'an hour'",
            ),
            &[CalendarRules],
            "duration_minutes",
        ),
        case(
            Edit(
                "trusted_keys",
                "UPDATE trusted_keys SET added_at_ms = 'today'",
            ),
            &[TrustedKeys],
            "added_at_ms",
        ),
        case(
            Edit(
                "deployment_targets",
                "UPDATE deployment_targets SET soak_secs = 'long'",
            ),
            &[TargetBindings, Promotion],
            "soak_secs",
        ),
        case(
            Edit(
                "artefact_locations",
                "UPDATE artefact_locations SET location = CAST(location AS BLOB)",
            ),
            &[ArtefactLocations],
            "location",
        ),
        case(
            Edit("promotions", "UPDATE promotions SET change_id = 'CHG-0001'"),
            &[Promotion, PromotionsOf],
            "change_id",
        ),
        case(
            Edit(
                "environment_locks",
                "UPDATE environment_locks SET since_ms = 'now'",
            ),
            &[CheckGates],
            "since_ms",
        ),
    ]
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_wrong_typed_value_is_an_error_naming_it_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo(dir.path()).await;
    let mut failures = Vec::new();
    for (n, case) in cases().into_iter().enumerate() {
        let case_dir = dir.path().join(format!("case-{n}"));
        std::fs::create_dir(&case_dir).unwrap();
        let file = case_dir.join(DATABASE_FILE);
        std::fs::copy(&demo.pristine, &file).unwrap();
        let spoiled = match case.spoil {
            Spoil::Edit(table, update) => {
                edit(&file, table, update).await;
                update.to_owned()
            }
            Spoil::Null(table, column) => {
                drop_not_null(&file, table, column).await;
                let update = format!("UPDATE {table} SET {column} = NULL");
                edit(&file, table, &update).await;
                update
            }
        };
        let (store, _) = Store::open(&file).await.unwrap();
        for &read in case.reads {
            // Spawned so that a panic is reported with its case rather than
            // ending the test at the first one.
            let outcome = tokio::spawn(perform(read, store.clone(), demo.clone())).await;
            match outcome {
                Err(panicked) => failures.push(format!(
                    "{read:?} after `{spoiled}` panicked: {}",
                    panic_message(panicked.into_panic())
                )),
                Ok(Ok(())) => failures.push(format!("{read:?} after `{spoiled}` succeeded")),
                Ok(Err(e)) => {
                    let message = e.to_string();
                    if e.code() != "malformed_data"
                        || e.is_unusable_file()
                        || !message.contains(case.column)
                    {
                        failures.push(format!(
                            "{read:?} after `{spoiled}`: expected malformed_data naming {}, got {}: {message}",
                            case.column,
                            e.code()
                        ));
                    }
                }
            }
        }
        store.close().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The record of applied upgrades is read before anything else; without it
/// the file cannot be opened, so a spoiled one makes the file unusable (the
/// app offers to move it aside) rather than a panic at start-up.
#[tokio::test]
async fn a_spoiled_record_of_upgrades_makes_the_file_unusable() {
    let (_dir, file, store) = fresh().await;
    store.close().await;
    edit(
        &file,
        "_sqlx_migrations",
        "UPDATE _sqlx_migrations SET version = 'first' WHERE version = (SELECT MIN(version) FROM _sqlx_migrations)",
    )
    .await;
    let err = Store::open(&file).await.unwrap_err();
    assert_eq!(err.code(), "database_corrupt", "{err}");
    assert!(err.is_unusable_file());
    assert!(err.to_string().contains("version"), "{err}");
}
