//! A minimal writer for the subset of the ONNX protobuf (`onnx.proto`, IR version 8) the demo model
//! needs: model, graph, nodes with int/float/ints/tensor attributes, initializers and typed inputs.
//!
//! Hand-written so that no `protoc` or build script is needed; the field numbers below are those of
//! `onnx.proto` and are stable across ONNX releases.

/// ONNX tensor element types used here (`TensorProto.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Float = 1,
    Int64 = 7,
    Bool = 9,
}

/// One dimension of a declared input or output: fixed or named (dynamic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    Named(String),
}

/// A tensor constant (initializer or `value` attribute), stored as raw little-endian bytes.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub dims: Vec<i64>,
    pub data_type: DataType,
    pub raw: Vec<u8>,
}

impl Tensor {
    pub fn f32(name: impl Into<String>, dims: Vec<i64>, values: &[f32]) -> Self {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self { name: name.into(), dims, data_type: DataType::Float, raw }
    }

    pub fn i64(name: impl Into<String>, dims: Vec<i64>, values: &[i64]) -> Self {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self { name: name.into(), dims, data_type: DataType::Int64, raw }
    }
}

/// A node attribute.
#[derive(Debug, Clone)]
pub enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
    Tensor(Tensor),
}

/// One graph node.
#[derive(Debug, Clone)]
pub struct Node {
    pub op_type: String,
    pub name: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: Vec<(String, Attr)>,
}

/// A declared graph input or output.
#[derive(Debug, Clone)]
pub struct ValueInfo {
    pub name: String,
    pub data_type: DataType,
    pub dims: Vec<Dim>,
}

/// A whole model: one graph and the default-domain opset it uses.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub graph_name: String,
    pub opset: i64,
    pub nodes: Vec<Node>,
    pub initializers: Vec<Tensor>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    /// `metadata_props` key/value pairs (provenance: seed, generator version).
    pub metadata: Vec<(String, String)>,
}

impl Model {
    /// Serialises the model as an ONNX protobuf (`ModelProto`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        field_varint(&mut out, 1, 8); // ir_version
        field_bytes(&mut out, 2, b"migru");
        field_bytes(&mut out, 3, env!("CARGO_PKG_VERSION").as_bytes());
        field_bytes(&mut out, 7, &self.encode_graph());
        let mut opset = Vec::new();
        field_bytes(&mut opset, 1, b"");
        field_varint(&mut opset, 2, self.opset as u64);
        field_bytes(&mut out, 8, &opset);
        for (key, value) in &self.metadata {
            let mut entry = Vec::new();
            field_bytes(&mut entry, 1, key.as_bytes());
            field_bytes(&mut entry, 2, value.as_bytes());
            field_bytes(&mut out, 14, &entry);
        }
        out
    }

    fn encode_graph(&self) -> Vec<u8> {
        let mut g = Vec::new();
        for node in &self.nodes {
            field_bytes(&mut g, 1, &encode_node(node));
        }
        field_bytes(&mut g, 2, self.graph_name.as_bytes());
        for tensor in &self.initializers {
            field_bytes(&mut g, 5, &encode_tensor(tensor));
        }
        for input in &self.inputs {
            field_bytes(&mut g, 11, &encode_value_info(input));
        }
        for output in &self.outputs {
            field_bytes(&mut g, 12, &encode_value_info(output));
        }
        g
    }
}

fn encode_node(node: &Node) -> Vec<u8> {
    let mut n = Vec::new();
    for input in &node.inputs {
        field_bytes(&mut n, 1, input.as_bytes());
    }
    for output in &node.outputs {
        field_bytes(&mut n, 2, output.as_bytes());
    }
    field_bytes(&mut n, 3, node.name.as_bytes());
    field_bytes(&mut n, 4, node.op_type.as_bytes());
    for (name, attr) in &node.attributes {
        field_bytes(&mut n, 5, &encode_attribute(name, attr));
    }
    n
}

fn encode_attribute(name: &str, attr: &Attr) -> Vec<u8> {
    let mut a = Vec::new();
    field_bytes(&mut a, 1, name.as_bytes());
    match attr {
        Attr::Float(f) => {
            key(&mut a, 2, 5);
            a.extend_from_slice(&f.to_le_bytes());
            field_varint(&mut a, 20, 1);
        }
        Attr::Int(i) => {
            field_varint(&mut a, 3, *i as u64);
            field_varint(&mut a, 20, 2);
        }
        Attr::Tensor(t) => {
            field_bytes(&mut a, 5, &encode_tensor(t));
            field_varint(&mut a, 20, 4);
        }
        Attr::Ints(values) => {
            for v in values {
                field_varint(&mut a, 8, *v as u64);
            }
            field_varint(&mut a, 20, 7);
        }
    }
    a
}

fn encode_tensor(t: &Tensor) -> Vec<u8> {
    let mut out = Vec::new();
    for d in &t.dims {
        field_varint(&mut out, 1, *d as u64);
    }
    field_varint(&mut out, 2, t.data_type as u64);
    field_bytes(&mut out, 8, t.name.as_bytes());
    field_bytes(&mut out, 9, &t.raw);
    out
}

fn encode_value_info(v: &ValueInfo) -> Vec<u8> {
    let mut shape = Vec::new();
    for dim in &v.dims {
        let mut d = Vec::new();
        match dim {
            Dim::Fixed(n) => field_varint(&mut d, 1, *n as u64),
            Dim::Named(s) => field_bytes(&mut d, 2, s.as_bytes()),
        }
        field_bytes(&mut shape, 1, &d);
    }
    let mut tensor_type = Vec::new();
    field_varint(&mut tensor_type, 1, v.data_type as u64);
    field_bytes(&mut tensor_type, 2, &shape);
    let mut type_proto = Vec::new();
    field_bytes(&mut type_proto, 1, &tensor_type);
    let mut out = Vec::new();
    field_bytes(&mut out, 1, v.name.as_bytes());
    field_bytes(&mut out, 2, &type_proto);
    out
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    varint(out, u64::from((field << 3) | wire_type));
}

fn field_varint(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, 0);
    varint(out, value);
}

fn field_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_encoding() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
        let mut neg = Vec::new();
        varint(&mut neg, (-1i64) as u64);
        assert_eq!(neg.len(), 10, "negative int64 takes ten bytes");
    }

    #[test]
    fn a_model_starts_with_its_ir_version() {
        let bytes = Model { graph_name: "g".into(), opset: 17, ..Model::default() }.encode();
        assert_eq!(&bytes[..2], &[0x08, 8]);
    }
}
