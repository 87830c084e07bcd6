//! The Release Desk executable: everything happens in `release_desk_lib::run`.

// Hide the console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    release_desk_lib::run();
}
