//! Decoding audio files: WAV through hound; FLAC, MP3 and Ogg Vorbis through
//! symphonia (built without its own WAV reader, so RIFF data hidden inside
//! another stream never reaches it). Output is interleaved `f32` at the file's own rate and channel
//! count; [`Audio::to_16k_mono`] brings it to what the rest of Ainima reads.
//!
//! Everything a file says about itself is checked before it is believed: a
//! header claiming more data than the file holds, a rate outside
//! [`DecodeLimits`], NaN or infinite samples, an empty file: each is an
//! [`Error`] naming the problem, never a panic and never a huge allocation.

use std::io::{Cursor, Read, Seek};
use std::path::Path;

use crate::resample;
use crate::{Error, Result};

/// Limits on what a decoder accepts. The defaults cover every real recording
/// Ainima is likely to meet, and refuse what would exhaust memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeLimits {
    /// Lowest sample rate accepted, in Hz.
    pub min_rate: u32,
    /// Highest sample rate accepted, in Hz.
    pub max_rate: u32,
    /// Most channels accepted.
    pub max_channels: u16,
    /// Longest audio accepted, in seconds.
    pub max_seconds: f64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            min_rate: 4_000,
            max_rate: 384_000,
            max_channels: 64,
            max_seconds: 4.0 * 3600.0,
        }
    }
}

impl DecodeLimits {
    fn check_format(&self, rate: u32, channels: u16) -> Result<()> {
        if rate < self.min_rate || rate > self.max_rate {
            return Err(Error::unsupported(format!(
                "sample rate {rate} Hz is outside the accepted {} to {} Hz",
                self.min_rate, self.max_rate
            )));
        }
        if channels == 0 {
            return Err(Error::malformed("the header says 0 channels"));
        }
        if channels > self.max_channels {
            return Err(Error::unsupported(format!(
                "{channels} channels; at most {} are accepted",
                self.max_channels
            )));
        }
        Ok(())
    }

    fn max_frames(&self, rate: u32) -> u64 {
        (self.max_seconds * f64::from(rate)) as u64
    }
}

/// Decoded audio: interleaved samples in [-1, 1] at the source's rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Interleaved samples, `frames() * channels` of them.
    pub samples: Vec<f32>,
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Number of interleaved channels.
    pub channels: u16,
}

impl Audio {
    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Duration in seconds.
    pub fn duration(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate)
    }

    /// Average the channels into one.
    pub fn to_mono(&self) -> Vec<f32> {
        downmix(&self.samples, usize::from(self.channels))
    }

    /// Downmix and resample to [`crate::SAMPLE_RATE`] mono.
    pub fn to_16k_mono(&self) -> Result<Vec<f32>> {
        resample::to_16k(&self.to_mono(), self.sample_rate)
    }
}

/// Average interleaved channels into mono.
pub fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    let scale = 1.0 / channels as f32;
    interleaved
        .chunks_exact(channels)
        .map(|f| f.iter().sum::<f32>() * scale)
        .collect()
}

/// Decode a file, whatever its format (by content, not by name).
pub fn decode_file(path: &Path, limits: &DecodeLimits) -> Result<Audio> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(Error::malformed("is a directory, not an audio file"));
    }
    let mut magic = [0u8; 12];
    let n = read_up_to(&mut file, &mut magic).map_err(io)?;
    file.rewind().map_err(io)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    decode_reader(
        std::io::BufReader::new(file),
        &magic[..n],
        meta.len(),
        ext,
        limits,
    )
}

/// Decode bytes held in memory (the fuzz target's entry point).
pub fn decode_bytes(bytes: &[u8], limits: &DecodeLimits) -> Result<Audio> {
    let magic = &bytes[..bytes.len().min(12)];
    decode_reader(
        Cursor::new(bytes.to_vec()),
        magic,
        bytes.len() as u64,
        "",
        limits,
    )
}

/// Decode a file and bring it to 16 kHz mono: what most callers want.
pub fn load_16k_mono(path: &Path) -> Result<Vec<f32>> {
    decode_file(path, &DecodeLimits::default())?.to_16k_mono()
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Wav,
    Symphonia,
}

