//! Acoustic echo cancellation: remove what the assistant itself played from
//! what the microphone heard, so its own voice never wakes the VAD.
//!
//! A partitioned-block frequency-domain adaptive filter (the "multidelay"
//! filter of Soo and Pang, 1990, with the gradient constraint of Ferrara's
//! FLMS), in two paths as in Speex and WebRTC: a background filter adapts
//! with a normalised step, and the foreground filter that produces the
//! output takes its coefficients only when the background cancels better.
//! Near-end speech (double talk) makes the background diverge briefly; the
//! foreground is unaffected, and adaptation is frozen while the double-talk
//! detector fires. A broadband residual echo suppressor follows, attenuating
//! what the linear filter leaves only while far-end speech is playing and the
//! near end is silent.
//!
//! The filter covers `filter_ms` of echo path (delay plus reverberation). At
//! 300 ms RT60 the tail decays 25 dB in 125 ms; the default 320 ms covers
//! the direct path and the tail to well below the noise.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::{Error, Result};

/// Samples per block: the canceller's unit of work (10 ms at 16 kHz).
pub const BLOCK: usize = 160;
const FFT: usize = 2 * BLOCK;
const BINS: usize = BLOCK + 1;

/// Echo canceller settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AecConfig {
    /// Length of echo path modelled, in ms (rounded up to 10 ms blocks).
    pub filter_ms: u32,
    /// Normalised adaptation step (0 to 1).
    pub step: f32,
    /// Extra attenuation of residual echo while only the far end talks, in dB (0 turns it off).
    pub suppression_db: f32,
}

impl Default for AecConfig {
    fn default() -> Self {
        AecConfig {
            filter_ms: 320,
            step: 0.8,
            suppression_db: 30.0,
        }
    }
}

/// What the canceller observed over the last block.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AecBlockStats {
    /// The double-talk detector fired: near-end speech over far-end.
    pub double_talk: bool,
    /// Far-end (reference) audio was playing.
    pub far_end_active: bool,
    /// Gain applied by the residual echo suppressor (1 = none).
    pub suppressor_gain: f32,
}

