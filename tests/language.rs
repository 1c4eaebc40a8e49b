//! `ainima parse`, `chat`, `rules` and `nlu eval`, run as a user runs them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The shared copy of home-assistant/intents; `None` (skipped) where it is
/// absent.
fn ha_intents() -> Option<PathBuf> {
    let dir = ainima_testkit::data_dir()?.join("ha-intents");
    if !dir.join("tests/en/_fixtures.yaml").is_file() {
        return ainima_testkit::skip("no ha-intents in the shared data");
    }
    Some(dir)
}

fn home(name: &str) -> PathBuf {
    ainima_testkit::temp_dir(&format!("lang-{name}"))
}

fn ainima(home: &Path, args: &[&str], stdin: &str) -> Output {
    ainima_tz(home, args, stdin, None)
}

/// [`ainima`] with `TZ` set to `tz`, or unset.
fn ainima_tz(home: &Path, args: &[&str], stdin: &str, tz: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ainima"));
    c.args(args)
        .env("AINIMA_HOME", home)
        .env_remove("RUST_BACKTRACE");
    match tz {
        Some(z) => c.env("TZ", z),
        None => c.env_remove("TZ"),
    };
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writes");
    child.wait_with_output().expect("ends")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn parse_json_has_intent_slots_confidence_source_and_explanation() {
    let h = home("parse");
    let o = ainima(
        &h,
        &[
            "parse",
            "--json",
            "Um, could you set the kitchen light to 40%, please?",
        ],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["intent"], "lights_brightness");
    assert_eq!(v["slots"]["device"], "kitchen light");
    assert_eq!(v["slots"]["brightness"]["percent"], 40.0);
    assert_eq!(v["source"], "rules");
    assert!(v["confidence"].as_f64().is_some_and(|c| c > 0.8 && c < 1.0));
    assert!(v["explanation"].as_array().is_some_and(|e| e.len() >= 3));

    let o = ainima(&h, &["parse", "--json", "book me a flight to Paris"], "");
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(v["intent"].is_null());
}

/// Issue 14, item 3: words the language core does not know before a
/// command are skipped, said in the explanation; never a negation or a
/// question word, and a sentence of unknown words stays unknown.
#[test]
fn unknown_words_before_a_command_are_skipped_as_a_user_sees() {
    let h = home("unknown-words");
    let check = |input: &str, intent: Option<&str>| {
        let o = ainima(&h, &["parse", "--json", input], "");
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
        assert_eq!(v["intent"].as_str(), intent, "{input:?}: {v}");
        if intent.is_some() && input.starts_with("We'll") {
            let said = v["explanation"].to_string();
            assert!(said.contains("skipped the unknown word"), "{v}");
        }
    };
    check("We'll set a timer for five minutes.", Some("timer_set"));
    check(
        "could you maybe turn on the kitchen light",
        Some("lights_on"),
    );
    check("don't turn on the kitchen light", None);
    check("Why turn on the kitchen light?", None);
    check("bananas apples pears", None);
    // Words this grammar does not know, which would turn the meaning.
    check("Un-pause the music.", None);
    check("Unless turn on the kitchen light.", None);
    check("Somebody turn on the kitchen light.", None);
    // A murmur before an answer word is no command.
    check("Uh-huh, yeah.", None);
}

#[test]
fn chat_runs_a_conversation_from_standard_input() {
    let h = home("chat");
    let script = "set a timer\nfive minutes\nwhy\nsend a message to bob saying hi\nyes\n";
    let o = ainima(&h, &["chat", "--now", "1795341600", "--json"], script);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let turns: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(turns.len(), 5);
    assert_eq!(turns[0]["reply"], "For how long?");
    assert_eq!(turns[0]["state"], "filling");
    assert_eq!(turns[1]["actions"][0]["tool"], "timer.start");
    assert!(
        turns[2]["reply"]
            .as_str()
            .is_some_and(|r| r.starts_with("Because"))
    );
    assert_eq!(turns[3]["state"], "confirming");
    assert_eq!(turns[4]["actions"][0]["tool"], "message.send");
    assert_eq!(turns[4]["actions"][0]["external"], true);
    // The same seed and clock give the same conversation.
    let again = ainima(&h, &["chat", "--now", "1795341600", "--json"], script);
    assert_eq!(o.stdout, again.stdout);
}

#[test]
fn user_skill_files_extend_the_built_in_ones() {
    let h = home("skills");
    std::fs::create_dir_all(h.join("config/skills")).expect("skills folder");
    std::fs::write(
        h.join("config/skills/garden.toml"),
        "[intents.water]\ntemplates = [\"water the {plant}\"]\nreplies = [\"Watering the {plant}.\"]\n[lists.plant]\nvalues = [\"roses\", \"tomatoes\"]\n",
    )
    .expect("write");
    let o = ainima(
        &h,
        &["chat", "--now", "0"],
        "water the roses\nturn on the kitchen light\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("Watering the roses."), "{out}");
    assert!(out.contains("kitchen light"), "{out}");
}

#[test]
fn malformed_skill_files_name_file_line_and_column() {
    let h = home("bad");
    let bad = h.join("bad.toml");
    std::fs::write(
        &bad,
        "[intents.x]\ntemplates = [\"turn (on|off [the] lamp\"]\n",
    )
    .expect("write");
    let o = ainima(
        &h,
        &["parse", "--skills", bad.to_str().expect("utf-8"), "hello"],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.contains("bad.toml:2:20: template: `(` is never closed"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    std::fs::write(
        &bad,
        "[[rules]]\nname = \"r\"\nwhen = \"intent == \"\nthen = \"set a = 1\"\n",
    )
    .expect("write");
    let o = ainima(
        &h,
        &["rules", "list", "--skills", bad.to_str().expect("utf-8")],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.contains("bad.toml:3:19: expected a fact, a value or `(`"),
        "{e}"
    );
}

#[test]
fn rules_list_shows_where_and_why() {
    let h = home("rules");
    let o = ainima(&h, &["rules", "list", "--json"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let rules = v.as_array().expect("a list");
    let shots = rules
        .iter()
        .find(|r| r["name"] == "one_shot_by_default")
        .expect("a built-in rule");
    assert!(
        shots["origin"]
            .as_str()
            .is_some_and(|o| o.starts_with("skills/hardware.toml:"))
    );
    assert!(!shots["because"].as_str().unwrap_or("").is_empty());
}

#[test]
fn nlu_eval_on_snips_prints_the_required_fields() {
    let Some(dir) = ainima_testkit::snips_dir() else {
        return;
    };
    let h = home("nlu");
    let o = ainima(
        &h,
        &[
            "nlu",
            "eval",
            "--snips",
            dir.to_str().expect("utf-8"),
            "--json",
        ],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    for k in ["intent_accuracy", "slot_f1", "answered", "precision"] {
        let x = v[k].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&x), "{k} = {x}");
    }
    assert!(v["precision"].as_f64().unwrap_or(0.0) >= 0.99);
    assert!(v["answered"].as_f64().unwrap_or(0.0) >= 0.60);
    let o = ainima(
        &h,
        &["nlu", "eval", "--snips", h.to_str().expect("utf-8")],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no train_*.json files"),
        "{}",
        text(&o.stderr)
    );
}

/// Regression (clock_answered_in_utc): the time was told in UTC whatever the
/// user's zone; now in `--time-zone`, the configuration's `time_zone`, or
/// `TZ`.
#[test]
fn chat_tells_the_time_in_the_user_s_zone() {
    let h = home("zone");
    // 2026-03-29 05:30 UTC: Berlin has just moved to summer time.
    let now = "1774762200";
    let check = |args: &[&str], tz: Option<&str>, expect: &str| {
        let mut all = vec!["chat", "--now", now];
        all.extend_from_slice(args);
        let o = ainima_tz(&h, &all, "What time is it?\n", tz);
        let out = text(&o.stdout);
        assert!(o.status.success(), "{all:?}: {}", text(&o.stderr));
        assert!(out.contains(expect), "{all:?} TZ={tz:?}: {out}");
    };
    check(&["--time-zone", "Europe/Berlin"], None, "7:30 am");
    check(&[], Some("America/New_York"), "1:30 am");
    check(&["--time-zone", "UTC"], Some("America/New_York"), "5:30 am");
    let cfg = h.join("zone.toml");
    std::fs::write(&cfg, "time_zone = \"Asia/Kolkata\"\n").expect("config");
    check(
        &["--config", cfg.to_str().expect("utf-8")],
        Some("UTC"),
        "11:00 am",
    );
    // An unknown zone is a clear error.
    let o = ainima(&h, &["chat", "--time-zone", "Mars/Olympus_Mons"], "");
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("Mars/Olympus_Mons"),
        "{}",
        text(&o.stderr)
    );
}

/// Regression (chat_bypassed_the_agent): typed requests reached the language
/// core only: no tools, no approvals, no audit. Now `chat` runs the same
/// agent as a voice session: an action that needs approval asks, a typed
/// "yes" approves it, the tool runs, and every step is in the audit log.
#[test]
fn chat_runs_the_agent_with_approval_and_audit() {
    let h = home("agent");
    let o = ainima(
        &h,
        &["chat", "--now", "1795341600", "--json"],
        "make me a large latte\nyes\nturn on the kitchen light\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let turns: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let all = text(&o.stdout);
    assert_eq!(turns.len(), 3, "{all}");
    // The dialogue confirms the order; the yes is the approval.
    assert!(
        turns[0]["reply"].as_str().is_some_and(|r| r.contains('?')),
        "{all}"
    );
    assert_eq!(turns[1]["calls"][0]["tool"], "coffee.order", "{all}");
    assert_eq!(turns[1]["calls"][0]["status"], "done", "{all}");
    assert_eq!(turns[2]["calls"][0]["tool"], "device.on", "{all}");
    let o = ainima(&h, &["audit", "show", "--json"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let log = text(&o.stdout);
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "approval" && r["data"]["by"] == "typed"),
        "{log}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "call" && r["data"]["tool"] == "coffee.order"),
        "{log}"
    );
    let o = ainima(&h, &["audit", "verify"], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// Regression (timers_lost_between_runs): timers and alarms lived only in
/// the process; now they are kept in the data folder, and one that ended
/// while the assistant was off is told when it next starts.
#[test]
fn a_timer_set_in_one_chat_rings_in_the_next() {
    let h = home("pending");
    // 2026-11-29 09:00 UTC.
    let o = ainima(
        &h,
        &["chat", "--now", "1795942800", "--time-zone", "UTC"],
        "set a timer for one hour\nset an alarm for eleven\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Half an hour later nothing is due yet.
    let o = ainima(
        &h,
        &["chat", "--now", "1795944600", "--time-zone", "UTC"],
        "what time is it\n",
    );
    let out = text(&o.stdout);
    assert!(!out.contains("(ring)"), "{out}");
    // At half past eleven both have come and gone while it was off.
    let o = ainima(
        &h,
        &["chat", "--now", "1795951800", "--time-zone", "UTC"],
        "",
    );
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        out.contains("(ring) Your timer for 1 hour is done."),
        "{out}"
    );
    assert!(out.contains("(ring) It's 11:00 am: your alarm."), "{out}");
    // Told once.
    let o = ainima(
        &h,
        &["chat", "--now", "1795951900", "--time-zone", "UTC"],
        "",
    );
    assert!(!text(&o.stdout).contains("(ring)"), "{}", text(&o.stdout));
    // A damaged file is a clear error, not a silent loss.
    std::fs::write(h.join("data/pending.json"), "{not json").expect("write");
    let o = ainima(&h, &["chat", "--now", "1795951900"], "");
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("pending.json"),
        "{}",
        text(&o.stderr)
    );
}

/// Issue 14: timers are paused, resumed, lengthened and shortened as Home
/// Assistant's sentences ask ("pause my timer", "add 5 minutes to timer",
/// "status of my timers", "stop all my timers"); a paused timer is kept
/// paused across runs and does not ring.
#[test]
fn a_timer_is_paused_resumed_and_changed() {
    let h = home("pause");
    // 2026-11-29 09:00 UTC.
    let o = ainima(
        &h,
        &["chat", "--now", "1795942800", "--time-zone", "UTC"],
        "set a timer for 10 minutes\npause my timer\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("Timer paused."),
        "{}",
        text(&o.stdout)
    );
    // An hour later it has not rung, and still has its ten minutes.
    let o = ainima(
        &h,
        &["chat", "--now", "1795946400", "--time-zone", "UTC"],
        "status of my timers\nadd 5 minutes to timer\ntake 2 minutes off my timer\nresume the timer\n",
    );
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!out.contains("(ring)"), "{out}");
    for want in [
        "Paused, with 10 minutes left.",
        "15 minutes left now.",
        "13 minutes left now.",
        "Timer resumed.",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    // Thirteen minutes after it was resumed, it rings.
    let o = ainima(
        &h,
        &["chat", "--now", "1795947180", "--time-zone", "UTC"],
        "",
    );
    assert!(
        text(&o.stdout).contains("(ring) Your timer for 10 minutes is done."),
        "{}",
        text(&o.stdout)
    );
    let o = ainima(
        &h,
        &["chat", "--now", "1795947200", "--time-zone", "UTC"],
        "set a timer for 1 minute\nset a timer for 2 minutes\nstop all of my timers\n",
    );
    assert!(
        text(&o.stdout).contains("2 timers cancelled."),
        "{}",
        text(&o.stdout)
    );
}

/// Issue 14: timers told apart by name or by the length they were set for,
/// in Home Assistant's words, typed into `ainima chat`: each request acts
/// on the timer it names only, the names are kept to the next chat, and a
/// named timer rings by its name; a corrected change to a timer is made
/// once ("add 5 minutes ... no, I said 6": 6 minutes added, not 11).
#[test]
fn named_timers_are_told_apart_as_a_user_says_them() {
    let h = home("named-timers");
    // 2026-11-29 09:00 UTC.
    let chat = |now: &str, said: &str| {
        let o = ainima(&h, &["chat", "--now", now, "--time-zone", "UTC"], said);
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let check = |out: &str, want: &[&str]| {
        for w in want {
            assert!(out.contains(w), "{w:?} in {out}");
        }
    };
    let out = chat(
        "1795942800",
        "set a timer for 10 minutes called pizza\nstart a 5 minute timer\n\
         how much time is left on the pizza timer\npause the 5 minute timer\n\
         add 5 minutes to the pizza timer\nno, I said 6\ncancel the egg timer\n\
         how long is left on my timer for 5 minutes\n",
    );
    check(
        &out,
        &[
            "Timer set for 10 minutes for pizza.",
            "10 minutes left on the pizza timer.",
            "Timer paused.",
            "15 minutes left now on the pizza timer.",
            "16 minutes left now on the pizza timer.",
            "There is no egg timer.",
            "Paused, with 5 minutes left on the 5 minute timer.",
        ],
    );
    // The next chat, 16 minutes later: the pizza timer rings by its name;
    // the paused one is still there, by its length.
    let out = chat(
        "1795943760",
        "resume my 5 minute timer\ncancel the pizza timer\n",
    );
    check(
        &out,
        &[
            "(ring) Your pizza timer is done.",
            "Timer resumed.",
            "There is no pizza timer.",
        ],
    );
    let out = chat(
        "1795943760",
        "set a pizza timer for 20 minutes\nstop my pizza timer\ntimer status\n\
         set a timer for 2 minutes called egg please\nhow long is left on the egg timer\n\
         stop the timer for me\n",
    );
    // Words that name nothing are no name (regression: "for me" and
    // "please" were taken for names, and "stop the timer for me" stopped
    // nothing).
    check(
        &out,
        &[
            "The pizza timer is cancelled.",
            "5 minutes left.",
            "OK, 2 minutes for egg, starting now.",
            "2 minutes left on the egg timer.",
            "2 timers cancelled.",
        ],
    );
    // Regression (timer_named_by_a_misheard_article): the recogniser's
    // "Start at timer" and "Set your timer" named timers "at" and "your";
    // "your timer" of two is asked about, not both cancelled.
    let out = chat(
        "1795943760",
        "Start at timer for one minute.\nSet your timer for one hour and one minute.\n\
         cancel your timer\n",
    );
    check(
        &out,
        &[
            "Timer set for 1 minute.",
            "Timer set for 1 hour and 1 minute.",
            "Which one? There are 2 timers.",
        ],
    );
    assert!(
        !out.contains("for at") && !out.contains("for your"),
        "{out}"
    );
}

/// Issue 14: Home Assistant's own English test sentences for timers, the
/// time and date, the shopping list and "never mind" reach the built-in
/// skills through `ainima parse`, with the slots HA's tests name: the
/// length to set or add, the timer's name or area (a name here), the
/// length it was set for, the item. Not built: a command run after a delay
/// (HA's `conversation_command`), named below.
#[test]
fn home_assistant_s_timer_clock_and_list_sentences_reach_the_built_in_skills() {
    let Some(dir) = ha_intents().map(|d| d.join("tests/en")) else {
        return;
    };
    let ours = [
        ("HassStartTimer", "timer_set"),
        ("HassCancelTimer", "timer_cancel"),
        ("HassCancelAllTimers", "timer_cancel"),
        ("HassIncreaseTimer", "timer_add"),
        ("HassDecreaseTimer", "timer_remove"),
        ("HassPauseTimer", "timer_pause"),
        ("HassUnpauseTimer", "timer_resume"),
        ("HassTimerStatus", "timer_left"),
        ("HassGetCurrentTime", "clock_time"),
        ("HassGetCurrentDate", "clock_date"),
        ("HassShoppingListAddItem", "list_add"),
        ("HassNevermind", "cancel"),
    ];
    let not_built = [
        "open the garage door in 5 minutes",
        "in 5 minutes, open the garage door",
    ];
    let h = home("ha-builtin");
    let seconds = |slots: &serde_json::Value, prefix: &str| {
        let n = |k: &str| slots[format!("{prefix}{k}")].as_f64();
        let parts = [n("hours"), n("minutes"), n("seconds")];
        parts.iter().any(Option::is_some).then(|| {
            parts[0].unwrap_or(0.0) * 3600.0
                + parts[1].unwrap_or(0.0) * 60.0
                + parts[2].unwrap_or(0.0)
        })
    };
    let values = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str())
                .map(|x| x.trim().to_lowercase())
                .collect(),
            serde_json::Value::String(s) => vec![s.trim().to_lowercase()],
            _ => Vec::new(),
        }
    };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/en")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("homeassistant_") || n.starts_with("shopping_list_"))
        })
        .collect();
    files.sort();
    let (mut right, mut tried, mut misses) = (0, 0, Vec::new());
    for f in files {
        let y: serde_json::Value =
            serde_norway::from_str(&std::fs::read_to_string(&f).expect("reads")).expect("YAML");
        for t in y["tests"].as_array().cloned().unwrap_or_default() {
            let Some(&(_, want)) = ours.iter().find(|(ha, _)| t["intent"]["name"] == *ha) else {
                continue;
            };
            let slots = &t["intent"]["slots"];
            for s in t["sentences"].as_array().cloned().unwrap_or_default() {
                let s = s.as_str().expect("a sentence");
                tried += 1;
                let o = ainima(&h, &["parse", "--json", s], "");
                let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
                let g = &got["slots"];
                let secs = |k: &str| g[k]["seconds"].as_f64();
                let name = g["name"].as_str().map(str::to_lowercase);
                let ok = got["intent"] == want
                    && secs("duration") == seconds(slots, "")
                    && secs("length") == seconds(slots, "start_")
                    && match (values(&slots["name"]), values(&slots["area"])) {
                        (n, _) if !n.is_empty() => name.is_some_and(|x| n.contains(&x)),
                        (_, a) if !a.is_empty() => name.is_some_and(|x| a.contains(&x)),
                        _ => name.is_none(),
                    }
                    && values(&slots["item"])
                        .iter()
                        .all(|i| g["item"].as_str() == Some(i));
                if ok {
                    right += 1;
                } else if !not_built.contains(&s) {
                    misses.push(format!("{s:?}: {got}"));
                }
            }
        }
    }
    assert!(misses.is_empty(), "{misses:#?}");
    assert_eq!((right, tried), (139, 141));
}

/// `chat --events` writes the same events a voice session writes for the
/// same turns: what was understood, the approval asked, the tool calls,
/// the replies.
#[test]
fn chat_writes_a_session_s_events() {
    let h = home("events");
    let file = h.join("events.jsonl");
    let o = ainima(
        &h,
        &[
            "chat",
            "--now",
            "1795341600",
            "--events",
            file.to_str().expect("utf-8"),
        ],
        "make me a large latte\nyes\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event a line"))
        .collect();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let all = format!("{events:#?}");
    assert_eq!(
        types,
        [
            "intent",
            "approval_request",
            "reply",
            "intent",
            "tool_call",
            "reply"
        ],
        "{all}"
    );
    assert_eq!(events[0]["intent"], "coffee_order", "{all}");
    assert_eq!(events[4]["tool"], "coffee.order", "{all}");
    assert_eq!(events[4]["status"], "done", "{all}");
    assert!(events.iter().all(|e| e["t"].as_f64().is_some()), "{all}");
}

/// Issue 14: Home Assistant's own English tests (home-assistant/intents'
/// tests/en, its fixtures as the home) through `ainima intents test`:
/// every sentence gives the intent and exactly the slots its test names,
/// but in the one file whose templates use a rule no English file defines
/// at the shared commit (HassLightSet/name_brightness.yaml, `<percent>`):
/// those templates are left out, each named at its place, as hassil leaves
/// them (it inlines rules only as it matches), and its sentences fail.
#[test]
fn home_assistant_s_english_tests_pass() {
    let Some(dir) = ha_intents() else {
        return;
    };
    let h = home("ha-en");
    let o = ainima(
        &h,
        &[
            "intents",
            "test",
            dir.to_str().expect("utf-8"),
            "--language",
            "en",
            "--json",
        ],
        "",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let en = &v[0];
    assert_eq!(en["language"], "en");
    let files = en["files"].as_array().expect("files");
    assert!(files.len() >= 50, "{} files", files.len());
    let mut missed = Vec::new();
    for f in files {
        assert!(f["error"].is_null(), "{f}");
        if f["passed"] != f["total"] {
            missed.push((
                f["file"].as_str().unwrap_or_default().to_string(),
                f["passed"].clone(),
                f["total"].clone(),
            ));
        }
    }
    // The file whose templates use the rule no file defines: its templates
    // are left out, named at their place, and its sentences fail; every
    // other file passes whole.
    assert_eq!(
        missed,
        vec![(
            "HassLightSet/name_brightness.yaml".to_string(),
            serde_json::json!(0),
            serde_json::json!(6)
        )],
        "{}",
        serde_json::to_string_pretty(files).unwrap_or_default()
    );
    let warnings = en["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w.as_str().is_some_and(|w| w.contains(
            "HassLightSet/name_brightness.yaml:13:10: sentence template: no expansion rule <percent>; left out"
        ))),
        "{warnings:?}"
    );
    // Not everything passed: the exit status says so.
    assert_eq!(o.status.code(), Some(1));
}

