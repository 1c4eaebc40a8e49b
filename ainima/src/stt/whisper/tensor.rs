//! A model's tensors on the host, in the `safetensors` format: read in place
//! from a `model.safetensors` file's bytes (the `safetensors` crate checks
//! the header, the offsets and the shapes), turned into floats one tensor at
//! a time; and written by an import (`HostTensor`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use safetensors::{Dtype, SafeTensors, View};

use crate::{Error, Result};

/// A tensor to write: element type, shape and little-endian bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTensor {
    /// Element type: F16, BF16 or F32.
    pub dtype: Dtype,
    /// Dimensions.
    pub dims: Vec<usize>,
    /// `dims`' product of elements, little-endian.
    pub data: Vec<u8>,
}

impl HostTensor {
    /// `count` rows from `start` along the first dimension (a fused
    /// projection's part).
    pub fn rows(&self, start: usize, count: usize) -> Result<HostTensor> {
        let bad = || {
            Error::BadModel(format!(
                "rows {start}..{} of a tensor of shape {:?} ({} bytes)",
                start.saturating_add(count),
                self.dims,
                self.data.len()
            ))
        };
        let (&first, rest) = self.dims.split_first().ok_or_else(bad)?;
        let row = rest
            .iter()
            .try_fold(self.dtype.bitsize() / 8, |n, &d| n.checked_mul(d))
            .ok_or_else(bad)?;
        let end = start
            .checked_add(count)
            .filter(|&e| e <= first)
            .ok_or_else(bad)?;
        let bytes = start.checked_mul(row).zip(end.checked_mul(row));
        let data = bytes
            .and_then(|(a, b)| self.data.get(a..b))
            .ok_or_else(bad)?;
        let mut dims = self.dims.clone();
        dims[0] = count;
        Ok(HostTensor {
            dtype: self.dtype,
            dims,
            data: data.to_vec(),
        })
    }
}

impl View for &HostTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.dims
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }

    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// A `model.safetensors` file's bytes for `tensors` (in memory: no file in
/// a shared temporary folder). The same tensors give the same bytes, in
/// whatever order the map holds them.
pub fn serialize(tensors: &HashMap<String, HostTensor>) -> Result<Vec<u8>> {
    safetensors::serialize(tensors, None)
        .map_err(|e| Error::BadModel(format!("writing safetensors: {e}")))
}

/// The tensors of a `model.safetensors` file, borrowed from its bytes; each
/// is taken once, as floats.
pub struct Tensors<'a>(RefCell<HashMap<String, safetensors::tensor::TensorView<'a>>>);

impl<'a> Tensors<'a> {
    /// Reads the header of a `model.safetensors` file's bytes.
    pub fn read(bytes: &'a [u8]) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::BadModel(format!("model.safetensors: {e}")))?;
        Ok(Tensors(RefCell::new(st.tensors().into_iter().collect())))
    }

    /// The floats of the tensor `name`, which must have shape `dims` and
    /// hold f16, bf16 or f32.
    pub fn take(&self, dims: &[usize], name: &str) -> Result<Vec<f32>> {
        let t = self
            .0
            .borrow_mut()
            .remove(name)
            .ok_or_else(|| Error::BadModel(format!("the model has no tensor {name}")))?;
        if t.shape() != dims {
            return Err(Error::BadModel(format!(
                "{name}: shape {:?}, expected {dims:?}",
                t.shape()
            )));
        }
        let b = t.data();
        Ok(match t.dtype() {
            Dtype::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => b
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Dtype::BF16 => b
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(Error::BadModel(format!(
                    "{name}: {other:?} values; a model's weights are f16, bf16 or f32"
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(dtype: Dtype, dims: &[usize], data: &[u8]) -> HostTensor {
        HostTensor {
            dtype,
            dims: dims.to_vec(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn written_tensors_read_back_as_floats() {
        let one_f16 = half::f16::from_f32(1.5).to_le_bytes();
        let one_bf16 = half::bf16::from_f32(-2.0).to_le_bytes();
        let mut m = HashMap::new();
        m.insert(
            "a".to_string(),
            tensor(Dtype::F32, &[2], &[0, 0, 128, 63, 0, 0, 0, 64]),
        );
        m.insert("b".to_string(), tensor(Dtype::F16, &[1], &one_f16));
        m.insert("c".to_string(), tensor(Dtype::BF16, &[1, 1], &one_bf16));
        m.insert(
            "d".to_string(),
            tensor(Dtype::I64, &[1], &[1, 0, 0, 0, 0, 0, 0, 0]),
        );
        let bytes = serialize(&m).unwrap();
        let t = Tensors::read(&bytes).unwrap();
        assert_eq!(t.take(&[2], "a").unwrap(), [1.0, 2.0]);
        assert_eq!(t.take(&[1], "b").unwrap(), [1.5]);
        assert_eq!(t.take(&[1, 1], "c").unwrap(), [-2.0]);
        assert!(t.take(&[1], "a").is_err(), "taken once");
        assert!(t.take(&[1], "d").unwrap_err().to_string().contains("I64"));
    }

    #[test]
    fn a_tensor_of_another_shape_is_refused() {
        let mut m = HashMap::new();
        m.insert("a".to_string(), tensor(Dtype::F32, &[1], &[0; 4]));
        let bytes = serialize(&m).unwrap();
        let err = Tensors::read(&bytes).unwrap().take(&[2], "a").unwrap_err();
        assert!(err.to_string().contains("shape [1], expected [2]"), "{err}");
        assert!(
            Tensors::read(&bytes[..bytes.len() - 1]).is_err(),
            "cut short"
        );
    }

    #[test]
    fn rows_are_cut_along_the_first_dimension() {
        let t = tensor(Dtype::F16, &[3, 2], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(
            t.rows(1, 2).unwrap(),
            tensor(Dtype::F16, &[2, 2], &[4, 5, 6, 7, 8, 9, 10, 11])
        );
        assert!(t.rows(2, 2).is_err());
        assert!(t.rows(usize::MAX, 2).is_err());
        assert!(
            tensor(Dtype::F16, &[], &[0, 1]).rows(0, 0).is_err(),
            "a scalar"
        );
        let short = tensor(Dtype::F16, &[3, 2], &[0; 6]);
        assert!(short.rows(1, 2).is_err(), "bytes missing");
    }
}