/// The echo canceller. Feed microphone and reference in blocks of [`BLOCK`] samples.
pub struct EchoCanceller {
    cfg: AecConfig,
    partitions: usize,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    scratch_f: Vec<Complex<f32>>,
    scratch_i: Vec<Complex<f32>>,
    /// Reference spectra, newest at `head`.
    x_hist: Vec<[Complex<f32>; BINS]>,
    head: usize,
    w_bg: Vec<[Complex<f32>; BINS]>,
    w_fg: Vec<[Complex<f32>; BINS]>,
    x_prev: [f32; BLOCK],
    time: [f32; FFT],
    spec: [Complex<f32>; BINS],
    e_spec: [Complex<f32>; BINS],
    // Smoothed energies.
    s_mic: f32,
    s_e_fg: f32,
    s_e_bg: f32,
    s_y_fg: f32,
    s_ref: f32,
    gain: f32,
    /// Blocks the far end still counts as active after the reference went quiet.
    far_end_hold: usize,
    /// Recent peak of the echo estimate's energy, decaying.
    y_peak: f32,
    /// Blocks the double-talk verdict still holds (for the VAD gate).
    dt_hold: usize,
    /// Blocks adaptation stays frozen after double talk.
    dt_protect: usize,
    /// Noise floor of the microphone (energy per sample).
    noise: f32,
    /// Slow estimate of the linear ERLE in dB, for the double-talk detector.
    erle_est: f32,
    // ERLE over far-end-only blocks.
    erle_mic: f64,
    erle_err: f64,
    last: AecBlockStats,
    /// The microphone's previous block (for its spectrum over two blocks).
    d_prev: [f32; BLOCK],
    /// The reference's spectra over the last [`LAGS`] blocks, newest at
    /// `ref_head`: further back than the filter reaches, to find an echo
    /// delay it cannot cancel.
    ref_hist: Vec<[Complex<f32>; BINS]>,
    ref_head: usize,
    /// The lag, in blocks, at which the reference last explained the
    /// microphone best: the echo path's delay.
    echo_lag: usize,
    /// Smoothed cross-spectra of each lag of the reference with the
    /// microphone, the reference's power per lag, and the microphone's.
    s_xd: Vec<[Complex<f32>; BINS]>,
    s_xx: Vec<[f32; BINS]>,
    s_dd: [f32; BINS],
    /// The best lag's magnitude-squared coherence, averaged over speech bins.
    coherence: f32,
    /// Recent peak of the microphone's energy while it was coherent with
    /// the reference (echo alone), decaying.
    coherent_peak: f32,
    /// The last block's output before residual echo suppression.
    linear: [f32; BLOCK],
    /// The far end is between two sentences of one reply: its silence
    /// is no end (set by the caller, who knows).
    mid_reply: bool,
    /// The far end was cut because the near end talks over it
    /// ([`EchoCanceller::barged_in`]): double talk until the far end's tail
    /// is over, or a new reply begins (the reference heard again after it
    /// had gone quiet: `cut_quiet`).
    cut: bool,
    cut_quiet: bool,
    /// Far-end blocks so far in which the reference explained the
    /// microphone (coherence above [`COHERENT`]): until there are
    /// [`EXPLAINED_BLOCKS`], the echo path may be beyond the reach of the
    /// lags, and low coherence proves nothing.
    explained: usize,
    /// Far-end blocks in a row in which the microphone stayed at its noise
    /// floor: past [`NO_ECHO_BLOCKS`], there is no echo path at all (a
    /// headset, a speaker the microphone cannot hear).
    far_quiet: usize,
    /// Far-end blocks in a row whose microphone the reference explained
    /// almost wholly (above [`ECHO_BACK`]).
    coherent_run: usize,
    /// The microphone dropped out while the echo path was known (a whole
    /// block of digital silence with the far end playing: a loaded
    /// machine's capture glitch), and the echo may come back at another
    /// delay, under a filter that no longer fits it. Until the reference
    /// explains the microphone again ([`ECHO_BACK`] for
    /// [`ECHO_BACK_BLOCKS`]), the converged filter's residual tells no
    /// talker; the coherence does, as before the filter converged (and
    /// [`EXCESS`] as ever).
    moved: bool,
    /// The reference's energy, block by block, over the last [`LAGS`]
    /// blocks (indexed as `ref_hist`).
    ref_pow: [f32; LAGS],
    /// The reference's smoothed energy at the echo's delay.
    s_ref_lag: f32,
    /// The echo path's gain in energy (the microphone's over the
    /// reference's at the echo's delay), learnt while the reference
    /// explained the microphone almost wholly; 0 until then.
    coupling: f32,
    /// The most the echo can bring the microphone now (see [`EXCESS`]).
    echo_bound: f32,
}

impl std::fmt::Debug for EchoCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoCanceller")
            .field("cfg", &self.cfg)
            .field("partitions", &self.partitions)
            .finish()
    }
}

const ZERO: Complex<f32> = Complex { re: 0.0, im: 0.0 };
/// Reference energy per sample below which the far end counts as silent (-60 dBFS).
const FAR_END_FLOOR: f32 = 1e-6;
/// A noise floor below this (-120 dBFS) is digital silence's, not a
/// room's.
const NOISE_FLOOR_MIN: f32 = 1e-12;
/// Below this ERLE estimate the filter has not converged, and double talk cannot be told from echo.
const CONVERGED_DB: f32 = 10.0;
/// Double talk: the error exceeds the residual the filter is expected to leave by this factor (10 dB).
const DT_MARGIN: f32 = 10.0;
/// Double talk, once converged: the error must also be at least this share
/// of the microphone (-15 dB). A talker adds an error near the
/// microphone's own level (one 10 dB below the echo, -10 dB); the filter
/// losing its grip for a moment on a loud stretch of the echo leaves one
/// far below it (measured: -18 dB, 40 ms, in `tests/session.rs`'
/// `a_backchannel_over_the_assistant_does_not_stop_it`, where it paused
/// the assistant for a noise).
const ERROR_SHARE: f32 = 0.03;
/// Blocks (10 ms) the double-talk verdict holds after the last detection.
const DT_HOLD_BLOCKS: usize = 5;
/// Blocks adaptation stays frozen after the last detection.
const DT_PROTECT_BLOCKS: usize = 30;
/// Smoothing of the spectra behind the coherence (per block: about 50 ms).
const COHERENCE_SMOOTHING: f32 = 0.8;
/// Lags searched for the echo's delay: 1 s of 10 ms blocks.
const LAGS: usize = 100;
/// Bins over which coherence is judged: 250 Hz to 4 kHz (50 Hz a bin).
const COHERENCE_BINS: std::ops::Range<usize> = 5..80;
/// Coherence above which the microphone is taken for echo alone.
const COHERENT: f32 = 0.7;
/// Coherence below which a talker may be there (with [`NEAR_SHARE`]).
const INCOHERENT: f32 = 0.4;
/// The unexplained part of the microphone must reach this share of the
/// recent echo's peak (-5 dB) to be a talker.
const NEAR_SHARE: f32 = 0.3;
/// Far-end blocks the reference must have explained before low coherence
/// counts as a talker (200 ms of the assistant's speech).
const EXPLAINED_BLOCKS: usize = 20;
/// Far-end blocks with a silent microphone after which the echo path is
/// taken to be absent (1.2 s: longer than the furthest echo delay the lags
/// look for, so a slow device's echo is never mistaken for a talker).
const NO_ECHO_BLOCKS: usize = 120;
/// Coherence above which, for [`ECHO_BACK_BLOCKS`] blocks on end, the
/// microphone is taken to hear the speaker again.
const ECHO_BACK: f32 = 0.9;
/// See [`ECHO_BACK`] (200 ms: any new sound on the microphone is coherent
/// with some lag of the reference for its first few blocks, a smoothed
/// estimate's artefact, and a talker's voice for a few more).
const ECHO_BACK_BLOCKS: usize = 20;
/// Per-block decay of the coherent echo's peak (13 dB a second: it holds
/// the assistant's loud syllables through its soft ones).
const COHERENT_PEAK_DECAY: f32 = 0.97;
/// Per-block decay of the echo peak tracker (about 46 dB a second, slower than any room's tail).
const Y_PEAK_DECAY: f32 = 0.9;