/// Issue 14: Home Assistant's own tests in every language through `ainima
/// intents test`, as a user runs them: the languages at 99 % or more stay
/// there, and each sentence that a bug once missed is understood, named
/// after the bug.
#[test]
fn home_assistant_s_tests_in_every_language() {
    let Some(dir) = ha_intents() else {
        return;
    };
    let h = home("ha-all");
    let o = ainima(
        &h,
        &["intents", "test", dir.to_str().expect("utf-8"), "--json"],
        "",
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let languages = v.as_array().expect("languages");
    let language = |l: &str| {
        languages
            .iter()
            .find(|x| x["language"] == l)
            .unwrap_or_else(|| panic!("no {l} in the report"))
    };
    // At 99 % or more on 2026-11-29 (46 of the 57 languages whose tests
    // load; sw's did not); ar, eu, he and tr since 2026-12-07 (50); fr
    // with its number words (51); is, ml, sw (which loads now), th and
    // zh-cn later on 2026-12-07 (56 of 58).
    let at_99 = [
        "ar", "bg", "bn", "ca", "cs", "da", "de", "de-CH", "el", "en", "es", "et", "eu", "fa",
        "fi", "fr", "ga", "gl", "he", "hi", "hr", "hu", "id", "is", "it", "ja", "ka", "ko", "kw",
        "lb", "lt", "lv", "ml", "mn", "ms", "nb", "ne", "nl", "pl", "pt", "pt-br", "ro", "ru",
        "sk", "sl", "sr", "sr-Latn", "sv", "sw", "te", "th", "tr", "uk", "ur", "vi", "zh-cn",
    ];
    for l in at_99 {
        let x = language(l);
        let (passed, total) = (
            x["passed"].as_u64().unwrap_or(0),
            x["total"].as_u64().unwrap_or(0),
        );
        assert!(
            total > 0 && passed * 100 >= total * 99,
            "{l}: {passed} of {total}"
        );
    }
    // Each bug's sentence, as the language's tests say it.
    let check = |bug: &str, l: &str, sentence: &str| {
        // The sentence is one of the language's tests (not a listed
        // failure), in a file that loaded and was tested...
        let file = std::fs::read_dir(dir.join("tests").join(l))
            .expect("the language's tests")
            .flatten()
            .filter(|f| f.file_name() != "_test_failures.yaml")
            .find(|f| std::fs::read_to_string(f.path()).is_ok_and(|t| t.contains(sentence)))
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .unwrap_or_else(|| panic!("{bug} ({l}): {sentence:?} is not in its tests"));
        let files = language(l)["files"].as_array().expect("files");
        let result = files
            .iter()
            .find(|f| f["file"] == file.as_str())
            .unwrap_or_else(|| panic!("{bug} ({l}): no result for {file}"));
        assert!(result["error"].is_null(), "{bug} ({l}): {result}");
        assert!(
            result["total"].as_u64().unwrap_or(0) > 0,
            "{bug} ({l}): {result}"
        );
        // ...and not missed.
        let missed: Vec<serde_json::Value> = result["misses"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["sentence"] == sentence)
            .collect();
        assert!(missed.is_empty(), "{bug} ({l}): {missed:?}");
    };
    check(
        "a block that asks for an entity's domain, read without naming one",
        "sr",
        "подеси боју светла у дневној соби на зелено",
    );
    check(
        "a template whose every word may be left out was left out",
        "hr",
        "slijedeća pjesma",
    );
    check(
        "an elided article before a number",
        "ca",
        "comença un temporitzador d'1 hora",
    );
    check(
        "a list value that is a list came out as text",
        "fr",
        "ouvre les stores de la cuisine",
    );
    check(
        "a suffix glued to a rule with a slot",
        "da",
        "pause 1 times nedtælling",
    );
    check(
        "two known words written as one",
        "nb",
        "pause kjøkkennedtelling",
    );
    check(
        "a known word that is two known words, written as one",
        "nl",
        "annuleer keukentimer",
    );
    check(
        "a number with a suffix written against it",
        "hu",
        "a nappaliban minden függöny pozícióját állítsd 20%ra",
    );
    check(
        "a number, % and a particle as one word",
        "ko",
        "침실 밝기를 50%로 설정",
    );
    check(
        "a name with a two-letter ending",
        "hu",
        "Milyen idő van Budapesten",
    );
    check(
        "a listed value with a case ending",
        "ne",
        "भान्छाको उज्यालोपन उच्चतममा बढाउ",
    );
    check(
        "a name before a known word, written as one",
        "sv",
        "pausa pizzatimer",
    );
    check("a name and a colour in one word", "zh-cn", "卧室灯红色");
    check(
        "a percent sign before a number with a suffix",
        "eu",
        "ezarri logelako lanpararen distira %50era",
    );
    check(
        "a number with an ASCII suffix written against it",
        "eu",
        "aldatu hemengo distira ehuneko 20ra",
    );
    check(
        "a prefix written against a number",
        "he",
        "קבע טיימר ל10 דקות",
    );
    check(
        "a wildcard kept the beginning its template may write against it",
        "ar",
        "الغي منبه البيتزا",
    );
    check(
        "a rule of more than 256 strings against a slot was read word by word",
        "tr",
        "Yatak Odasındaki perdeleri kapat",
    );
    check(
        "a range read in digits only, not the language's number words",
        "fr",
        "Minuteur une heure appelé chocolatine",
    );
    check(
        "an elided article before a number word",
        "fr",
        "Crée un minuteur d'une heure",
    );
    check(
        "a_list_value_holds_the_values_its_test_names",
        "ml",
        "തുറക്കൂ അടുക്കള ബ്ലൈൻഡുകൾ",
    );
    check(
        "a_name_glued_to_an_ending_and_a_word_is_read",
        "is",
        "getur þú slökkt á leikhornsljósinu",
    );
    check(
        "a_name_said_whole_is_not_a_shorter_name_and_an_ending",
        "is",
        "lokaðu vinstri gardínunni",
    );
    // The area's ending stays written in the template, as hassil reads it.
    check(
        "a_name_said_whole_is_not_a_shorter_name_and_an_ending",
        "is",
        "kveiktu ljósin í eldhúsinu",
    );
    check(
        "words_written_against_a_slot_are_also_read_apart",
        "de",
        "Partymodus an",
    );
    check(
        "readings_that_tie_go_to_the_block_written_first",
        "de",
        "welche Tore in der Auffahrt sind geschlossen?",
    );
    check(
        "of_equal_paths_the_one_with_more_words_written_is_kept",
        "vi",
        "những rèm nào đang đóng?",
    );
    check(
        "of_equal_paths_the_one_with_more_words_written_is_kept",
        "sl",
        "kakšen je faktor moči stenske vtičnice?",
    );
    check(
        "words_against_a_group_of_slots_go_to_each_way",
        "ar",
        "الغي منبه النصف ساعة",
    );
    check(
        "words_against_a_group_of_slots_go_to_each_way",
        "th",
        "ปรับไฟห้องน้ำเป็นปิด",
    );
    check(
        "a_word_glued_to_a_name_is_read_before_it_is_skipped",
        "ne",
        "बैठकभित्र कति तातो छ",
    );
    check(
        "two_numbers_with_a_unit_between_them_are_three_words",
        "fr",
        "Minuteur 02h16",
    );
    check(
        "a_suffix_after_an_optional_unit_is_glued_to_it",
        "ko",
        "온도 30도로 설정",
    );
    check(
        "a_compound_of_three_known_words_is_read",
        "nl",
        "Zet keukenwaterkokerschakelaar uit",
    );
    check(
        "a_compound_of_three_known_words_is_read",
        "nl",
        "woonkamerspeelhoekventilatorstatus",
    );
    check(
        "chinese_is_read_character_by_character",
        "zh-cn",
        "停止计时器",
    );
    // A list value that uses a rule no file defines: the language loads
    // (it did not), that value left out and named at its place.
    let sw = language("sw");
    assert!(sw["error"].is_null(), "{sw}");
    assert!(sw["total"].as_u64().unwrap_or(0) > 0, "{sw}");
    assert!(
        sw["warnings"].as_array().is_some_and(|w| w.iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.ends_with(
                "sentences/sw/_common.yaml:93:3: list cover_classes: value `<kivuli>`: no expansion rule <kivuli>; left out"
            )))),
        "{sw}"
    );
    // _test_failures.yaml: the sentences HA's runner expects to fail, fail
    // (Czech's four); one that is read as its test says counts against the
    // language, as in HA's runner, and says why: two of Italian's four,
    // read as their tests say since the block written first wins a tie
    // (the climate block; hassil reads the fans' block, whose fixed
    // `name: all` it ranks first, and fails them, as listed).
    assert_eq!(language("cs")["failing_as_listed"], 4);
    let it = language("it");
    assert_eq!(it["failing_as_listed"], 2, "{it}");
    let listed_but_read: Vec<serde_json::Value> = it["files"]
        .as_array()
        .expect("files")
        .iter()
        .flat_map(|f| f["misses"].as_array().cloned().unwrap_or_default())
        .filter(|m| m["listed_as_failing"] == true)
        .map(|m| m["sentence"].clone())
        .collect();
    assert_eq!(
        listed_but_read,
        [
            "spegni in soggiorno il climatizzatore",
            "accendi in soggiorno il climatizzatore"
        ],
        "{it}"
    );
}

