//! A simulated room: the assistant's speaker and the user's voice meet in
//! one microphone, on a simulated clock.
//!
//! What the assistant plays reaches the microphone through a room impulse
//! response: a delay, a gain, and an exponentially decaying reverberation
//! tail of Gaussian noise whose level falls 60 dB in `rt60_ms` (300 ms by
//! default). The user's speech is scheduled at sample times; white noise at
//! `noise_dbfs` is added. Everything is seeded: the same configuration gives
//! the same samples, bit for bit.

use crate::clock::SimClock;
use crate::device::{DeviceInfo, DuplexDevice};
use crate::{Error, Result, SAMPLE_RATE};

/// SplitMix64: a tiny, seedable, platform-independent generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    /// Standard normal (Box-Muller).
    pub fn gaussian(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * libm::log(u1)).sqrt() * libm::cos(2.0 * std::f64::consts::PI * u2)) as f32
    }
}

/// The room.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomConfig {
    /// Reverberation time: the tail falls 60 dB in this long.
    pub rt60_ms: u32,
    /// Speaker-to-microphone delay (distance and device latency).
    pub delay_ms: u32,
    /// Gain of the direct path from speaker to microphone.
    pub echo_gain: f32,
    /// Level of the reverberation tail at its start, relative to the direct path.
    pub reverb_level: f32,
    /// White noise level at the microphone, dBFS (RMS); below -120 means none.
    pub noise_dbfs: f32,
    /// Seed for the tail and the noise.
    pub seed: u64,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            rt60_ms: 300,
            delay_ms: 10,
            echo_gain: 0.5,
            reverb_level: 0.05,
            noise_dbfs: -70.0,
            seed: 1,
        }
    }
}

impl RoomConfig {
    /// The impulse response this room applies to the speaker's sound.
    pub fn impulse_response(&self) -> Result<Vec<f32>> {
        if self.rt60_ms > 5_000 || self.delay_ms > 1_000 {
            return Err(Error::config(
                "room: rt60_ms at most 5000, delay_ms at most 1000",
            ));
        }
        if !(self.echo_gain.is_finite()
            && self.reverb_level.is_finite()
            && self.noise_dbfs.is_finite())
        {
            return Err(Error::config("room: gains must be finite numbers"));
        }
        let sr = SAMPLE_RATE as f32;
        let delay = (self.delay_ms * SAMPLE_RATE / 1000) as usize;
        let tail = (self.rt60_ms * SAMPLE_RATE / 1000) as usize;
        let mut h = vec![0.0; delay + tail.max(1)];
        h[delay] = self.echo_gain;
        let mut rng = Rng::new(self.seed ^ 0x005E_ED0F_2001);
        for n in 1..tail {
            let t = n as f32 / sr;
            let decay = libm::powf(10.0, -3.0 * t / (self.rt60_ms as f32 / 1000.0));
            h[delay + n] += self.echo_gain * self.reverb_level * rng.gaussian() * decay;
        }
        Ok(h)
    }
}

struct UserSpeech {
    start: u64,
    samples: Vec<f32>,
    gain: f32,
}

/// The simulated room as a [`DuplexDevice`]. Each `capture` advances the
/// shared [`SimClock`] by the block's duration.
pub struct SimRoom {
    cfg: RoomConfig,
    /// Impulse response, reversed, so the convolution is one contiguous dot product.
    rir_rev: Vec<f32>,
    /// What the speaker emitted: the last `L - 1` samples before the block
    /// being captured, then the block's, oldest first (each sample's window
    /// of `L` is one contiguous slice).
    line: Vec<f32>,
    /// The block's echo, by sample.
    echo: Vec<f32>,
    /// Samples since the speaker last emitted anything non-zero.
    quiet_for: usize,
    queue: crate::device::PlaybackQueue,
    users: Vec<UserSpeech>,
    pos: u64,
    end: Option<u64>,
    rng: Rng,
    noise_amp: f32,
    clock: SimClock,
}