fn sniff(magic: &[u8], ext: &str) -> Result<Container> {
    if magic.is_empty() {
        return Err(Error::malformed("the file is empty"));
    }
    if magic.starts_with(b"RIFF") || magic.starts_with(b"RIFX") || magic.starts_with(b"RF64") {
        if !magic.starts_with(b"RIFF") {
            return Err(Error::unsupported(
                "RIFX and RF64 WAV variants are not supported; re-encode as a plain RIFF WAV",
            ));
        }
        return Ok(Container::Wav);
    }
    let mp3_sync = magic.len() >= 2 && magic[0] == 0xFF && magic[1] & 0xE0 == 0xE0;
    if magic.starts_with(b"fLaC")
        || magic.starts_with(b"OggS")
        || magic.starts_with(b"ID3")
        || mp3_sync
    {
        return Ok(Container::Symphonia);
    }
    if ext.eq_ignore_ascii_case("mp3") {
        return Ok(Container::Symphonia);
    }
    Err(Error::malformed(
        "not a WAV, FLAC, MP3 or Ogg Vorbis file (unrecognised header)",
    ))
}

fn decode_reader<R: Read + Seek + Send + Sync + 'static>(
    reader: R,
    magic: &[u8],
    byte_len: u64,
    ext: &str,
    limits: &DecodeLimits,
) -> Result<Audio> {
    match sniff(magic, ext)? {
        Container::Wav => decode_wav(reader, byte_len, limits),
        // A third-party decoder's panic is a bug there, but for our caller it
        // is a file that cannot be decoded: say so, and carry on.
        Container::Symphonia => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decode_symphonia(reader, ext, limits)
        }))
        .unwrap_or_else(|_| {
            Err(Error::malformed(
                "the decoder failed on this file (damaged or unusual stream)",
            ))
        }),
    }
}

fn decode_wav<R: Read + Seek>(reader: R, byte_len: u64, limits: &DecodeLimits) -> Result<Audio> {
    let mut wav = hound::WavReader::new(reader).map_err(|e| wav_error(&e, 0))?;
    let spec = wav.spec();
    limits.check_format(spec.sample_rate, spec.channels)?;
    let bytes_per_sample = u64::from(spec.bits_per_sample).div_ceil(8);
    let claimed = u64::from(wav.len());
    let claimed_bytes = claimed * bytes_per_sample;
    if claimed_bytes > byte_len {
        return Err(Error::malformed(format!(
            "the header claims {claimed_bytes} bytes of samples but the whole file is {byte_len} bytes (truncated, or a wrong chunk size)"
        )));
    }
    if claimed == 0 {
        return Err(Error::malformed("the file holds no samples"));
    }
    let frames = claimed / u64::from(spec.channels);
    if frames > limits.max_frames(spec.sample_rate) {
        return Err(Error::unsupported(format!(
            "{:.0} s of audio; at most {:.0} s are accepted",
            frames as f64 / f64::from(spec.sample_rate),
            limits.max_seconds
        )));
    }
    let mut samples = Vec::with_capacity(claimed as usize);
    match spec.sample_format {
        hound::SampleFormat::Float => {
            if spec.bits_per_sample != 32 {
                return Err(Error::unsupported(format!(
                    "{}-bit float WAV; only 32-bit float is supported",
                    spec.bits_per_sample
                )));
            }
            for (i, s) in wav.samples::<f32>().enumerate() {
                let s = s.map_err(|e| wav_error(&e, i))?;
                if !s.is_finite() {
                    return Err(Error::malformed(format!(
                        "sample {i} (at {:.3} s) is {s}: float audio must be finite",
                        (i / usize::from(spec.channels)) as f64 / f64::from(spec.sample_rate)
                    )));
                }
                samples.push(s.clamp(-1.0, 1.0));
            }
        }
        hound::SampleFormat::Int => {
            let bits = spec.bits_per_sample;
            if !(8..=32).contains(&bits) {
                return Err(Error::unsupported(format!("{bits}-bit integer WAV")));
            }
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            for (i, s) in wav.samples::<i32>().enumerate() {
                let s = s.map_err(|e| wav_error(&e, i))?;
                samples.push((f64::from(s) * scale) as f32);
            }
        }
    }
    if samples.len() as u64 != claimed {
        return Err(Error::malformed(format!(
            "the header claims {claimed} samples but {} were read",
            samples.len()
        )));
    }
    Ok(Audio {
        samples,
        sample_rate: spec.sample_rate,
        channels: spec.channels,
    })
}

fn wav_error(e: &hound::Error, at: usize) -> Error {
    match e {
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::malformed(format!("WAV is truncated after {at} samples"))
        }
        hound::Error::IoError(io) => Error::malformed(format!("WAV: {io}")),
        hound::Error::FormatError(m) => Error::malformed(format!("malformed WAV: {m}")),
        hound::Error::TooWide => Error::unsupported("WAV samples wider than 32 bits"),
        hound::Error::UnfinishedSample => Error::malformed("WAV ends in the middle of a sample"),
        hound::Error::Unsupported => {
            Error::unsupported("this WAV encoding is not supported (use PCM or 32-bit float)")
        }
        hound::Error::InvalidSampleFormat => {
            Error::unsupported("this WAV sample format is not supported")
        }
    }
}

