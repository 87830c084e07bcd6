//! The database operations the app runs, one per process, for the tests that
//! kill them part-way (and for preparing a database by hand):
//!
//! - `release-desk-db open <database>`: undo an interrupted demo load, open
//!   the file and bring its schema up to date (with the copy taken first);
//! - `release-desk-db load-demo <database> <artefacts-dir> [<now, RFC 3339>]`:
//!   the app's guarded demo load, whole or not at all;
//! - `release-desk-db import-ics <database> <file.ics>`: the app's calendar
//!   import, as the first release manager in the database.
//!
//! Each prints `working` once the database is open and the operation begins,
//! and `done` at the end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use release_desk_store::Store;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: release-desk-db open <database> | load-demo <database> <artefacts-dir> [<now>] | import-ics <database> <file.ics>";

async fn run(args: &[String]) -> Result<(), String> {
    let (Some(command), Some(database)) = (args.first(), args.get(1)) else {
        return Err(USAGE.into());
    };
    let database = PathBuf::from(database);
    let store = open(&database).await?;
    println!("working");
    match command.as_str() {
        "open" => {}
        "load-demo" => {
            let artefacts = args.get(2).ok_or(USAGE)?;
            let now = match args.get(3) {
                Some(text) => chrono::DateTime::parse_from_rfc3339(text)
                    .map_err(|e| format!("'{text}' is not an RFC 3339 time: {e}"))?
                    .with_timezone(&chrono::Utc),
                None => chrono::Utc::now(),
            };
            release_desk_demo::load_demo_guarded(&store, Path::new(artefacts), now)
                .await
                .map_err(|e| e.to_string())?;
        }
        "import-ics" => {
            let file = args.get(2).ok_or(USAGE)?;
            let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
            let parsed = release_desk_calendar::parse_ics(&text, "Europe/London")
                .map_err(|e| e.to_string())?;
            let by = store
                .profiles()
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|p| p.holds(release_desk_changes::KnownRole::ReleaseManager))
                .ok_or("the database has no release manager to import as")?;
            let rules = parsed.rules.into_iter().map(|r| (r.uid, r.draft)).collect();
            store
                .import_calendar_rules(rules, file, &by, chrono::Utc::now())
                .await
                .map_err(|e| e.to_string())?;
        }
        other => return Err(format!("unknown command '{other}'\n{USAGE}")),
    }
    store.close().await;
    println!("done");
    Ok(())
}

async fn open(database: &Path) -> Result<Store, String> {
    if release_desk_demo::recover_interrupted_load(database).map_err(|e| e.to_string())? {
        eprintln!("an interrupted demo load was undone");
    }
    Store::open(database)
        .await
        .map(|(store, _)| store)
        .map_err(|e| e.to_string())
}