impl std::fmt::Debug for SimRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimRoom")
            .field("cfg", &self.cfg)
            .field("pos", &self.pos)
            .finish()
    }
}

impl SimRoom {
    /// A room on `clock`.
    pub fn new(cfg: RoomConfig, clock: SimClock) -> Result<Self> {
        let mut rir_rev = cfg.impulse_response()?;
        rir_rev.reverse();
        let l = rir_rev.len();
        let noise_amp = if cfg.noise_dbfs < -120.0 {
            0.0
        } else {
            libm::powf(10.0, cfg.noise_dbfs / 20.0)
        };
        Ok(SimRoom {
            rng: Rng::new(cfg.seed),
            cfg,
            line: vec![0.0; l.saturating_sub(1)],
            echo: Vec::new(),
            quiet_for: usize::MAX,
            rir_rev,
            queue: Default::default(),
            users: Vec::new(),
            pos: 0,
            end: None,
            noise_amp,
            clock,
        })
    }

    /// The user says `samples` (16 kHz mono) starting at sample `start`, scaled by `gain`.
    pub fn add_user_speech(&mut self, start: u64, samples: Vec<f32>, gain: f32) {
        self.users.push(UserSpeech {
            start,
            samples,
            gain,
        });
    }

    /// End the stream at this sample (otherwise it runs forever).
    pub fn end_at(&mut self, sample: u64) {
        self.end = Some(sample);
    }

    /// The current sample position.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The echo of the last `n` samples in `line`, into `echo`; then
    /// `line` keeps the last `L - 1`. Four samples at a time: their windows
    /// overlap, and each sample's sum is the one `dot` makes, in its order.
    fn echo_block(&mut self, n: usize) {
        let l = self.rir_rev.len();
        let past = self.line.len() - n;
        self.echo.clear();
        self.echo.resize(n, 0.0);
        let mut i = 0;
        while i < n {
            let k = (n - i).min(4);
            let mut quiet = [true; 4];
            for (j, q) in quiet.iter_mut().enumerate().take(k) {
                let x = self.line[past + i + j];
                self.quiet_for = if x == 0.0 {
                    self.quiet_for.saturating_add(1)
                } else {
                    0
                };
                *q = self.quiet_for >= l;
            }
            // (A window all silence sums to 0.0 exactly: skipping it
            // changes no bit.)
            if quiet[..k].iter().all(|&q| q) {
                i += k;
                continue;
            }
            let start = past + i + 1 - l;
            if k == 4 {
                let e = dot4(&self.rir_rev, &self.line[start..start + l + 3]);
                for j in 0..4 {
                    self.echo[i + j] = if quiet[j] { 0.0 } else { e[j] };
                }
            } else {
                for (j, &q) in quiet.iter().enumerate().take(k) {
                    if !q {
                        self.echo[i + j] = dot(&self.rir_rev, &self.line[start + j..start + j + l]);
                    }
                }
            }
            i += k;
        }
        self.line.drain(..n);
    }
}

/// `x` heard through the impulse response `h` (the whole of it: `x.len() +
/// h.len() - 1` samples). Each output's terms are added in the order of
/// `x`, so the bits are the same on every machine and at every
/// optimisation level (this crate is optimised in the tests' profile, where
/// `ainima wake train`'s rooms run too).
pub fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f32; (x.len() + h.len()).saturating_sub(1)];
    for (i, &v) in x.iter().enumerate() {
        if v != 0.0 {
            for (o, &g) in y[i..i + h.len()].iter_mut().zip(h) {
                *o += v * g;
            }
        }
    }
    y
}

/// Dot product in eight fixed lanes: vectorisable, and the same sum on every platform.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = a.len() / 8;
    for i in 0..chunks {
        for j in 0..8 {
            lanes[j] += a[i * 8 + j] * b[i * 8 + j];
        }
    }
    let mut s = 0.0;
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    lanes.iter().sum::<f32>() + s
}

