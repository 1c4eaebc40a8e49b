//! `ainima serve-web`: the browser app (built by `scripts/build-web`) on
//! loopback, and an installed speech model for the page's recogniser under
//! `/model/`. Only those files are served: plain names in the app's folder
//! (no `..`, no hidden files, nothing outside it after links are followed)
//! and the model's four files by name, with the headers a page needs for
//! WebAssembly threads later (cross-origin isolation) and no listing.

use std::io::Write;
use std::path::{Path, PathBuf};

use ainima_agent::http::{Request, Response, Server};
use anyhow::{Context, Result, bail};

/// The files every built app has.
const NEEDED: [&str; 5] = [
    "index.html",
    "ainima_web.js",
    "ainima_web_bg.wasm",
    "ainima_recognizer.js",
    "ainima_recognizer_bg.wasm",
];

/// Where `scripts/build-web` puts the app for the binary at `exe`:
/// `target/web` beside `target/release/ainima`.
pub fn default_dir(exe: &Path) -> Option<PathBuf> {
    Some(exe.parent()?.parent()?.join("web"))
}

/// The files of an installed model the page's recogniser reads.
pub const MODEL_FILES: [&str; 4] = [
    "config.json",
    "ainima.json",
    "tokenizer.json",
    "model.safetensors",
];

/// An installed speech model to serve: its name and folder.
#[derive(Debug, Clone)]
pub struct Model {
    /// The store's name for it (`whisper-tiny.en`).
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
}

/// Serves `dir` (and `model` under `/model/`) on `127.0.0.1:port` (0: any
/// free port), writes the URL as the first line of `out`, and serves until
/// the process is stopped.
pub fn serve(dir: &Path, model: Option<Model>, port: u16, out: &mut dyn Write) -> Result<()> {
    let server = start(dir, model, port)?;
    writeln!(out, "{}/", server.url())?;
    out.flush()?;
    loop {
        std::thread::park();
    }
}

/// The server, started.
pub fn start(dir: &Path, model: Option<Model>, port: u16) -> Result<Server> {
    for f in NEEDED {
        if !dir.join(f).is_file() {
            bail!(
                "{} has no {f}: build the app first (scripts/build-web), or name its folder with --dir",
                dir.display()
            );
        }
    }
    let root = dir
        .canonicalize()
        .with_context(|| dir.display().to_string())?;
    Server::start(&format!("127.0.0.1:{port}"), move |req| {
        answer(&root, model.as_ref(), req)
    })
    .with_context(|| format!("listening on 127.0.0.1:{port}"))
}

fn status(code: u16, text: &str) -> Response {
    Response {
        status: code,
        content_type: "text/plain; charset=utf-8".into(),
        body: text.as_bytes().to_vec(),
        headers: Vec::new(),
    }
}

/// The content type by extension; `None` for what the app never serves.
fn content_type(name: &str) -> Option<&'static str> {
    Some(match name.rsplit_once('.')?.1 {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "css" => "text/css; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "nlu" | "wake" => "application/octet-stream",
        _ => return None,
    })
}

/// The file a request path names, if it is one of the app's: `/` is
/// `index.html`; every segment a plain name.
pub fn file_of(path: &str) -> Option<String> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let rel = path.strip_prefix('/')?;
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    };
    rel.split('/').all(plain).then(|| rel.to_string())
}

/// Whether a request's `Host` names this machine's loopback (`127.0.0.1`
/// or `localhost`, any port): a page elsewhere whose name an attacker
/// points at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
pub fn loopback_host(host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")
}