/// Malformed Home Assistant files are errors at their place, never a
/// panic: a template, YAML, a list; a template that uses a rule no file
/// defines is left out with a warning at its place.
#[test]
fn malformed_home_assistant_files_name_file_line_and_column() {
    let h = home("ha-bad");
    let check = |sentences: &str, expect: &str| {
        let dir = h.join("intents");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sentences/xx")).expect("dir");
        std::fs::create_dir_all(dir.join("tests/xx")).expect("dir");
        std::fs::write(dir.join("sentences/xx/_common.yaml"), "language: xx\n").expect("file");
        std::fs::write(dir.join("sentences/xx/lights.yaml"), sentences).expect("file");
        std::fs::write(
            dir.join("tests/xx/_fixtures.yaml"),
            "areas:\n  - name: Kitchen\n    id: kitchen\n",
        )
        .expect("file");
        let o = ainima(
            &h,
            &[
                "intents",
                "test",
                dir.to_str().expect("utf-8"),
                "--language",
                "xx",
            ],
            "",
        );
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        assert!(out.contains(expect), "{out}");
        assert!(!text(&o.stderr).contains("panicked"));
    };
    check(
        "language: xx\nintents:\n  HassTurnOn:\n    data:\n      - sentences:\n          - \"turn on (the {area}\"\n",
        "sentences/xx/lights.yaml:6:33: sentence template: missing `)`",
    );
    check(
        "language: xx\nintents:\n  HassTurnOn:\n    data: [\n",
        "sentences/xx/lights.yaml:5:1:",
    );
    check(
        "language: xx\nlists:\n  level:\n    range:\n      from: 10\n      to: 1\nintents: {}\n",
        "sentences/xx/lights.yaml:3:3: list level: a range needs from <= to",
    );
    // A rule no file defines: the template is left out, named at its
    // place as a warning, and the rest loads.
    check(
        "language: xx\nintents:\n  HassTurnOn:\n    data:\n      - sentences:\n          - \"turn on <nowhere>\"\n",
        "  warning: ",
    );
    check(
        "language: xx\nintents:\n  HassTurnOn:\n    data:\n      - sentences:\n          - \"turn on <nowhere>\"\n",
        "sentences/xx/lights.yaml:6:14: sentence template: no expansion rule <nowhere>; left out",
    );
}