/// A talker the coherence finds (below [`INCOHERENT`]) is louder than the
/// echo: the microphone then carries at least twice what the echo alone
/// brings (3 dB; the echo path's gain times the reference's energy at the
/// echo's delay, this block's or its smoothed, the larger). Asked only
/// once the gain has been learnt.
const ADDS: f32 = 2.0;
/// A microphone ten times (10 dB) louder than the most the echo can bring
/// is a talker, whatever the coherence says (a talker's first syllables
/// line up with the reply at some lag for a few blocks). The most the echo
/// can bring: the echo path's gain times the reference's loudest block
/// within [`LAG_SLACK`] of the echo's delay, held as it falls, decaying
/// 46 dB a second ([`Y_PEAK_DECAY`], slower than any room's tail). Judged
/// once the gain has been learnt and 200 ms of the far end explained.
const EXCESS: f32 = 10.0;
/// Blocks either side of the echo's delay that [`EXCESS`] allows for (the
/// delay wanders on a loaded machine).
const LAG_SLACK: usize = 5;
/// Smoothing of the echo path's gain (per block: about 200 ms).
const COUPLING_SMOOTHING: f32 = 0.95;

impl EchoCanceller {
    /// A canceller with all buffers allocated; `process` never allocates.
    pub fn new(cfg: AecConfig) -> Result<Self> {
        if !(10..=2000).contains(&cfg.filter_ms) {
            return Err(Error::config("aec.filter_ms must be 10 to 2000"));
        }
        if !(cfg.step > 0.0 && cfg.step <= 1.0) {
            return Err(Error::config("aec.step must be in (0, 1]"));
        }
        if !(0.0..=80.0).contains(&cfg.suppression_db) {
            return Err(Error::config("aec.suppression_db must be 0 to 80"));
        }
        let partitions = (cfg.filter_ms as usize * 16).div_ceil(BLOCK);
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(FFT);
        let inv = planner.plan_fft_inverse(FFT);
        Ok(EchoCanceller {
            scratch_f: fwd.make_scratch_vec(),
            scratch_i: inv.make_scratch_vec(),
            fwd,
            inv,
            partitions,
            x_hist: vec![[ZERO; BINS]; partitions],
            head: 0,
            w_bg: vec![[ZERO; BINS]; partitions],
            w_fg: vec![[ZERO; BINS]; partitions],
            x_prev: [0.0; BLOCK],
            time: [0.0; FFT],
            spec: [ZERO; BINS],
            e_spec: [ZERO; BINS],
            s_mic: 0.0,
            s_e_fg: 0.0,
            s_e_bg: 0.0,
            s_y_fg: 0.0,
            s_ref: 0.0,
            gain: 1.0,
            erle_est: 0.0,
            far_end_hold: 0,
            noise: 1.0,
            dt_hold: 0,
            dt_protect: 0,
            y_peak: 0.0,
            erle_mic: 0.0,
            erle_err: 0.0,
            last: AecBlockStats::default(),
            d_prev: [0.0; BLOCK],
            s_xd: vec![[ZERO; BINS]; LAGS],
            s_xx: vec![[0.0; BINS]; LAGS],
            ref_hist: vec![[ZERO; BINS]; LAGS],
            ref_head: 0,
            echo_lag: 0,
            s_dd: [0.0; BINS],
            coherence: 0.0,
            coherent_peak: 0.0,
            explained: 0,
            far_quiet: 0,
            moved: false,
            ref_pow: [0.0; LAGS],
            s_ref_lag: 0.0,
            coupling: 0.0,
            echo_bound: 0.0,
            coherent_run: 0,
            mid_reply: false,
            cut: false,
            cut_quiet: false,
            linear: [0.0; BLOCK],
            cfg,
        })
    }

