//! Test support: the shared real recordings through the workspace's
//! testkit (skipping where they are absent, failing under
//! `AINIMA_REQUIRE_DATA=1`), and this crate's snapshots.
#![allow(dead_code, unused_imports)] // each test binary uses a different part of this module

pub use ainima_testkit::{Recording, data_dir, recordings};

/// Compare `actual` with the snapshot file `tests/snapshots/NAME`; with
/// `UPDATE_SNAPSHOTS=1`, rewrite it instead.
pub fn check_snapshot(name: &str, actual: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    ainima_testkit::check_snapshot(&dir, name, actual);
}