/// The least the test's small model scores (below what it measured).
const INTENT_FLOOR: f64 = 0.96;
/// See [`INTENT_FLOOR`].
const SLOT_F1_FLOOR: f64 = 0.80;

/// A smaller SNIPS folder: the first `per_intent` training sentences of each
/// intent and all the validation files, in a temporary folder.
fn snips_subset(dir: &Path, to: &Path, per_intent: usize) {
    std::fs::create_dir_all(to).expect("folder");
    for entry in std::fs::read_dir(dir).expect("snips folder") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if !name.ends_with(".json") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("reads");
        // train_PlayMusic_full.json is Latin-1.
        let text = String::from_utf8(bytes.clone())
            .unwrap_or_else(|_| bytes.iter().map(|&b| char::from(b)).collect());
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        if name.starts_with("train_") {
            for items in v.as_object_mut().expect("object").values_mut() {
                items.as_array_mut().expect("array").truncate(per_intent);
            }
        }
        std::fs::write(to.join(&name), v.to_string()).expect("writes");
    }
}

#[test]
fn the_joint_model_trains_from_snips_files_the_same_from_a_seed_and_scores() {
    let Some(dir) = ainima_testkit::snips_dir() else {
        return;
    };
    let h = home("nlu-model");
    let small = h.join("snips");
    snips_subset(&dir, &small, 300);
    let s = small.to_str().expect("utf-8");
    let (a, b) = (h.join("a.nlu"), h.join("b.nlu"));
    // The two trainings side by side (training takes one core): separate
    // processes, so nothing is shared but the seed.
    let train = |m: &Path| {
        ainima(
            &h,
            &[
                "nlu",
                "train",
                "--snips",
                s,
                "--out",
                m.to_str().expect("utf-8"),
                "--epochs",
                "6",
                "--seed",
                "5",
            ],
            "",
        )
    };
    let outputs = std::thread::scope(|scope| {
        let other = scope.spawn(|| train(&b));
        [train(&a), other.join().expect("training thread")]
    });
    for o in outputs {
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains("parameters"),
            "{}",
            text(&o.stdout)
        );
    }
    let model = std::fs::read(&a).expect("model");
    assert_eq!(
        model,
        std::fs::read(&b).expect("model"),
        "one seed, one model"
    );
    assert!(model.len() < 5_000_000, "{} bytes", model.len());
    let o = ainima(
        &h,
        &[
            "nlu",
            "eval",
            "--snips",
            s,
            "--model",
            a.to_str().expect("utf-8"),
            "--json",
        ],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["utterances"], 700);
    // Measured with 300 sentences an intent and 6 epochs (2026-12-05):
    // intent 97.9 %, slot F1 83.2; the floors leave a margin. BENCHMARKS.md
    // has the whole training set's figures.
    let intent = v["intent_accuracy"].as_f64().unwrap_or(0.0);
    let f1 = v["slot_f1"].as_f64().unwrap_or(0.0);
    assert!(
        intent >= INTENT_FLOOR && f1 >= SLOT_F1_FLOOR,
        "intent {intent}, slot F1 {f1}"
    );

    // A damaged model is refused with a clear message, not a panic.
    let bad = h.join("bad.nlu");
    let mut bytes = model.clone();
    bytes.truncate(model.len() / 2);
    std::fs::write(&bad, &bytes).expect("writes");
    let o = ainima(
        &h,
        &[
            "nlu",
            "eval",
            "--snips",
            s,
            "--model",
            bad.to_str().expect("utf-8"),
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("not a usable NLU model"),
        "{}",
        text(&o.stderr)
    );
}