    /// Says whether the far end is in the middle of one reply (more is to
    /// be played): its pauses between sentences then keep counting as far
    /// end, as its echo may still be arriving.
    pub fn set_mid_reply(&mut self, mid_reply: bool) {
        self.mid_reply = mid_reply;
    }

    /// Says that the far end has been stopped because the near end talks
    /// over it (a barge-in the caller has obeyed). What the microphone
    /// hears from now until the far end's tail is over is that talker, with
    /// at most the tail of the echo: it counts as double talk (heard, never
    /// suppressed, never learnt as echo). Otherwise the talker's words after
    /// the first would be held down as echo whenever the detector, left
    /// with a silent reference, could not tell them apart.
    pub fn barged_in(&mut self) {
        self.cut = true;
        self.cut_quiet = false;
    }

    /// The settings.
    pub fn config(&self) -> &AecConfig {
        &self.cfg
    }

    /// Echo return loss enhancement so far, in dB: microphone energy over
    /// linear-filter error energy, over the blocks where only the far end
    /// played. `None` before any such block.
    pub fn erle_db(&self) -> Option<f64> {
        (self.erle_err > 0.0).then(|| 10.0 * libm::log10(self.erle_mic / self.erle_err))
    }

    /// Restart the ERLE measurement (e.g. once the filter has converged).
    pub fn reset_erle(&mut self) {
        self.erle_mic = 0.0;
        self.erle_err = 0.0;
    }

    /// The slow ERLE estimate the double-talk detector uses, in dB.
    pub fn erle_estimate_db(&self) -> f32 {
        self.erle_est
    }

    /// The last block as the linear filter left it, before the residual
    /// echo suppressor: what to put back when double talk turns out to have
    /// begun a moment before it was detected.
    pub fn last_linear(&self) -> &[f32; BLOCK] {
        &self.linear
    }

    /// What the last block looked like.
    pub fn last_block(&self) -> AecBlockStats {
        self.last
    }

    /// Cancel echo: `mic` and `reference` (what the speaker played over the
    /// same period) of equal length, a multiple of [`BLOCK`]; the echo-free
    /// signal goes to `out`.
    pub fn process(&mut self, mic: &[f32], reference: &[f32], out: &mut [f32]) -> Result<()> {
        if mic.len() != reference.len()
            || mic.len() != out.len()
            || !mic.len().is_multiple_of(BLOCK)
        {
            return Err(Error::config(format!(
                "echo canceller blocks: mic {}, reference {}, out {}: must be equal multiples of {BLOCK}",
                mic.len(),
                reference.len(),
                out.len()
            )));
        }
        for ((m, r), o) in mic
            .chunks_exact(BLOCK)
            .zip(reference.chunks_exact(BLOCK))
            .zip(out.chunks_exact_mut(BLOCK))
        {
            self.block(m, r, o);
        }
        Ok(())
    }

    fn fft(&mut self) {
        // Errors only on wrong lengths, which are fixed by construction.
        let _ = self
            .fwd
            .process_with_scratch(&mut self.time, &mut self.spec, &mut self.scratch_f);
    }

    fn ifft(&mut self) {
        self.spec[0].im = 0.0;
        self.spec[BINS - 1].im = 0.0;
        let _ = self
            .inv
            .process_with_scratch(&mut self.spec, &mut self.time, &mut self.scratch_i);
        let scale = 1.0 / FFT as f32;
        for t in &mut self.time {
            *t *= scale;
        }
    }

