//! espeak-ng in process: real speech, sentence by sentence, from any
//! thread; bad voices are errors that leave it working.
#![cfg(feature = "espeak")]

use ainima::tts::espeak::Espeak;
use ainima::tts::{TextToSpeech, Voice};

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

#[test]
fn speech_comes_sentence_by_sentence() {
    let mut tts = Espeak::new(Voice::default()).expect("voice");
    let mut got = Vec::new();
    tts.speak("Timer set for five minutes. Anything else?", &mut |s| {
        got.push(s);
        true
    })
    .expect("speaks");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].text, "Timer set for five minutes.");
    for s in &got {
        let secs = s.audio.len() as f32 / 16_000.0;
        assert!((0.4..4.0).contains(&secs), "{}: {secs} s", s.text);
        assert!(rms(&s.audio) > 0.01, "{}: audible", s.text);
        assert!(s.audio.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
    }
    let again = tts
        .speak_all("Timer set for five minutes. Anything else?")
        .expect("speaks");
    let joined: Vec<f32> = got.iter().flat_map(|s| s.audio.clone()).collect();
    // The same words again: the same length within a pitch period or so
    // (the library's flutter phase carries over from the sentence before).
    let diff = again.len().abs_diff(joined.len());
    assert!(diff < 400, "{} vs {} samples", again.len(), joined.len());
}

#[test]
fn a_stopped_reply_makes_no_further_sentence() {
    let mut tts = Espeak::new(Voice::default()).expect("voice");
    let mut n = 0;
    tts.speak("One. Two. Three. Four.", &mut |_| {
        n += 1;
        false
    })
    .expect("speaks");
    assert_eq!(n, 1);
}

#[test]
fn rate_and_pitch_change_the_speech() {
    let speak = |rate_wpm, pitch| {
        Espeak::new(Voice {
            rate_wpm,
            pitch,
            ..Voice::default()
        })
        .expect("voice")
        .speak_all("The kitchen light is on.")
        .expect("speaks")
    };
    let normal = speak(175, 50);
    let fast = speak(350, 50);
    assert!(
        (fast.len() as f32) < normal.len() as f32 * 0.75,
        "{} vs {}",
        fast.len(),
        normal.len()
    );
    assert_ne!(speak(175, 90), normal);
}

#[test]
fn a_missing_voice_is_an_error_and_the_engine_goes_on() {
    let mut bad = Espeak::new(Voice {
        name: "xx-nonexistent".into(),
        ..Voice::default()
    })
    .expect("a well-formed name");
    let e = bad.speak_all("Hello.").expect_err("no such voice");
    assert!(e.to_string().contains("no voice"), "{e}");
    assert!(
        Espeak::new(Voice {
            rate_wpm: 5,
            ..Voice::default()
        })
        .is_err()
    );
    let mut good = Espeak::new(Voice::default()).expect("voice");
    assert!(!good.speak_all("Still here.").expect("speaks").is_empty());
    // Odd text: empty, NUL, markup-like, very long.
    assert!(good.speak_all("").expect("nothing to say").is_empty());
    assert!(
        !good
            .speak_all("a\0b <b>bold</b>")
            .expect("speaks")
            .is_empty()
    );
    let long = "word ".repeat(600);
    assert!(!good.speak_all(&long).expect("speaks").is_empty());
}

#[test]
fn many_threads_share_the_one_engine() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                Espeak::new(Voice::default())
                    .expect("voice")
                    .speak_all(&format!("Thread number {i}."))
                    .expect("speaks")
            })
        })
        .collect();
    let outs: Vec<Vec<f32>> = handles
        .into_iter()
        .map(|h| h.join().expect("joins"))
        .collect();
    let alone = Espeak::new(Voice::default())
        .expect("voice")
        .speak_all("Thread number 2.")
        .expect("speaks");
    for o in &outs {
        assert!(rms(o) > 0.01);
        assert!(
            o.len().abs_diff(alone.len()) < 2_000,
            "{} vs {}",
            o.len(),
            alone.len()
        );
    }
}
