//! Patterns learned from the SNIPS training files, judged on the 700
//! validation utterances. Needs the SNIPS folder of the shared data
//! (`AINIMA_DATA_DIR`, default `../shared/data`): skipped where it is
//! absent, failing under `AINIMA_REQUIRE_DATA=1`.

use ainima_fallbacks::snips::{self, LearnConfig};

use ainima_testkit::snips_dir;

#[test]
fn learned_patterns_are_precise_and_answer_most() {
    let Some(dir) = snips_dir() else { return };
    let train = snips::read_dir(&dir, "train_").expect("training files");
    let test = snips::read_dir(&dir, "validate_").expect("validation files");
    assert_eq!(test.len(), 700);
    assert!(train.len() > 13_000, "{} training examples", train.len());
    let r = snips::evaluate(&train, &test, &LearnConfig::default(), 0.8).expect("evaluates");
    eprintln!(
        "answered {:.3} precision {:.4} intent accuracy {:.3} slot F1 {:.3}",
        r.answered, r.precision, r.intent_accuracy, r.slot_f1
    );
    // The goals for the deterministic core alone.
    assert!(r.precision >= 0.99, "precision {:.4}", r.precision);
    assert!(r.answered >= 0.60, "answered {:.3}", r.answered);
    assert!(
        r.slot_f1_answered >= 0.70,
        "slot F1 on answered {:.3}",
        r.slot_f1_answered
    );
}

#[test]
fn play_music_is_latin1_and_read_as_such() {
    let Some(dir) = snips_dir() else { return };
    let x = snips::read_file(&dir.join("train_PlayMusic_full.json")).expect("reads");
    assert_eq!(x.len(), 2000);
    // A name with an accent survives the decoding.
    assert!(
        x.iter()
            .any(|e| e.text().chars().any(|c| ('\u{c0}'..='\u{ff}').contains(&c)))
    );
}

#[test]
fn malformed_examples_are_clear_errors() {
    let dir = ainima_testkit::temp_dir("snips");
    let bad = dir.join("train_Bad.json");
    std::fs::write(&bad, "{\"Bad\": [{\"data\": [{\"txt\": 3}]}]}").expect("write");
    let e = snips::read_file(&bad).expect_err("malformed");
    assert!(
        e.to_string().contains("train_Bad.json: line 1 column"),
        "{e}"
    );
    std::fs::write(&bad, "{\"Bad\": [{\"data\": [{\"text\": \"x\"").expect("write");
    assert!(snips::read_file(&bad).is_err());
    let e = snips::read_dir(&dir, "validate_").expect_err("no files");
    assert!(e.to_string().contains("no validate_*.json files"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
