//! `ainima`: the command line.
#![forbid(unsafe_code)]

mod bench;
mod config;
mod demo;
mod home;
mod speech;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::AppConfig;
use crate::home::Home;

/// Ainima: an offline, full-duplex voice agent runtime.
#[derive(Debug, Parser)]
#[command(name = "ainima", version, about)]
struct Cli {
    /// Configuration file (default: ainima.toml in the config folder; see `ainima paths`).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find the stretches of speech in an audio file (WAV, FLAC, MP3, Ogg).
    Segments {
        /// The audio file.
        audio: PathBuf,
        /// One JSON object a line: {"start": SECONDS, "end": SECONDS}.
        #[arg(long)]
        json: bool,
    },
    /// Where Ainima keeps its configuration, cache, models, data and logs.
    Paths {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// A short tour of the front end: real recordings, then the assistant
    /// talking in a simulated room while a user talks over it.
    Demo {
        /// Test data folder (default: $AINIMA_DATA_DIR or ../shared/data).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Benchmarks, side by side with peers measured in the same run.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// VAD and endpointer, resampling, echo cancellation.
    Audio {
        /// Test data folder (default: $AINIMA_DATA_DIR or ../shared/data).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Also write the results as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Repetitions of each timed run (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

fn main() -> ExitCode {
    // A bug must still end in one line, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("ainima: internal error{at}: {msg}");
    }));
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ainima: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn load_config(cli_path: Option<&PathBuf>, home: &Home) -> Result<AppConfig> {
    match cli_path {
        Some(p) => AppConfig::load(p, false),
        None => AppConfig::load(&home.config_file(), true),
    }
}

/// The shared test data folder: `--data`, else `AINIMA_DATA_DIR`, else `../shared/data`.
pub(crate) fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("AINIMA_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

fn run(cli: Cli) -> Result<()> {
    let home = Home::from_env()?;
    let cfg = load_config(cli.config.as_ref(), &home)?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Segments { audio, json } => {
            let samples = ainima_audio::decode::load_16k_mono(&audio)
                .with_context(|| audio.display().to_string())?;
            let segs = ainima_audio::endpoint::segments(&samples, &cfg.endpointer)
                .with_context(|| audio.display().to_string())?;
            let secs = |s: u64| (ainima_audio::frame::seconds(s) * 1000.0).round() / 1000.0;
            for u in segs {
                if json {
                    let line = serde_json::json!({"start": secs(u.start), "end": secs(u.end)});
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(out, "{:.3}\t{:.3}", secs(u.start), secs(u.end))?;
                }
            }
        }
        Command::Paths { json } => {
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&home)?)?;
            } else {
                writeln!(out, "config  {}", home.config_file().display())?;
                writeln!(out, "cache   {}", home.cache.display())?;
                writeln!(out, "models  {}", home.models.display())?;
                writeln!(out, "data    {}", home.data.display())?;
                writeln!(out, "logs    {}", home.logs.display())?;
            }
        }
        Command::Demo { data } => demo::run(&cfg, &data_dir(data), &mut out)?,
        Command::Bench {
            which: BenchCommand::Audio { data, json, runs },
        } => bench::audio(
            &cfg,
            &data_dir(data),
            json.as_deref(),
            runs.max(1),
            &mut out,
        )?,
    }
    out.flush()?;
    Ok(())
}
