//! A PulseAudio daemon of a test's own: the real sound server, with
//! virtual devices, as on a desktop without a sound card.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A PulseAudio daemon of the test's own.
pub struct Pulse {
    dir: PathBuf,
    child: Option<Child>,
}

impl Pulse {
    /// A daemon whose configuration loads `devices` (default.pa lines:
    /// sinks, sources, defaults) after its socket, in `dir`.
    pub fn new(dir: &Path, devices: &str) -> Pulse {
        std::fs::create_dir_all(dir.join("run")).expect("dir");
        std::fs::create_dir_all(dir.join("home/.config/pulse")).expect("dir");
        // Clients never start a sound server of their own.
        std::fs::write(
            dir.join("home/.config/pulse/client.conf"),
            "autospawn = no\n",
        )
        .expect("client.conf");
        // ALSA's default device is the sound server, as on a desktop.
        std::fs::write(
            dir.join("home/.asoundrc"),
            "pcm.!default { type pulse }\nctl.!default { type pulse }\n",
        )
        .expect("asoundrc");
        std::fs::write(
            dir.join("default.pa"),
            format!(
                "load-module module-native-protocol-unix auth-anonymous=1 socket={run}/native\n{devices}",
                run = dir.join("run").display(),
            ),
        )
        .expect("default.pa");
        Pulse {
            dir: dir.to_path_buf(),
            child: None,
        }
    }

    /// Points `c` at this daemon (and ALSA at it, through `HOME`).
    pub fn env(&self, c: &mut Command) {
        c.env("HOME", self.dir.join("home"))
            .env("PULSE_RUNTIME_PATH", self.dir.join("run"))
            .env(
                "PULSE_SERVER",
                format!("unix:{}/native", self.dir.join("run").display()),
            );
    }

    /// Starts the daemon and waits until it answers.
    pub fn start(&mut self) {
        // A server that died leaves its pipe behind (a pipe source's), and
        // the pipe source will not load over it.
        let _ = std::fs::remove_file(self.dir.join("mic.fifo"));
        let mut c = Command::new("pulseaudio");
        c.args(["-n", "-F"])
            .arg(self.dir.join("default.pa"))
            .args([
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--log-target=stderr",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.env(&mut c);
        self.child = Some(c.spawn().expect("pulseaudio starts"));
        let start = Instant::now();
        loop {
            let mut info = Command::new("pactl");
            info.arg("info").stdout(Stdio::null()).stderr(Stdio::null());
            self.env(&mut info);
            if info.status().is_ok_and(|s| s.success()) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "pulseaudio did not come up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// PulseAudio and its tools are here (else the test is skipped).
pub fn sound_server() -> bool {
    let ok = |c: &str| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !(ok("pulseaudio") && ok("parec") && ok("paplay")) {
        ainima_testkit::skip::<()>(
            "PulseAudio is not installed (apt: pulseaudio pulseaudio-utils libasound2-plugins)",
        );
        return false;
    }
    true
}