fn answer(root: &Path, model: Option<&Model>, req: &Request) -> Response {
    if !loopback_host(req.header("host")) {
        return status(403, "only for 127.0.0.1 or localhost");
    }
    if req.method != "GET" {
        return status(405, "only GET").with_header("Allow", "GET");
    }
    let Some(rel) = file_of(&req.path) else {
        return status(404, "not found");
    };
    let (file, kind) = if let Some(name) = rel.strip_prefix("model/") {
        // What the page's recogniser fetches: the list, then the files.
        let Some(m) = model else {
            return status(404, "no speech model: serve-web --model NAME");
        };
        if name == "index.json" {
            // The weights' digest, from the store's manifest: the page keeps
            // each version apart.
            let version = std::fs::read(m.dir.join("ainima.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| {
                    v["sha256"]["model.safetensors"]
                        .as_str()
                        .map(str::to_string)
                });
            let index =
                serde_json::json!({"name": m.name, "version": version, "files": MODEL_FILES});
            return Response::json(200, &index).with_header("Cache-Control", "no-cache");
        }
        if !MODEL_FILES.contains(&name) {
            return status(404, "not found");
        }
        let file = m.dir.join(name);
        if !file.is_file() {
            return status(404, "not found");
        }
        (file, "application/octet-stream")
    } else {
        let Some(kind) = content_type(&rel) else {
            return status(404, "not found");
        };
        // Links are followed, and what they reach must still be inside the app.
        match root.join(&rel).canonicalize() {
            Ok(f) if f.starts_with(root) && f.is_file() => (f, kind),
            _ => return status(404, "not found"),
        }
    };
    let body = match std::fs::read(&file) {
        Ok(b) => b,
        Err(_) => return status(500, "unreadable"),
    };
    Response {
        status: 200,
        content_type: kind.into(),
        body,
        headers: Vec::new(),
    }
    .with_header("Cross-Origin-Opener-Policy", "same-origin")
    .with_header("Cross-Origin-Embedder-Policy", "require-corp")
    .with_header("X-Content-Type-Options", "nosniff")
    .with_header("Cache-Control", "no-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expect: Option<&str>) {
        assert_eq!(file_of(path).as_deref(), expect, "{path}");
    }

    #[test]
    fn only_plain_names_in_the_folder_are_files() {
        check("/", Some("index.html"));
        check("/?x=1", Some("index.html"));
        check("/app.js", Some("app.js"));
        check("/ainima_web_bg.wasm#x", Some("ainima_web_bg.wasm"));
        check("/../etc/passwd", None);
        check("/a/../../b", None);
        check("/.git/config", None);
        check("/%2e%2e/x", None);
        check("//etc/passwd", None);
        check("/a\\b", None);
        check("app.js", None);
        check("", None);
    }

    /// What `answer` gives for GET `path` from `root`, by status.
    fn status_of(root: &Path, path: &str) -> u16 {
        let req = Request {
            method: "GET".into(),
            path: path.into(),
            headers: [("host".to_string(), "127.0.0.1:8080".to_string())].into(),
            body: Vec::new(),
        };
        answer(root, None, &req).status
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_only_to_files_inside_the_app() {
        let dir = std::env::temp_dir().join(format!("ainima-web-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let app = dir.join("app");
        std::fs::create_dir_all(app.join("sub")).unwrap();
        std::fs::write(app.join("index.html"), "<p>app</p>").unwrap();
        std::fs::write(dir.join("secret.js"), "secret").unwrap();
        let link = std::os::unix::fs::symlink;
        link(app.join("index.html"), app.join("inside.html")).unwrap();
        link(dir.join("secret.js"), app.join("outside.js")).unwrap();
        link(dir.clone(), app.join("up.js")).unwrap();
        link(app.join("sub"), app.join("folder.js")).unwrap();
        let root = app.canonicalize().unwrap();
        for (path, expect) in [
            ("/", 200),
            ("/inside.html", 200),
            ("/outside.js", 404),
            ("/up.js", 404),
            ("/folder.js", 404),
            ("/missing.js", 404),
        ] {
            assert_eq!(status_of(&root, path), expect, "{path}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_loopback_names_are_served() {
        for (host, ok) in [
            (Some("127.0.0.1:8080"), true),
            (Some("localhost:8080"), true),
            (Some("LOCALHOST"), true),
            (Some("127.0.0.1"), true),
            (Some("evil.example:8080"), false),
            (Some("127.0.0.1.evil.example:8080"), false),
            (Some("localhost.:8080"), false),
            (Some("127.0.0.1:80:80"), false),
            (Some(""), false),
            (None, false),
        ] {
            assert_eq!(loopback_host(host), ok, "{host:?}");
        }
    }
}