/// The JSON lines `ainima ARGS` writes with the understanding model
/// `model` (and a roomy time budget), in a home of its own named `name`.
fn json_lines_with(model: &str, name: &str, args: &[&str], stdin: &str) -> Vec<serde_json::Value> {
    let h = home(&format!("{name}-{model}"));
    let cfg = roomy_budget(&h);
    let mut all = vec!["--config", &cfg, "--understanding", model];
    all.extend_from_slice(args);
    let o = ainima(&h, &all, stdin);
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// What `ainima parse -` made of each line of `sentences` with the
/// understanding model `model`.
fn understood(model: &str, sentences: &[&str]) -> Vec<serde_json::Value> {
    let v = json_lines_with(
        model,
        "understanding",
        &["parse", "--json", "-"],
        &sentences.join("\n"),
    );
    assert_eq!(v.len(), sentences.len());
    v
}

/// A configuration whose model time budget no loaded test machine misses
/// (the budget is for live use; these tests are about what it decides).
fn roomy_budget(home: &Path) -> String {
    let f = home.join("roomy.toml");
    std::fs::write(&f, "[understanding]\nbudget_ms = 60000\n").expect("writes");
    f.to_string_lossy().into_owned()
}

/// Whether a parse acts: an intent at the dialogue's confidence, not
/// asked about.
fn acts(v: &serde_json::Value) -> bool {
    !v["intent"].is_null()
        && v["confidence"].as_f64().is_some_and(|c| c >= 0.6)
        && v.get("ask").is_none()
}

/// How `got` did against `expected` (intent, slot values): the sentences
/// acted on right, acted on wrongly, and asked about with the intent meant
/// or another.
#[derive(Debug, Default)]
struct Score {
    right: usize,
    wrong: Vec<String>,
    asked_right: usize,
    asked_other: usize,
}

fn score(got: &[serde_json::Value], expected: &[(String, Vec<(String, String)>)]) -> Score {
    let mut n = Score::default();
    for (v, (intent, slots)) in got.iter().zip(expected) {
        let same = v["intent"] == intent.as_str();
        if acts(v) {
            if same && slots.iter().all(|(k, x)| v["slots"][k] == x.as_str()) {
                n.right += 1;
            } else {
                n.wrong
                    .push(format!("{} -> {} {}", v["text"], v["intent"], v["slots"]));
            }
        } else if v.get("ask").is_some() {
            if same {
                n.asked_right += 1;
            } else {
                n.asked_other += 1;
            }
        }
    }
    n
}

/// Issue 15, item 2: with the model inside the binary, everyday
/// paraphrases the templates miss are understood (the rules validating the
/// model's proposal), and neither they nor requests for other domains ever
/// act wrongly. The sentences were written before the model was trained
/// and are not trained on; the second set (`-b`) was written after the
/// arbitration's first design. The counts are printed (BENCHMARKS.md);
/// what is checked: the model adds right answers, adds no wrong one, and
/// makes no other domain's request act.
#[test]
fn the_built_in_model_adds_paraphrases_to_the_templates_and_never_a_wrong_action() {
    for set in ["", "-b"] {
        check_understanding(
            &format!("paraphrases{set}.tsv"),
            &format!("out_of_domain{set}.txt"),
        );
    }
}

fn check_understanding(paraphrase_file: &str, other_file: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/understanding");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("fixture");
    let paraphrases = read(paraphrase_file);
    let (mut said, mut expected) = (Vec::new(), Vec::new());
    for line in paraphrases.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split('\t');
        let (Some(s), Some(intent)) = (f.next(), f.next()) else {
            continue;
        };
        let slots = f
            .next()
            .unwrap_or("")
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        said.push(s);
        expected.push((intent.to_string(), slots));
    }
    let other_text = read(other_file);
    let other: Vec<&str> = other_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let nothing: Vec<(String, Vec<(String, String)>)> =
        vec![(String::from("(none)"), Vec::new()); other.len()];
    eprintln!("{paraphrase_file}, {other_file}:");
    let mut table = Vec::new();
    for model in ["none", "builtin"] {
        let got = understood(model, &said);
        // The same on one machine and build, run after run.
        assert_eq!(got, understood(model, &said));
        let p = score(&got, &expected);
        let o = score(&understood(model, &other), &nothing);
        eprintln!(
            "{model:>8}: paraphrases {} of {} right, {} wrong, asked {} (meant) + {} (other); other domains {} of {} acted on, {} asked",
            p.right,
            said.len(),
            p.wrong.len(),
            p.asked_right,
            p.asked_other,
            o.wrong.len(),
            other.len(),
            o.asked_right + o.asked_other
        );
        for w in p.wrong.iter().chain(&o.wrong) {
            eprintln!("          wrong: {w}");
        }
        table.push((p, o));
    }
    let (rules, both) = (&table[0], &table[1]);
    // What the templates get wrong they still get wrong (the rules answer
    // first); the model adds no wrong action to it.
    assert_eq!(
        both.0.wrong, rules.0.wrong,
        "the model made a paraphrase act wrongly"
    );
    assert_eq!(
        rules.1.wrong,
        Vec::<String>::new(),
        "a template took another domain's request"
    );
    assert_eq!(
        both.1.wrong,
        Vec::<String>::new(),
        "the model made another domain's request act"
    );
    // It adds to what the templates get.
    assert!(
        both.0.right > rules.0.right,
        "the model added nothing: {} right with it, {} without",
        both.0.right,
        rules.0.right
    );
}

