//! The frame every model file of this crate shares: 12 magic bytes, a
//! version (u32, little-endian), a JSON header's length (u64) and the
//! header, then the weights in burn's burnpack format. Nothing in it is
//! believed before it is checked: the header's length against the file,
//! the weights' types (f32) from the pack's own table, and burn's loader
//! under a panic guard. Errors are messages; each model wraps them in its
//! own error.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Tensor;

/// Gives parameters the ids 1, 2, 3... in the module's order (burn draws
/// them at random): the same weights are the same bytes.
struct NumberIds(u64);

impl burn::module::ModuleMapper for NumberIds {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        self.0 += 1;
        let (_, value, _) = param.consume();
        burn::module::Param::initialized(burn::module::ParamId::from(self.0), value)
    }
}

/// A file's bytes: `magic`, `version`, `header`, then `net`'s weights.
pub(crate) fn write<M: Module>(
    magic: &[u8; 12],
    version: u32,
    header: &[u8],
    net: &M,
) -> Result<Vec<u8>, String> {
    let weights = net
        .clone()
        .map(&mut NumberIds(0))
        .into_record()
        .into_bytes()
        .map_err(|e| format!("{e:?}"))?;
    let mut out = Vec::with_capacity(24 + header.len() + weights.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(&weights);
    Ok(out)
}

/// The header and the weights of a file, its magic and version checked
/// and its header at most `max_header` bytes.
pub(crate) fn read<'a>(
    bytes: &'a [u8],
    magic: &[u8; 12],
    version: u32,
    max_header: u64,
) -> Result<(&'a [u8], &'a [u8]), String> {
    let rest = bytes.strip_prefix(&magic[..]).ok_or("wrong magic bytes")?;
    let (v, rest) = rest.split_at_checked(4).ok_or("truncated")?;
    let v = u32::from_le_bytes(v.try_into().map_err(|_| "truncated")?);
    if v != version {
        return Err(format!("version {v}, this build reads {version}"));
    }
    let (len, rest) = rest.split_at_checked(8).ok_or("truncated")?;
    let len = u64::from_le_bytes(len.try_into().map_err(|_| "truncated")?);
    if len > max_header || len > rest.len() as u64 {
        return Err("header length past the end of the file".into());
    }
    Ok(rest.split_at(len as usize))
}

/// `weights` loaded into the network `build` makes: every tensor checked to
/// be f32 first (burn's loader panics on a type it cannot put in a float
/// parameter), and a panic of burn's readers on hostile bytes taken as a
/// damaged file.
pub(crate) fn load<M: Module>(weights: &[u8], build: impl FnOnce() -> M) -> Result<M, String> {
    let pack = burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(weights.to_vec()))
        .and_then(burn_pack::Reader::into_tensors)
        .map_err(|e| format!("weights: {e}"))?;
    if let Some(t) = pack.iter().find(|t| t.dtype != burn::tensor::DType::F32) {
        return Err(format!(
            "weights: {} is {:?}, not 32-bit floats",
            t.name, t.dtype
        ));
    }
    let weights = weights.to_vec();
    let load = std::panic::AssertUnwindSafe(move || {
        let record = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(weights))?;
        build().try_load_record(record)
    });
    std::panic::catch_unwind(load)
        .map_err(|_| "weights: the reader failed".to_string())?
        .map_err(|e| format!("weights: {e:?}"))
}