/// `dot(a, &b[k..k + a.len()])` for `k` in 0..4, each summed exactly as
/// `dot` sums it; four at once, so the additions of one do not wait on
/// each other (the single sum is bound by an addition's latency).
fn dot4(a: &[f32], b: &[f32]) -> [f32; 4] {
    let n = a.len();
    let mut lanes = [[0.0f32; 8]; 4];
    let chunks = n / 8;
    for c in 0..chunks {
        let av = &a[c * 8..c * 8 + 8];
        for (k, lane) in lanes.iter_mut().enumerate() {
            let bv = &b[k + c * 8..k + c * 8 + 8];
            for j in 0..8 {
                lane[j] += av[j] * bv[j];
            }
        }
    }
    let mut out = [0.0f32; 4];
    for (k, o) in out.iter_mut().enumerate() {
        let mut s = 0.0;
        for i in chunks * 8..n {
            s += a[i] * b[k + i];
        }
        *o = lanes[k].iter().sum::<f32>() + s;
    }
    out
}

impl DuplexDevice for SimRoom {
    fn capture(&mut self, mic: &mut [f32], reference: &mut [f32]) -> Result<usize> {
        let mut n = mic.len().min(reference.len());
        if let Some(end) = self.end {
            if self.pos >= end {
                return Err(Error::EndOfStream);
            }
            n = n.min((end - self.pos) as usize);
        }
        for r in reference[..n].iter_mut() {
            let x = self.queue.next_sample();
            *r = x;
            self.line.push(x);
        }
        self.echo_block(n);
        for (i, (m, &echo)) in mic[..n].iter_mut().zip(&self.echo).enumerate() {
            let t = self.pos + i as u64;
            let mut user = 0.0;
            for u in &self.users {
                if t >= u.start && t < u.start + u.samples.len() as u64 {
                    user += u.samples[(t - u.start) as usize] * u.gain;
                }
            }
            let noise = if self.noise_amp > 0.0 {
                self.rng.gaussian() * self.noise_amp
            } else {
                0.0
            };
            *m = echo + user + noise;
        }
        mic[n..].fill(0.0);
        reference[n..].fill(0.0);
        self.pos += n as u64;
        self.clock.advance_samples(n as u64);
        Ok(n)
    }

    fn play(&mut self, samples: &[f32]) -> Result<()> {
        self.queue.push(samples);
        Ok(())
    }

    fn stop_playback(&mut self) -> usize {
        self.queue.clear()
    }

    fn pending_playback(&self) -> usize {
        self.queue.len()
    }

    fn info(&self) -> DeviceInfo {
        DeviceInfo {
            name: "simulated room".into(),
            input_rate: SAMPLE_RATE,
            input_channels: 1,
            output_rate: SAMPLE_RATE,
            output_channels: 1,
        }
    }
}

