//! Build script: generates Tauri's context (config, capabilities, assets).

fn main() {
    // The application package lives at the repository root with its Rust
    // sources in src-tauri/, so tauri-build must be told where capabilities are.
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*");
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
