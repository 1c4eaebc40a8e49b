//! A file as the microphone, a file as the speaker.

use std::path::{Path, PathBuf};

use super::{DeviceInfo, DuplexDevice};
use crate::{Error, Result, SAMPLE_RATE};

/// Reads a decoded file as microphone input; records what is played, on the
/// same timeline, for writing to a WAV file. There is no acoustic path: the
/// microphone never hears the speaker, and the reference is what was played.
#[derive(Debug)]
pub struct FileDevice {
    name: String,
    input: Vec<f32>,
    pos: usize,
    queue: super::PlaybackQueue,
    played: Vec<f32>,
    source_rate: u32,
    source_channels: u16,
    ended: bool,
}

impl FileDevice {
    /// Decode `path` (any supported format) as the microphone.
    pub fn open(path: &Path) -> Result<Self> {
        let audio = crate::decode::decode_file(path, &crate::decode::DecodeLimits::default())?;
        let mut dev = Self::from_samples(path.display().to_string(), audio.to_16k_mono()?);
        dev.source_rate = audio.sample_rate;
        dev.source_channels = audio.channels;
        Ok(dev)
    }

    /// Use samples already at 16 kHz mono as the microphone.
    pub fn from_samples(name: impl Into<String>, input: Vec<f32>) -> Self {
        FileDevice {
            name: name.into(),
            input,
            pos: 0,
            queue: Default::default(),
            played: Vec::new(),
            source_rate: SAMPLE_RATE,
            source_channels: 1,
            ended: false,
        }
    }

    /// What the speaker emitted so far, sample-aligned with the input.
    pub fn played(&self) -> &[f32] {
        &self.played
    }

    /// Write what was played as a 16 kHz mono 16-bit WAV.
    pub fn write_played(&self, path: &Path) -> Result<PathBuf> {
        write_wav(path, &self.played)?;
        Ok(path.to_path_buf())
    }
}

/// Write 16 kHz mono samples as a 16-bit PCM WAV.
pub fn write_wav(path: &Path, samples: &[f32]) -> Result<()> {
    let io = |e: hound::Error| Error::Io {
        path: path.to_path_buf(),
        source: match e {
            hound::Error::IoError(io) => io,
            other => std::io::Error::other(other.to_string()),
        },
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(io)?;
    for &s in samples {
        w.write_sample(crate::frame::to_i16(s)).map_err(io)?;
    }
    w.finalize().map_err(io)
}

impl DuplexDevice for FileDevice {
    fn capture(&mut self, mic: &mut [f32], reference: &mut [f32]) -> Result<usize> {
        if self.ended {
            return Err(Error::EndOfStream);
        }
        let n = mic.len().min(self.input.len() - self.pos);
        mic[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        mic[n..].fill(0.0);
        self.pos += n;
        for r in reference.iter_mut().take(mic.len()) {
            *r = self.queue.next_sample();
        }
        self.played
            .extend_from_slice(&reference[..mic.len().min(reference.len())]);
        self.ended = self.pos == self.input.len();
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
            name: self.name.clone(),
            input_rate: self.source_rate,
            input_channels: self.source_channels,
            output_rate: SAMPLE_RATE,
            output_channels: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_on_the_input_timeline_and_ends() {
        let mut d = FileDevice::from_samples("t", vec![0.5; 250]);
        d.play(&[1.0; 50]).unwrap();
        let (mut mic, mut r) = ([0.0; 160], [0.0; 160]);
        assert_eq!(d.capture(&mut mic, &mut r).unwrap(), 160);
        assert_eq!(r[49], 1.0);
        assert_eq!(r[50], 0.0);
        assert_eq!(d.capture(&mut mic, &mut r).unwrap(), 90);
        assert_eq!(mic[89], 0.5);
        assert_eq!(mic[90], 0.0);
        assert!(matches!(
            d.capture(&mut mic, &mut r),
            Err(Error::EndOfStream)
        ));
        assert_eq!(d.played().len(), 320);
    }
}
