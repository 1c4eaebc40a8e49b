//! The keyword network: a stack of strided 1-D convolutions over log-mel
//! frames (the depthwise-free cousin of the DS-CNN keyword spotters of
//! Zhang et al., 2017, "Hello Edge"), max and mean pooled over time, and
//! one logit for "the phrase ends in this window".

use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// One convolution: output channels, kernel and stride.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Layer {
    /// Output channels.
    pub channels: usize,
    /// Kernel width, frames.
    pub kernel: usize,
    /// Stride, frames.
    pub stride: usize,
}

/// The network's widths.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Shape {
    /// The convolutions, in order.
    pub layers: Vec<Layer>,
    /// Dropout before the head while training.
    pub dropout: f64,
}

impl Default for Shape {
    fn default() -> Self {
        let l = |channels, kernel, stride| Layer {
            channels,
            kernel,
            stride,
        };
        Shape {
            layers: vec![l(48, 5, 2), l(48, 5, 2), l(64, 3, 2), l(64, 3, 1)],
            dropout: 0.2,
        }
    }
}

impl Shape {
    /// Frames left after the convolutions from `frames` (0: too few).
    pub fn frames_out(&self, frames: usize) -> usize {
        self.layers.iter().fold(frames, |n, l| {
            if n < l.kernel || l.stride == 0 {
                0
            } else {
                (n - l.kernel) / l.stride + 1
            }
        })
    }
}

/// The network.
#[derive(Module, Debug)]
pub struct Net {
    convs: Vec<Conv1d>,
    dropout: Dropout,
    head: Linear,
}

impl Net {
    /// A network with fresh weights for `n_mels` bands.
    pub fn new(shape: &Shape, n_mels: usize, device: &Device) -> Net {
        let mut convs = Vec::with_capacity(shape.layers.len());
        let mut c_in = n_mels;
        for l in &shape.layers {
            convs.push(
                Conv1dConfig::new(c_in, l.channels, l.kernel)
                    .with_stride(l.stride)
                    .init(device),
            );
            c_in = l.channels;
        }
        Net {
            convs,
            dropout: DropoutConfig::new(shape.dropout).init(),
            head: LinearConfig::new(2 * c_in, 1).init(device),
        }
    }

    /// Logits `[batch]` for windows `[batch, n_mels, frames]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<1> {
        let mut h = x;
        for c in &self.convs {
            h = relu(c.forward(h));
        }
        let [b, ch, _] = h.dims();
        let pooled = Tensor::cat(
            vec![
                h.clone().max_dim(2).reshape([b, ch]),
                h.mean_dim(2).reshape([b, ch]),
            ],
            1,
        );
        let out = self.head.forward(self.dropout.forward(pooled));
        out.reshape([b])
    }
}
