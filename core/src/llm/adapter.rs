//! ONNX Runtime adapter files (`.onnx_adapter`): a flatbuffer with file identifier `TORT`.
//!
//! Schema (onnxruntime `lora/adapter_format/adapter_schema.fbs`):
//! `Adapter { format_version: int, adapter_version: int, model_version: int, parameters: [Parameter] }`,
//! `Parameter { name: string, dims: [int64], data_type: TensorDataType (int32, ONNX dtype),
//! raw_data: [uint8] (force_align: 8) }`.
//!
//! Written with the `flatbuffers` builder; read with a small bounds-checked reader (no generated
//! code, no `unsafe`), so a damaged file is an error, never a crash.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use super::LlmError;
use super::sampling::Rng;

/// The adapter format version ONNX Runtime 1.20–1.31 reads.
pub const FORMAT_VERSION: i32 = 1;
/// ONNX `TensorProto.DataType::FLOAT`.
pub const DTYPE_FLOAT: i32 = 1;
const FILE_IDENTIFIER: &str = "TORT";

/// One named tensor of an adapter (a LoRA A or B matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterParam {
    pub name: String,
    pub dims: Vec<i64>,
    /// ONNX element type (1 = float32).
    pub data_type: i32,
    /// Little-endian element bytes.
    pub raw: Vec<u8>,
}

impl AdapterParam {
    pub fn f32(name: impl Into<String>, dims: Vec<i64>, values: &[f32]) -> Self {
        Self { name: name.into(), dims, data_type: DTYPE_FLOAT, raw: values.iter().flat_map(|v| v.to_le_bytes()).collect() }
    }

    /// The values, when the parameter is float32.
    pub fn f32_values(&self) -> Option<Vec<f32>> {
        (self.data_type == DTYPE_FLOAT && self.raw.len().is_multiple_of(4))
            .then(|| self.raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    fn element_count(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |acc, &d| usize::try_from(d).ok().and_then(|d| acc.checked_mul(d)))
    }
}

/// A whole adapter file.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterFile {
    pub format_version: i32,
    pub adapter_version: i32,
    pub model_version: i32,
    pub params: Vec<AdapterParam>,
}

impl AdapterFile {
    pub fn new(adapter_version: i32, model_version: i32, params: Vec<AdapterParam>) -> Self {
        Self { format_version: FORMAT_VERSION, adapter_version, model_version, params }
    }

    /// Serialises the adapter; `raw_data` of every parameter starts on an 8-byte boundary.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut fbb = FlatBufferBuilder::with_capacity(1024 + self.params.iter().map(|p| p.raw.len() + 64).sum::<usize>());
        let params: Vec<_> = self.params.iter().map(|p| write_param(&mut fbb, p)).collect();
        let params = fbb.create_vector(&params);
        let start = fbb.start_table();
        fbb.push_slot_always::<i32>(4, self.format_version);
        fbb.push_slot_always::<i32>(6, self.adapter_version);
        fbb.push_slot_always::<i32>(8, self.model_version);
        fbb.push_slot_always(10, params);
        let root = fbb.end_table(start);
        fbb.finish(root, Some(FILE_IDENTIFIER));
        fbb.finished_data().to_vec()
    }

    /// Parses and checks an adapter file: identifier, offsets, and that each parameter's byte
    /// length equals its shape times its element size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LlmError> {
        let r = Reader { buf: bytes };
        if bytes.len() < 8 || &bytes[4..8] != FILE_IDENTIFIER.as_bytes() {
            return Err(LlmError::Adapter("not an ONNX Runtime adapter file (identifier TORT missing)".into()));
        }
        let root = r.offset_target(0)?;
        let params_vec = r.field_offset(root, 3)?;
        let mut params = Vec::new();
        if let Some(vec_pos) = params_vec {
            for i in 0..r.u32_at(vec_pos)? as usize {
                let slot = vec_pos + 4 + 4 * i;
                params.push(read_param(&r, r.offset_target(slot)?)?);
            }
        }
        let file = Self {
            format_version: r.field_scalar_i32(root, 0)?,
            adapter_version: r.field_scalar_i32(root, 1)?,
            model_version: r.field_scalar_i32(root, 2)?,
            params,
        };
        if file.format_version != FORMAT_VERSION {
            return Err(LlmError::Adapter(format!("adapter format version {} is not {FORMAT_VERSION}", file.format_version)));
        }
        Ok(file)
    }

    /// A seeded LoRA adapter for the given `(name, [rows, cols])` weight shapes: A is `[rows, rank]`,
    /// B is `[rank, cols]`, `scale` bounds the uniform entries. For tests and the demo.
    pub fn seeded_lora(targets: &[(String, String, usize, usize)], rank: usize, scale: f32, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut params = Vec::new();
        for (a_name, b_name, rows, cols) in targets {
            let a: Vec<f32> = (0..rows * rank).map(|_| rng.symmetric(scale)).collect();
            let b: Vec<f32> = (0..rank * cols).map(|_| rng.symmetric(scale)).collect();
            params.push(AdapterParam::f32(a_name.clone(), vec![*rows as i64, rank as i64], &a));
            params.push(AdapterParam::f32(b_name.clone(), vec![rank as i64, *cols as i64], &b));
        }
        Self::new(1, 1, params)
    }
}