    /// Echo estimate of `w` against the reference history, into `self.spec` (frequency domain).
    fn filter(&mut self, fg: bool) {
        let w = if fg { &self.w_fg } else { &self.w_bg };
        let mut acc = [ZERO; BINS];
        for (p, wp) in w.iter().enumerate() {
            let x = &self.x_hist[(self.head + self.partitions - p) % self.partitions];
            for ((a, wk), xk) in acc.iter_mut().zip(wp).zip(x) {
                *a += wk * xk;
            }
        }
        self.spec = acc;
    }

    /// Time-domain echo estimate (last half of the IFFT) into `est`.
    fn estimate(&mut self, fg: bool, est: &mut [f32; BLOCK]) {
        self.filter(fg);
        self.ifft();
        est.copy_from_slice(&self.time[BLOCK..]);
    }

    /// Where the reference's block from `p` blocks back is kept (in
    /// `ref_hist` and `ref_pow`).
    fn lag_index(&self, p: usize) -> usize {
        (self.ref_head + LAGS - p) % LAGS
    }

    /// Updates the smoothed spectra with this block; the best lag's
    /// coherence with the microphone over 250 Hz to 4 kHz.
    fn update_coherence(&mut self, mic: &[f32]) -> f32 {
        self.time[..BLOCK].copy_from_slice(&self.d_prev);
        for (t, &m) in self.time[BLOCK..].iter_mut().zip(mic) {
            *t = if m.is_finite() { m } else { 0.0 };
        }
        self.d_prev.copy_from_slice(&self.time[BLOCK..]);
        self.fft();
        let d = self.spec;
        let a = COHERENCE_SMOOTHING;
        for (s, dk) in self.s_dd.iter_mut().zip(&d) {
            *s = a * *s + (1.0 - a) * dk.norm_sqr();
        }
        let (lo, hi) = (COHERENCE_BINS.start, COHERENCE_BINS.end);
        let mut best = 0.0f32;
        let mut best_lag = 0;
        for p in 0..LAGS {
            let x = &self.ref_hist[self.lag_index(p)];
            let (sxd, sxx) = (&mut self.s_xd[p], &mut self.s_xx[p]);
            let mut num = 0.0f32;
            let mut den = 0.0f32;
            for k in 0..BINS {
                sxd[k] = sxd[k] * a + x[k].conj() * d[k] * (1.0 - a);
                sxx[k] = a * sxx[k] + (1.0 - a) * x[k].norm_sqr();
                if (lo..hi).contains(&k) {
                    num += sxd[k].norm_sqr();
                    den += sxx[k] * self.s_dd[k];
                }
            }
            if den > 0.0 && num / den > best {
                best = num / den;
                best_lag = p;
            }
        }
        if best > COHERENT {
            self.echo_lag = best_lag;
        }
        best
    }

