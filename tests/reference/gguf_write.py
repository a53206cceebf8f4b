"""Minimal GGUF v3 writer for tests, written from the format description (not the C++ Writer).

Little-endian: magic b"GGUF", u32 version, u64 n_tensors, u64 n_kv; key/values (string key, u32
value type, value); tensor infos (string name, u32 n_dims, u64 dims innermost first, u32 ggml
type, u64 offset into the data section); zero padding to the alignment; each tensor's data padded
to the alignment. Strings are u64 length + bytes. gguf_string / gguf_value also serve to build
deliberately corrupt files byte by byte.
"""
import struct

GGUF_MAGIC = b"GGUF"
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STRING, T_ARRAY, T_U64, T_I64, T_F64 = range(13)
DT_F32, DT_F16, DT_Q8_0 = 0, 1, 8


def gguf_string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, value):
    scalar = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i",
              T_F32: "<f", T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d"}
    if vtype in scalar:
        return struct.pack(scalar[vtype], value)
    if vtype == T_STRING:
        return gguf_string(value)
    elem_type, items = value
    out = struct.pack("<IQ", elem_type, len(items))
    return out + b"".join(gguf_value(elem_type, x) for x in items)


def gguf_file(kvs, tensors, version=3, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, dims, dtype, data bytes)]."""
    out = GGUF_MAGIC + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, vtype, value in kvs:
        out += gguf_string(key) + struct.pack("<I", vtype) + gguf_value(vtype, value)
    offset, blobs = 0, []
    for name, dims, dtype, data in tensors:
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", dtype, offset)
        pad = -len(data) % alignment
        blobs.append(data + b"\0" * pad)
        offset += len(data) + pad
    out += b"\0" * (-len(out) % alignment)
    return out + b"".join(blobs)