fn write_param<'a>(fbb: &mut FlatBufferBuilder<'a>, p: &AdapterParam) -> WIPOffset<flatbuffers::TableFinishedWIPOffset> {
    // Pad so that the byte vector written next begins on an 8-byte boundary (force_align: 8). The
    // builder writes back to front and the finished buffer is a multiple of 8 long (the int64 dims
    // vector sets the minimum alignment), so distances from the end translate to offsets.
    let distance = fbb.unfinished_data().len();
    let pad = (8 - (distance + p.raw.len()) % 8) % 8;
    for _ in 0..pad {
        fbb.push(0u8);
    }
    let raw = fbb.create_vector(&p.raw);
    let dims = fbb.create_vector(&p.dims);
    let name = fbb.create_string(&p.name);
    let start = fbb.start_table();
    fbb.push_slot_always(4, name);
    fbb.push_slot_always(6, dims);
    fbb.push_slot_always::<i32>(8, p.data_type);
    fbb.push_slot_always(10, raw);
    fbb.end_table(start)
}

fn read_param(r: &Reader<'_>, table: usize) -> Result<AdapterParam, LlmError> {
    let name = match r.field_offset(table, 0)? {
        Some(pos) => String::from_utf8(r.vector_bytes(pos, 1)?.to_vec())
            .map_err(|_| LlmError::Adapter("parameter name is not UTF-8".into()))?,
        None => return Err(LlmError::Adapter("parameter without a name".into())),
    };
    let dims = match r.field_offset(table, 1)? {
        Some(pos) => r.vector_bytes(pos, 8)?.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
        None => Vec::new(),
    };
    let raw = match r.field_offset(table, 3)? {
        Some(pos) => r.vector_bytes(pos, 1)?.to_vec(),
        None => Vec::new(),
    };
    let param = AdapterParam { name, dims, data_type: r.field_scalar_i32(table, 2)?, raw };
    let element_size = match param.data_type {
        1 | 6 | 12 => 4,
        7 | 11 | 13 => 8,
        10 | 16 | 4 | 5 => 2,
        2 | 3 | 9 => 1,
        other => return Err(LlmError::Adapter(format!("parameter {}: unsupported data type {other}", param.name))),
    };
    match param.element_count().and_then(|n| n.checked_mul(element_size)) {
        Some(expected) if expected == param.raw.len() => Ok(param),
        _ => Err(LlmError::Adapter(format!(
            "parameter {}: {} data bytes do not match shape {:?}",
            param.name,
            param.raw.len(),
            param.dims
        ))),
    }
}

