"""A small GGUF v3 writer and reader (only what the demo model needs: scalars, strings, arrays,
F32/F16 tensors).

Layout (GGUF spec): magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata
key/values, the tensor infos (name, n_dims, dims with ne[0] = the contiguous dimension, u32 dtype,
u64 offset into the data section), zero padding to `general.alignment` (32), then the tensor data,
each tensor starting at a multiple of the alignment. Everything little-endian.
"""
import struct

import numpy as np

ALIGNMENT = 32
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
              BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}
DTYPE_F32, DTYPE_F16 = 0, 1
NP_DTYPE = {DTYPE_F32: np.float32, DTYPE_F16: np.float16}


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype, v):
    if vtype == STRING:
        return _str(v)
    return struct.pack(SCALAR_FMT[vtype], v)


class GGUFWriter:
    """Collects metadata (`add(key, vtype, value)` / `add_array`) and tensors, then `write(path)`."""

    def __init__(self):
        self.kv = []       # (key, encoded type+value)
        self.tensors = []  # (name, np.ndarray) in file order

    def add(self, key, vtype, value):
        self.kv.append((key, struct.pack("<I", vtype) + _value(vtype, value)))

    def add_array(self, key, elem_type, values):
        body = b"".join(_value(elem_type, v) for v in values)
        self.kv.append((key, struct.pack("<IIQ", ARRAY, elem_type, len(values)) + body))

    def add_tensor(self, name, array):
        """array: numpy F32 or F16, in row-major order; GGUF dims are the numpy shape reversed."""
        assert array.dtype in (np.float32, np.float16), (name, array.dtype)
        self.tensors.append((name, np.ascontiguousarray(array)))

    def write(self, path):
        out = bytearray(b"GGUF")
        out += struct.pack("<IQQ", 3, len(self.tensors), len(self.kv))
        for key, val in self.kv:
            out += _str(key) + val
        offset, blobs = 0, []
        for name, arr in self.tensors:
            dims = arr.shape[::-1]
            dtype = DTYPE_F32 if arr.dtype == np.float32 else DTYPE_F16
            out += _str(name) + struct.pack("<I", len(dims))
            out += b"".join(struct.pack("<Q", d) for d in dims)
            out += struct.pack("<IQ", dtype, offset)
            blobs.append((offset, arr.tobytes()))
            offset = _align(offset + arr.nbytes)
        out += bytes(_align(len(out)) - len(out))
        data_start = len(out)
        for off, blob in blobs:
            out += bytes(data_start + off - len(out)) + blob
        with open(path, "wb") as f:
            f.write(out)


def _align(n):
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


class _Cursor:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, fmt):
        vals = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return vals[0]

    def string(self):
        n = self.take("<Q")
        if self.pos + n > len(self.buf):
            raise ValueError(f"string of {n} bytes runs past the end of the file")
        s = self.buf[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def value(self, vtype):
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            elem, n = self.take("<I"), self.take("<Q")
            return [self.value(elem) for _ in range(n)]
        if vtype not in SCALAR_FMT:
            raise ValueError(f"unknown metadata type {vtype}")
        return self.take(SCALAR_FMT[vtype])


def read_gguf(path):
    """Returns (metadata dict, {name: numpy array with the GGUF dims reversed})."""
    with open(path, "rb") as f:
        buf = f.read()
    c = _Cursor(buf)
    if buf[:4] != b"GGUF":
        raise ValueError(f"{path}: not a GGUF file")
    c.pos = 4
    version, n_tensors, n_kv = c.take("<I"), c.take("<Q"), c.take("<Q")
    if version != 3:
        raise ValueError(f"{path}: GGUF version {version}, expected 3")
    meta = {}
    for _ in range(n_kv):
        key = c.string()
        meta[key] = c.value(c.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = c.string()
        dims = [c.take("<Q") for _ in range(c.take("<I"))]
        infos.append((name, dims, c.take("<I"), c.take("<Q")))
    align = meta.get("general.alignment", ALIGNMENT)
    data_start = (c.pos + align - 1) // align * align
    tensors = {}
    for name, dims, dtype, off in infos:
        if dtype not in NP_DTYPE:
            raise ValueError(f"tensor {name}: dtype {dtype} not supported by this reader")
        count = int(np.prod(dims))
        arr = np.frombuffer(buf, dtype=NP_DTYPE[dtype], count=count, offset=data_start + off)
        tensors[name] = arr.reshape(dims[::-1])
    return meta, tensors
