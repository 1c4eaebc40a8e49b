//! Lock-free single-producer single-consumer sample rings between real-time
//! callbacks and the rest. Both ends are allocated up front; pushing and
//! popping never allocate, lock, log or do I/O, so they are safe to call
//! from an audio callback.

/// The writing end. Move it into the callback that produces samples.
#[derive(Debug)]
pub struct Producer(rtrb::Producer<f32>);

/// The reading end.
#[derive(Debug)]
pub struct Consumer(rtrb::Consumer<f32>);

/// A ring holding up to `capacity` samples.
pub fn ring(capacity: usize) -> (Producer, Consumer) {
    let (p, c) = rtrb::RingBuffer::new(capacity);
    (Producer(p), Consumer(c))
}

impl Producer {
    /// Write as many of `samples` as fit; returns how many were written.
    /// Real-time safe.
    pub fn push(&mut self, samples: &[f32]) -> usize {
        let n = samples.len().min(self.0.slots());
        if n == 0 {
            return 0;
        }
        if let Ok(mut chunk) = self.0.write_chunk(n) {
            let (a, b) = chunk.as_mut_slices();
            let (sa, sb) = samples[..n].split_at(a.len());
            a.copy_from_slice(sa);
            b.copy_from_slice(sb);
            chunk.commit_all();
            n
        } else {
            0
        }
    }

    /// Free space, in samples.
    pub fn free(&self) -> usize {
        self.0.slots()
    }

    /// Whether the consumer is gone.
    pub fn is_abandoned(&self) -> bool {
        self.0.is_abandoned()
    }
}

impl Consumer {
    /// Read up to `out.len()` samples; returns how many were read. Real-time safe.
    pub fn pop(&mut self, out: &mut [f32]) -> usize {
        let n = out.len().min(self.0.slots());
        if n == 0 {
            return 0;
        }
        if let Ok(chunk) = self.0.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            out[..a.len()].copy_from_slice(a);
            out[a.len()..n].copy_from_slice(b);
            chunk.commit_all();
            n
        } else {
            0
        }
    }

    /// Drop up to `n` samples unread; returns how many were dropped.
    pub fn skip(&mut self, n: usize) -> usize {
        let n = n.min(self.0.slots());
        if let Ok(chunk) = self.0.read_chunk(n) {
            chunk.commit_all();
            n
        } else {
            0
        }
    }

    /// Samples waiting.
    pub fn available(&self) -> usize {
        self.0.slots()
    }

    /// Whether the producer is gone.
    pub fn is_abandoned(&self) -> bool {
        self.0.is_abandoned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around_without_losing_order() {
        let (mut p, mut c) = ring(5);
        let mut out = [0.0; 5];
        for round in 0..10 {
            let base = round as f32 * 3.0;
            assert_eq!(p.push(&[base, base + 1.0, base + 2.0]), 3);
            assert_eq!(c.pop(&mut out[..3]), 3);
            assert_eq!(&out[..3], &[base, base + 1.0, base + 2.0]);
        }
        assert_eq!(p.push(&[1.0; 7]), 5, "only what fits");
        assert_eq!(c.skip(10), 5);
        assert_eq!(c.available(), 0);
    }
}