/// Run `front_end` on what `room` captures, 10 ms at a time, until sample
/// `until` (or the room's end). Events go to `on_event` with the sample
/// position at which they were emitted. When `erle_from` is given, the echo
/// canceller's ERLE measurement restarts there (after convergence).
pub fn run_front_end(
    room: &mut SimRoom,
    front_end: &mut crate::frontend::FrontEnd,
    until: u64,
    erle_from: Option<u64>,
    on_event: &mut impl FnMut(u64, crate::endpoint::EndpointEvent),
) -> Result<()> {
    let block = crate::aec::BLOCK;
    let (mut mic, mut reference) = (vec![0.0; block], vec![0.0; block]);
    while room.position() < until {
        let before = room.position();
        match room.capture(&mut mic, &mut reference) {
            Ok(_) => {}
            Err(Error::EndOfStream) => break,
            Err(e) => return Err(e),
        }
        let now = room.position();
        front_end.process(&mic, &reference, &mut |e| on_event(now, e))?;
        if let (Some(at), Some(aec)) = (erle_from, front_end.aec_mut())
            && before < at
            && now >= at
        {
            aec.reset_erle();
        }
    }
    let end = room.position();
    front_end.finish(&mut |e| on_event(end, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot4_sums_each_window_bit_for_bit_as_dot_does() {
        let mut rng = Rng::new(7);
        for n in [1, 7, 8, 9, 100, 4801] {
            let a: Vec<f32> = (0..n).map(|_| rng.gaussian()).collect();
            let b: Vec<f32> = (0..n + 3).map(|_| rng.gaussian() * 0.3).collect();
            let four = dot4(&a, &b);
            for (k, got) in four.iter().enumerate() {
                assert_eq!(
                    got.to_bits(),
                    dot(&a, &b[k..k + n]).to_bits(),
                    "n {n}, k {k}"
                );
            }
        }
    }

    /// The echo captured in blocks of any size is, sample by sample, the
    /// sum over that sample's own window (the last `L` samples played),
    /// and exactly 0.0 once the speaker has been silent for `L` samples.
    #[test]
    fn echo_in_blocks_of_any_size_is_each_sample_s_own_window_sum() {
        let cfg = RoomConfig {
            noise_dbfs: -130.0,
            ..RoomConfig::default()
        };
        let mut room = SimRoom::new(cfg, SimClock::new()).unwrap();
        let l = room.rir_rev.len();
        let mut rng = Rng::new(3);
        // Speech, a silence longer than the room's tail, speech again.
        let mut played: Vec<f32> = (0..3000).map(|_| rng.gaussian() * 0.1).collect();
        played.extend(std::iter::repeat_n(0.0, l + 700));
        played.extend((0..2000).map(|_| rng.gaussian() * 0.1));
        room.play(&played).unwrap();
        let total = played.len() + l + 50;
        let (mut mic, mut got) = (Vec::new(), Vec::new());
        for size in [1, 3, 5, 13, 160, 4].iter().cycle() {
            if got.len() >= total {
                break;
            }
            mic.resize(*size, 0.0);
            let mut reference = vec![0.0; *size];
            let n = room.capture(&mut mic, &mut reference).unwrap();
            got.extend_from_slice(&mic[..n]);
        }
        let mut quiet_for = usize::MAX;
        let at = |t: isize| {
            if t < 0 {
                0.0
            } else {
                played.get(t as usize).copied().unwrap_or(0.0)
            }
        };
        for (t, &g) in got.iter().enumerate() {
            let x = at(t as isize);
            quiet_for = if x == 0.0 {
                quiet_for.saturating_add(1)
            } else {
                0
            };
            let want = if quiet_for >= l {
                0.0
            } else {
                let window: Vec<f32> = (0..l)
                    .map(|k| at(t as isize + 1 - l as isize + k as isize))
                    .collect();
                dot(&room.rir_rev, &window)
            };
            assert_eq!(g.to_bits(), (want + 0.0 + 0.0f32).to_bits(), "sample {t}");
        }
    }

    #[test]
    fn impulse_response_decays_60_db_over_rt60() {
        let cfg = RoomConfig::default();
        let h = cfg.impulse_response().unwrap();
        let delay = 160;
        assert_eq!(h[delay], 0.5);
        let e = |a: usize, b: usize| h[a..b].iter().map(|x| x * x).sum::<f32>() / (b - a) as f32;
        let early = e(delay + 1, delay + 801);
        let late = e(delay + 4000, delay + 4800);
        let db = 10.0 * libm::log10f(early / late);
        assert!((45.0..62.0).contains(&db), "decay over 250 ms: {db} dB");
    }

    #[test]
    fn the_speaker_is_heard_after_the_delay_and_runs_are_identical() {
        let run = || {
            let mut room = SimRoom::new(RoomConfig::default(), SimClock::new()).unwrap();
            room.play(&[1.0]).unwrap();
            let (mut mic, mut r) = (vec![0.0; 320], vec![0.0; 320]);
            room.capture(&mut mic, &mut r).unwrap();
            mic
        };
        let a = run();
        assert!(a[160] > 0.49 && a[160] < 0.51, "{}", a[160]);
        assert!(a[100].abs() < 0.01);
        assert_eq!(a, run());
    }
}