/// Issue 15, item 2: in a conversation, a paraphrase the model reads and
/// the rules validate acts when the model is sure (`source` "both"), is
/// asked about when it is not and acted on only after a yes, and is left
/// after a no; without the model the same sentences are not understood.
#[test]
fn a_paraphrase_the_model_reads_acts_or_is_asked_about_in_a_chat() {
    let turns = |model: &str| {
        json_lines_with(
            model,
            "chat-understanding",
            &["chat", "--now", "1795341600", "--json"],
            "shut off the heater\nkitchen light to fifty percent\nyes\nbring the bedroom light down to twenty percent\nno\n",
        )
    };
    let t = turns("builtin");
    let all = format!("{t:#?}");
    assert_eq!(t.len(), 5, "{all}");
    assert_eq!(t[0]["source"], "both", "{all}");
    assert_eq!(t[0]["calls"][0]["tool"], "device.off", "{all}");
    assert_eq!(t[0]["calls"][0]["args"]["device"], "heater", "{all}");
    let asked = |v: &serde_json::Value| {
        v["reply"]
            .as_str()
            .is_some_and(|r| r.starts_with("Did you mean"))
    };
    // Asked, not acted on, until the yes.
    assert!(asked(&t[1]), "{all}");
    assert_eq!(t[1]["calls"], serde_json::json!([]), "{all}");
    assert_eq!(t[2]["calls"][0]["tool"], "device.brightness", "{all}");
    assert_eq!(t[2]["calls"][0]["args"]["device"], "kitchen light", "{all}");
    // Another asked about; a no leaves it.
    assert!(asked(&t[3]), "{all}");
    assert_eq!(t[3]["calls"], serde_json::json!([]), "{all}");
    assert_eq!(t[4]["calls"], serde_json::json!([]), "{all}");
    assert_eq!(t[4]["state"], "idle", "{all}");

    let t = turns("none");
    let all = format!("{t:#?}");
    assert!(
        t.iter().all(|x| x["calls"] == serde_json::json!([])),
        "{all}"
    );
}