/// Bounds-checked access to a flatbuffer.
struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn truncated() -> LlmError {
        LlmError::Adapter("adapter file is truncated or has an offset outside the file".into())
    }

    fn bytes(&self, pos: usize, len: usize) -> Result<&[u8], LlmError> {
        pos.checked_add(len).and_then(|end| self.buf.get(pos..end)).ok_or_else(Self::truncated)
    }

    fn u32_at(&self, pos: usize) -> Result<u32, LlmError> {
        let b = self.bytes(pos, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u16_at(&self, pos: usize) -> Result<u16, LlmError> {
        let b = self.bytes(pos, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// Follows the unsigned offset stored at `pos`.
    fn offset_target(&self, pos: usize) -> Result<usize, LlmError> {
        pos.checked_add(self.u32_at(pos)? as usize).ok_or_else(Self::truncated)
    }

    /// Position of field `index` inside the table at `table`, if present.
    fn field_pos(&self, table: usize, index: usize) -> Result<Option<usize>, LlmError> {
        let soffset = self.u32_at(table)? as i32;
        let vtable = usize::try_from(table as i64 - i64::from(soffset)).map_err(|_| Self::truncated())?;
        let vtable_len = self.u16_at(vtable)? as usize;
        let entry = 4 + 2 * index;
        if entry + 2 > vtable_len {
            return Ok(None);
        }
        match self.u16_at(vtable + entry)? {
            0 => Ok(None),
            off => Ok(Some(table + off as usize)),
        }
    }

    fn field_scalar_i32(&self, table: usize, index: usize) -> Result<i32, LlmError> {
        match self.field_pos(table, index)? {
            Some(pos) => Ok(self.u32_at(pos)? as i32),
            None => Ok(0),
        }
    }

    fn field_offset(&self, table: usize, index: usize) -> Result<Option<usize>, LlmError> {
        self.field_pos(table, index)?.map(|pos| self.offset_target(pos)).transpose()
    }

    fn vector_bytes(&self, pos: usize, element_size: usize) -> Result<&[u8], LlmError> {
        let len = (self.u32_at(pos)? as usize).checked_mul(element_size).ok_or_else(Self::truncated)?;
        self.bytes(pos + 4, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AdapterFile {
        AdapterFile::new(
            3,
            1,
            vec![
                AdapterParam::f32("a", vec![4, 1], &[3.0, 4.0, 5.0, 6.0]),
                AdapterParam::f32("layer.0.lora_B", vec![1, 3], &[7.0, 8.0, 9.0]),
            ],
        )
    }

    #[test]
    fn round_trips_and_carries_the_identifier() {
        let bytes = sample().to_bytes();
        assert_eq!(&bytes[4..8], b"TORT");
        assert_eq!(AdapterFile::from_bytes(&bytes).unwrap(), sample());
    }

    #[test]
    fn raw_data_is_eight_byte_aligned() {
        let bytes = sample().to_bytes();
        for p in &sample().params {
            let pos = bytes.windows(p.raw.len()).position(|w| w == p.raw.as_slice()).unwrap();
            assert_eq!(pos % 8, 0, "{} at {pos}", p.name);
        }
    }

    #[test]
    fn damaged_files_are_errors() {
        let bytes = sample().to_bytes();
        assert!(AdapterFile::from_bytes(b"nope").is_err());
        for cut in [8, 20, bytes.len() / 2, bytes.len() - 3] {
            assert!(AdapterFile::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong = sample();
        wrong.params[0].dims = vec![5, 1];
        assert!(AdapterFile::from_bytes(&wrong.to_bytes()).unwrap_err().to_string().contains("do not match shape"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let mut b = bytes;
            if b.len() >= 8 { b[4..8].copy_from_slice(b"TORT"); }
            let _ = AdapterFile::from_bytes(&b);
        }
    }
}