    fn block(&mut self, mic: &[f32], reference: &[f32], out: &mut [f32]) {
        // 1. The reference block's spectrum, over [previous block, this block].
        self.time[..BLOCK].copy_from_slice(&self.x_prev);
        for (t, &r) in self.time[BLOCK..].iter_mut().zip(reference) {
            *t = if r.is_finite() { r } else { 0.0 };
        }
        self.x_prev.copy_from_slice(&self.time[BLOCK..]);
        self.fft();
        self.head = (self.head + 1) % self.partitions;
        self.x_hist[self.head] = self.spec;
        self.ref_head = (self.ref_head + 1) % LAGS;
        self.ref_hist[self.ref_head] = self.spec;

        // 1b. How much of the microphone the reference explains, lag by lag:
        // echo alone is coherent with the reference at its delay; a near-end
        // talker is not. Needs no converged filter.
        self.coherence = self.update_coherence(mic);
        // A microphone that gave exact zeros for a whole block heard nothing
        // (nothing played yet, or it dropped out: a loaded machine's capture
        // glitch): its coherence, the smoothed spectra's decay, proves no echo.
        let blank = mic.iter().all(|&m| m == 0.0);

        // 2. Both paths' echo estimates and errors.
        let mut y_fg = [0.0f32; BLOCK];
        let mut y_bg = [0.0f32; BLOCK];
        self.estimate(true, &mut y_fg);
        self.estimate(false, &mut y_bg);
        let mut e_fg = [0.0f32; BLOCK];
        let mut e_bg = [0.0f32; BLOCK];
        let (mut em, mut ef, mut eb, mut ey, mut er) = (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for i in 0..BLOCK {
            let d = if mic[i].is_finite() { mic[i] } else { 0.0 };
            e_fg[i] = d - y_fg[i];
            e_bg[i] = d - y_bg[i];
            em += d * d;
            ef += e_fg[i] * e_fg[i];
            eb += e_bg[i] * e_bg[i];
            ey += y_fg[i] * y_fg[i];
            er += self.x_prev[i] * self.x_prev[i];
        }
        let n = BLOCK as f32;
        let a = 0.7; // smoothing over ~3 blocks
        self.s_mic = a * self.s_mic + (1.0 - a) * em / n;
        self.s_e_fg = a * self.s_e_fg + (1.0 - a) * ef / n;
        self.s_e_bg = a * self.s_e_bg + (1.0 - a) * eb / n;
        self.s_y_fg = a * self.s_y_fg + (1.0 - a) * ey / n;
        self.s_ref = a * self.s_ref + (1.0 - a) * er / n;
        self.ref_pow[self.ref_head] = er / n;
        let lagged = self.ref_pow[self.lag_index(self.echo_lag)];
        self.s_ref_lag = a * self.s_ref_lag + (1.0 - a) * lagged;
        // The room rings on after the speaker stops: the far end counts as
        // active for as long as the filter reaches back, after the echo's
        // own delay (which a slow device can push past the filter).
        if self.s_ref > FAR_END_FLOOR || self.mid_reply {
            self.far_end_hold = self.partitions + self.echo_lag;
        } else {
            self.far_end_hold = self.far_end_hold.saturating_sub(1);
        }
        let far_end = self.far_end_hold > 0;
        // The far end's tail is over, or it plays again (a new reply: its
        // echo is echo again).
        let playing = er / n > FAR_END_FLOOR;
        if self.cut && !playing {
            self.cut_quiet = true;
        }
        self.cut &= far_end && !(playing && self.cut_quiet);

        // 3. Double talk: once the filter cancels something, an error well
        // above the residual it should leave can only be the near end talking.
        // The microphone's noise floor: follows it down at once, up by 1 dB/s.
        self.noise = if self.s_mic < self.noise {
            self.s_mic
        } else {
            self.noise * 1.0023
        };
        // Digital silence (a stream that began with zeros, a long dropout)
        // leaves the floor at or near zero, where a factor never raises it
        // (regression a_blank_first_block_left_no_noise_floor: a headset's
        // user was never heard over a reply). Sound while the far end is
        // idle is the room again: the floor starts over from it. (Not while
        // the far end plays: in a room with no noise, that sound is echo.)
        if self.noise < NOISE_FLOOR_MIN && !blank && !far_end && self.s_mic > self.noise {
            self.noise = self.s_mic;
        }
        let erle_lin = libm::powf(10.0, self.erle_est / 10.0);
        // The echo the filter has to remove, as loud as it recently was: the
        // room's tail keeps ringing after the speaker stops.
        self.y_peak = self.s_y_fg.max(self.y_peak * Y_PEAK_DECAY);
        let expected_residual = self.y_peak / erle_lin;
        // Near-end speech raises the error as much as the microphone; an error
        // above the microphone is the filter's own misadjustment, not a talker.
        // Fast attack: the block's own error counts at once, so a talker is
        // noticed in the block they start in.
        let e_now = (ef / n).max(self.s_e_fg);
        let m_now = (em / n).max(self.s_mic);
        // Before the filter has converged, its residual says nothing; the
        // coherence does: a talker's share of the microphone is what the
        // reference does not explain, and it must be loud beside the echo.
        let coh = self.coherence;
        self.coherent_peak *= COHERENT_PEAK_DECAY;
        if coh > COHERENT && far_end && !blank {
            self.coherent_peak = self.coherent_peak.max(m_now);
            self.explained = self.explained.saturating_add(1);
        }
        // No echo path at all: the reference has played for longer than
        // any echo takes to arrive and the microphone stayed at its noise
        // floor. Anything it hears then is the near end; echo, once it
        // shows, starts the count again.
        let loud = m_now > 10.0 * self.noise && m_now > FAR_END_FLOOR;
        // Silence counts only near the noise floor (within 6 dB: the floor
        // tracks the noise's minimum, its level sits a few dB above): a
        // quiet echo further up is still an echo path.
        let silent = m_now <= 4.0 * self.noise || m_now <= FAR_END_FLOOR * 0.01;
        // Echo is back only on clear evidence: the reference explains the
        // microphone almost wholly for 200 ms on end.
        self.coherent_run = if coh > ECHO_BACK && far_end && !blank {
            self.coherent_run.saturating_add(1)
        } else {
            0
        };
        // A dropout: the microphone gave exact zeros for a whole block while
        // its echo path was known and the echo due. Nobody talks in digital
        // silence, and the filter must not learn from it.
        let dropout = far_end
            && self.explained >= EXPLAINED_BLOCKS
            && blank
            && self.s_ref_lag > FAR_END_FLOOR;
        if dropout {
            self.moved = true;
        } else if self.coherent_run >= ECHO_BACK_BLOCKS {
            self.moved = false;
        }
        // The echo path's gain, learnt where the microphone is echo alone.
        if !blank && coh > ECHO_BACK && far_end && self.s_ref_lag > FAR_END_FLOOR {
            let gain = self.s_mic / self.s_ref_lag;
            self.coupling = if self.coupling > 0.0 {
                COUPLING_SMOOTHING * self.coupling + (1.0 - COUPLING_SMOOTHING) * gain
            } else {
                gain
            };
        }
        // A talker adds to the echo. An echo that went missing (the speaker
        // skipped some of the reply: a loaded machine's output underrun)
        // leaves the microphone quieter than the echo alone, and its few
        // blocks that the reference explains at no lag are no talker.
        let echo_alone = self.coupling * self.s_ref_lag.max(lagged);
        let adds = self.coupling == 0.0 || m_now > ADDS * echo_alone;
        let near = (self.echo_lag.saturating_sub(LAG_SLACK)
            ..=(self.echo_lag + LAG_SLACK).min(LAGS - 1))
            .map(|p| self.ref_pow[self.lag_index(p)])
            .fold(0.0f32, f32::max);
        self.echo_bound = (self.coupling * near).max(self.echo_bound * Y_PEAK_DECAY);
        let excess = far_end
            && !blank
            && self.coupling > 0.0
            && self.explained >= EXPLAINED_BLOCKS
            && m_now > EXCESS * self.echo_bound
            && m_now > 10.0 * self.noise;
        let established = self.far_quiet >= NO_ECHO_BLOCKS;
        if self.coherent_run >= ECHO_BACK_BLOCKS || (far_end && !silent && !established) {
            // Until the silence is established, any sound heard while the
            // assistant plays may be its echo (a slow device's comes late):
            // the count starts again.
            self.far_quiet = 0;
        } else if far_end && self.s_ref > FAR_END_FLOOR && silent {
            self.far_quiet = self.far_quiet.saturating_add(1);
        }
        let no_echo = self.far_quiet >= NO_ECHO_BLOCKS;
        let early = far_end
            && (self.erle_est <= CONVERGED_DB || self.moved)
            && self.s_ref > FAR_END_FLOOR
            && coh < INCOHERENT
            && self.explained >= EXPLAINED_BLOCKS
            && (1.0 - coh) * m_now > NEAR_SHARE * self.coherent_peak
            && adds
            && m_now > 10.0 * self.noise;
        // Once converged, an error well above the residual the filter
        // should leave is a talker, unless the echo moved: a path that
        // changed under the filter (measured in the page's room: the delay
        // jumped by two or three blocks mid-reply) leaves a microphone the
        // reference still explains almost wholly (coherence above
        // [`ECHO_BACK`]): it is echo, and the filter goes on adapting to
        // it. The price: a talker more than about 10 dB below the echo at
        // the microphone keeps the coherence that high and is not found
        // while the echo plays (issue 12). (Also asking the smoothed error
        // to stay below the microphone's lost a talker mid-utterance:
        // `tests/session.rs`, `a_request_said_again_while_answered_is_merged`.)
        let detected = !dropout
            && (early
                || excess
                || (far_end && no_echo && loud)
                || far_end
                    && !self.moved
                    && self.erle_est > CONVERGED_DB
                    && coh <= ECHO_BACK
                    && e_now > DT_MARGIN * expected_residual
                    && e_now > 10.0 * self.noise
                    && e_now > ERROR_SHARE * m_now
                    && e_now <= m_now);
        // Speech has soft moments between loud ones: the verdict holds briefly
        // for the VAD, and much longer for the filter, which must not learn the
        // near end's voice as if it were echo.
        if detected {
            self.dt_hold = DT_HOLD_BLOCKS;
            self.dt_protect = DT_PROTECT_BLOCKS;
        } else {
            self.dt_hold = self.dt_hold.saturating_sub(1);
            self.dt_protect = self.dt_protect.saturating_sub(1);
        }
        let double_talk = far_end && (detected || self.dt_hold > 0 || self.cut);
        let protect = detected || self.dt_protect > 0 || self.cut || dropout;
        let signal = self.s_mic > 10.0 * self.noise;
        if far_end && signal && !protect && self.s_e_fg > 0.0 {
            let db = 10.0 * libm::log10f((self.s_mic / self.s_e_fg).clamp(1e-3, 1e6));
            self.erle_est = 0.97 * self.erle_est + 0.03 * db;
        }

        // 4. Two paths: the foreground takes the background when it does clearly
        // better; a background that has gone astray is reset to the foreground.
        if far_end && signal && !protect && self.s_e_bg < 0.7 * self.s_e_fg {
            self.w_fg.copy_from_slice(&self.w_bg);
            e_fg = e_bg;
            self.s_e_fg = self.s_e_bg;
        } else if self.s_e_bg > 8.0 * self.s_e_fg && self.s_e_bg > 1e-8 {
            self.w_bg.copy_from_slice(&self.w_fg);
            self.s_e_bg = self.s_e_fg;
        }

        // 5. Adapt the background (normalised, constrained), not at all while
        // the near end talks, and with a step that shrinks as the error rises
        // above the residual expected (near-end speech not yet detected).
        if far_end && !protect {
            self.time[..BLOCK].fill(0.0);
            self.time[BLOCK..].copy_from_slice(&e_bg);
            self.fft();
            self.e_spec = self.spec;
            // Normalise by the reference power the whole filter sees, per bin.
            // Regularised as if a -50 dBFS reference were always present, so
            // that weakly excited bins do not take huge steps.
            let delta = 1e-5 * FFT as f32 * self.partitions as f32;
            let mut total_power = [delta; BINS];
            for x in &self.x_hist {
                for (t, xk) in total_power.iter_mut().zip(x) {
                    *t += xk.norm_sqr();
                }
            }
            // Variable step: large while converging, smaller as the filter
            // improves (less misadjustment noise), barely any in double talk.
            let soft = if self.erle_est > CONVERGED_DB {
                (2.0 * expected_residual / e_now.max(1e-12)).min(1.0)
            } else {
                1.0
            };
            let mu = self.cfg.step * soft;
            for p in 0..self.partitions {
                let x = self.x_hist[(self.head + self.partitions - p) % self.partitions];
                for k in 0..BINS {
                    self.spec[k] = x[k].conj() * self.e_spec[k] * (mu / total_power[k]);
                }
                // Gradient constraint: keep the update causal and BLOCK long.
                self.ifft();
                self.time[BLOCK..].fill(0.0);
                self.fft();
                for (w, g) in self.w_bg[p].iter_mut().zip(&self.spec) {
                    *w += g;
                }
            }
        }

        // 6. ERLE bookkeeping over far-end-only blocks.
        if far_end && !double_talk {
            self.erle_mic += f64::from(em);
            self.erle_err += f64::from(ef);
        }

        // 7. Residual echo suppression while only the far end plays.
        let target = if far_end && !double_talk && self.cfg.suppression_db > 0.0 {
            libm::powf(10.0, -self.cfg.suppression_db / 20.0)
        } else {
            1.0
        };
        // Fast attack, slower release, so speech onsets pass at once.
        self.gain = if target > self.gain {
            target
        } else {
            0.6 * self.gain + 0.4 * target
        };
        // Never make it worse: a filter whose output is louder than the
        // microphone is passed over for this block.
        let src: &[f32] = if self.s_e_fg > self.s_mic { mic } else { &e_fg };
        for ((o, l), e) in out.iter_mut().zip(&mut self.linear).zip(src) {
            *l = if e.is_finite() { *e } else { 0.0 };
            *o = *l * self.gain;
        }
        self.last = AecBlockStats {
            double_talk,
            far_end_active: far_end,
            suppressor_gain: self.gain,
        };
    }
}