/// Issue 15, item 2: a user trains a model for their own skills, names it
/// in the configuration (beside it), and the assistant uses it; a damaged
/// file is a clear error, a model over its time budget is left out with a
/// warning, and thresholds the dialogue cannot keep are refused.
#[test]
fn a_model_trained_for_the_user_s_skills_is_used_from_the_configuration() {
    let h = home("own-model");
    let config = h.join("config");
    std::fs::create_dir_all(config.join("skills")).expect("skills folder");
    std::fs::write(
        config.join("skills/garden.toml"),
        "[intents.water]\ntemplates = [\"water the {plant}\", \"give the {plant} some water\"]\nreplies = [\"Watering the {plant}.\"]\n[lists.plant]\nvalues = [\"roses\", \"tomatoes\", \"basil\", \"lemon tree\"]\n",
    )
    .expect("write");
    let model = config.join("garden.nlu");
    let o = ainima(
        &h,
        &[
            "nlu",
            "train",
            "--skills",
            "--small",
            "--per-template",
            "10",
            "--epochs",
            "2",
            "--seed",
            "3",
            "--quiet",
            "--out",
            model.to_str().expect("utf-8"),
        ],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("parameters"),
        "{}",
        text(&o.stdout)
    );

    // `ainima parse SENTENCE` with the configuration `settings`: whether
    // it succeeds, and words its output or errors must have.
    let check = |settings: &str, sentence: &str, ok: bool, says: &str| {
        std::fs::write(config.join("ainima.toml"), settings).expect("config");
        let o = ainima(&h, &["parse", "--json", sentence], "");
        let (out, err) = (text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.success(), ok, "{settings}: {out}{err}");
        assert!(
            out.contains(says) || err.contains(says),
            "{settings}: {out}{err}"
        );
        out
    };
    // Relative to the configuration: the model proposes what no template
    // reads.
    let with_model = "[understanding]\nmodel = \"garden.nlu\"\nbudget_ms = 60000\n";
    check(with_model, "zing blorp", true, "the model proposed");
    // Over its budget: templates and rules alone, with a warning.
    let slow = "[understanding]\nmodel = \"builtin\"\nbudget_ms = 0.000001\n";
    let out = check(slow, "zing blorp", true, "over its budget");
    assert!(!out.contains("the model proposed"), "{out}");
    // Acting below the dialogue's own confidence cannot be kept.
    check(
        "[understanding]\nact = 0.5\nask = 0.4\n",
        "water the roses",
        false,
        "act at least",
    );
    // Damaged: a clear error, nothing parsed.
    std::fs::write(&model, b"not a model at all").expect("write");
    check(with_model, "water the roses", false, "understanding.model");
}