fn decode_symphonia<R: Read + Seek + Send + Sync + 'static>(
    reader: R,
    ext: &str,
    limits: &DecodeLimits,
) -> Result<Audio> {
    use symphonia::core::codecs::audio::AudioDecoderOptions;
    use symphonia::core::errors::Error as SymError;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::formats::{FormatOptions, TrackType};
    use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
    use symphonia::core::meta::MetadataOptions;

    let source = ReadOnlySource::new(reader);
    let mss = MediaSourceStream::new(Box::new(source), Default::default());
    let mut hint = Hint::new();
    if !ext.is_empty() {
        hint.with_extension(ext);
    }
    let sym = |what: &str, e: SymError| match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::malformed(format!("{what}: the file is truncated"))
        }
        SymError::Unsupported(m) => Error::unsupported(format!("{what}: unsupported: {m}")),
        other => Error::malformed(format!("{what}: {other}")),
    };
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        // Nothing recognisable in the bytes: damaged, not merely unsupported.
        .map_err(|e| Error::malformed(format!("not a readable FLAC, MP3 or Ogg file ({e})")))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| Error::malformed("the file has no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| Error::malformed("the audio track has no codec parameters"))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| sym("cannot decode this track", e))?;

    let mut samples: Vec<f32> = Vec::new();
    let mut rate = 0u32;
    let mut channels = 0u16;
    let mut scratch: Vec<f32> = Vec::new();
    let mut bad_packets = 0usize;
    let mut good_packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                if good_packets == 0 {
                    return Err(sym("cannot read packets", e));
                }
                // A damaged tail after good audio: keep what decoded, as players do.
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                let spec = buf.spec();
                let r = spec.rate();
                let c = u16::try_from(spec.channels().count())
                    .map_err(|_| Error::unsupported("too many channels"))?;
                if good_packets == 0 {
                    limits.check_format(r, c)?;
                    rate = r;
                    channels = c;
                } else if r != rate || c != channels {
                    return Err(Error::unsupported(
                        "the stream changes its rate or channel count midway",
                    ));
                }
                good_packets += 1;
                scratch.resize(buf.samples_interleaved(), 0.0);
                buf.copy_to_slice_interleaved(&mut scratch);
                if let Some(i) = scratch.iter().position(|s| !s.is_finite()) {
                    return Err(Error::malformed(format!(
                        "decoded sample {} is not finite",
                        samples.len() + i
                    )));
                }
                samples.extend(scratch.iter().map(|s| s.clamp(-1.0, 1.0)));
                let frames = (samples.len() / usize::from(channels)) as u64;
                if frames > limits.max_frames(rate) {
                    return Err(Error::unsupported(format!(
                        "more than {:.0} s of audio",
                        limits.max_seconds
                    )));
                }
            }
            Err(SymError::DecodeError(_)) => {
                bad_packets += 1;
                if bad_packets > 64 && good_packets == 0 {
                    return Err(Error::malformed("no packet of the stream decodes"));
                }
            }
            Err(e) => return Err(sym("decoding failed", e)),
        }
    }
    if samples.is_empty() {
        return Err(Error::malformed("the file holds no decodable samples"));
    }
    Ok(Audio {
        samples,
        sample_rate: rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(spec: hound::WavSpec, samples: &[i32]) -> Vec<u8> {
        let mut cur = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        cur.into_inner()
    }

    #[test]
    fn decodes_8_16_24_32_bit_integer_wav_to_the_same_scale() {
        for bits in [8u16, 16, 24, 32] {
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 16_000,
                bits_per_sample: bits,
                sample_format: hound::SampleFormat::Int,
            };
            let half = 1i32 << (bits - 2);
            let audio = decode_bytes(
                &wav_bytes(spec, &[0, half, -half]),
                &DecodeLimits::default(),
            )
            .unwrap();
            assert_eq!(audio.samples, vec![0.0, 0.5, -0.5], "{bits}-bit");
        }
    }

    #[test]
    fn downmix_averages() {
        assert_eq!(downmix(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
    }

    #[test]
    fn empty_and_garbage_are_errors() {
        let l = DecodeLimits::default();
        assert!(matches!(decode_bytes(&[], &l), Err(Error::Malformed(_))));
        assert!(matches!(
            decode_bytes(b"hello world, not audio", &l),
            Err(Error::Malformed(_))
        ));
    }
}
