//! Loads the demo workspace into a database file, as the app's "Load the
//! demo" does (guarded: whole or not at all). Used by the tests that kill a
//! load part-way; also handy for preparing a demo database by hand.
//!
//! `release-desk-load-demo <database-file> <artefacts-dir> [<now, RFC 3339>]`

use std::path::PathBuf;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(database), Some(artefacts)) = (args.first(), args.get(1)) else {
        eprintln!(
            "usage: release-desk-load-demo <database-file> <artefacts-dir> [<now, RFC 3339>]"
        );
        return ExitCode::from(2);
    };
    let now = match args.get(2) {
        Some(text) => match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.with_timezone(&chrono::Utc),
            Err(e) => {
                eprintln!("'{text}' is not an RFC 3339 time: {e}");
                return ExitCode::from(2);
            }
        },
        None => chrono::Utc::now(),
    };
    let database = PathBuf::from(database);
    match release_desk_demo::recover_interrupted_load(&database) {
        Ok(true) => eprintln!("an interrupted demo load was undone"),
        Ok(false) => {}
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    let store = match release_desk_store::Store::open(&database).await {
        Ok((store, _)) => store,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("loading");
    match release_desk_demo::load_demo_guarded(&store, &PathBuf::from(artefacts), now).await {
        Ok(()) => {
            store.close().await;
            println!("loaded");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
