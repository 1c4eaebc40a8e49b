//! One home for all state. `AINIMA_HOME` puts everything below one folder
//! (tests and users keep separate worlds that way); without it, the XDG base
//! directories are used, each with an `ainima` folder of its own.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Result, bail};

/// Where Ainima keeps what it keeps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Home {
    /// Configuration: `ainima.toml`.
    pub config: PathBuf,
    /// Re-creatable data: models, derived caches.
    pub cache: PathBuf,
    /// Data the user would miss: databases, the audit log, the outbox.
    pub data: PathBuf,
    /// Logs.
    pub logs: PathBuf,
    /// Speech and language models (below the cache).
    pub models: PathBuf,
}

impl Home {
    /// From the process environment.
    pub fn from_env() -> Result<Home> {
        Self::resolve(|k| std::env::var_os(k))
    }

    /// From any environment (tests pass their own).
    pub fn resolve(env: impl Fn(&str) -> Option<OsString>) -> Result<Home> {
        let non_empty = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(root) = non_empty("AINIMA_HOME") {
            if !root.is_absolute() {
                bail!(
                    "AINIMA_HOME must be an absolute path, not {}",
                    root.display()
                );
            }
            return Ok(Home {
                config: root.join("config"),
                cache: root.join("cache"),
                data: root.join("data"),
                logs: root.join("logs"),
                models: root.join("cache/models"),
            });
        }
        let home = non_empty("HOME");
        let xdg = |var: &str, fallback: &str| -> Result<PathBuf> {
            match (non_empty(var).filter(|p| p.is_absolute()), &home) {
                (Some(p), _) => Ok(p.join("ainima")),
                (None, Some(h)) => Ok(h.join(fallback).join("ainima")),
                (None, None) => bail!(
                    "neither AINIMA_HOME nor HOME is set: set AINIMA_HOME to a folder for Ainima's state"
                ),
            }
        };
        let cache = xdg("XDG_CACHE_HOME", ".cache")?;
        Ok(Home {
            config: xdg("XDG_CONFIG_HOME", ".config")?,
            data: xdg("XDG_DATA_HOME", ".local/share")?,
            logs: xdg("XDG_STATE_HOME", ".local/state")?.join("logs"),
            models: cache.join("models"),
            cache,
        })
    }

    /// The configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config.join("ainima.toml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn ainima_home_holds_everything() {
        let h = Home::resolve(env(&[("AINIMA_HOME", "/w"), ("HOME", "/home/u")])).unwrap();
        assert_eq!(h.config, PathBuf::from("/w/config"));
        assert_eq!(h.models, PathBuf::from("/w/cache/models"));
        assert_eq!(h.logs, PathBuf::from("/w/logs"));
    }

    #[test]
    fn xdg_directories_when_unset() {
        let h = Home::resolve(env(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/c")])).unwrap();
        assert_eq!(h.config, PathBuf::from("/home/u/.config/ainima"));
        assert_eq!(h.cache, PathBuf::from("/c/ainima"));
        assert_eq!(h.data, PathBuf::from("/home/u/.local/share/ainima"));
        assert_eq!(h.logs, PathBuf::from("/home/u/.local/state/ainima/logs"));
    }

    #[test]
    fn relative_or_missing_homes_are_errors() {
        assert!(Home::resolve(env(&[("AINIMA_HOME", "rel")])).is_err());
        assert!(Home::resolve(env(&[])).is_err());
    }
}
