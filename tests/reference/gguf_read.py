"""Minimal GGUF reader (numpy memmap), written independently of the C++ reader.

Format (GGUF v2/v3, little-endian): magic b"GGUF", u32 version, u64 n_tensors, u64 n_kv; n_kv
key/values (string key, u32 type, value); n_tensors infos (string name, u32 n_dims, u64 dims[n_dims]
innermost first, u32 ggml type, u64 offset into the data section); padding to general.alignment
(default 32); the data section. Strings are u64 length + UTF-8 bytes.
"""
import struct

import numpy as np

# value type id -> struct format for scalars
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
_NUMPY = {0: np.uint8, 1: np.int8, 2: np.uint16, 3: np.int16, 4: np.uint32, 5: np.int32,
          6: np.float32, 7: np.bool_, 10: np.uint64, 11: np.int64, 12: np.float64}
STRING, ARRAY = 8, 9

# ggml type id -> (name, elements per block, bytes per block)
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 30: ("BF16", 1, 2),
}


class Tensor:
    def __init__(self, name, dims, type_id, offset):
        self.name, self.dims, self.type_id, self.offset = name, dims, type_id, offset
        if type_id not in GGML_TYPES:
            raise ValueError(f"tensor {name}: unsupported ggml type {type_id}")
        self.type_name, self.block, self.type_size = GGML_TYPES[type_id]
        self.n_elements = int(np.prod(dims)) if dims else 1
        self.n_bytes = self.n_elements // self.block * self.type_size
        self.raw = None  # uint8 view of the tensor's bytes

    @property
    def shape(self):
        """numpy shape (outermost first): GGUF [ne0, ne1] is rows of ne0 -> (ne1, ne0)."""
        return tuple(reversed(self.dims))


class GGUFFile:
    """metadata: key -> value (numeric arrays as numpy arrays); metadata_types: key -> value type id
    ((ARRAY, element type) for arrays); tensors: name -> Tensor; data_offset, alignment.
    strict_utf8=True raises on a string that is not valid UTF-8 instead of replacing bad bytes."""

    def __init__(self, path, strict_utf8=False):
        self.path = path
        self.strict_utf8 = strict_utf8
        self.buf = np.memmap(path, dtype=np.uint8, mode="r")
        self.pos = 0
        if bytes(self.buf[:4]) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        self.pos = 4
        self.version = self._u32()
        if self.version not in (2, 3):
            raise ValueError(f"{path}: unsupported GGUF version {self.version}")
        n_tensors, n_kv = self._u64(), self._u64()
        self.metadata, self.metadata_types = {}, {}
        for _ in range(n_kv):
            key = self._string()
            vtype = self._u32()
            if vtype == ARRAY:  # peek at the element type; _value reads it again
                self.metadata_types[key] = (ARRAY, self._read("<I"))
                self.pos -= 4
            else:
                self.metadata_types[key] = vtype
            self.metadata[key] = self._value(vtype)
        self.tensors = {}
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._u32()
            dims = [self._u64() for _ in range(n_dims)]
            type_id = self._u32()
            self.tensors[name] = Tensor(name, dims, type_id, self._u64())
        align = self.alignment = int(self.metadata.get("general.alignment", 32))
        self.data_offset = (self.pos + align - 1) // align * align
        for t in self.tensors.values():
            start = self.data_offset + t.offset
            if start + t.n_bytes > len(self.buf):
                raise ValueError(f"{path}: tensor {t.name} extends past the end of the file")
            t.raw = self.buf[start:start + t.n_bytes]

    def _read(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise ValueError(f"{self.path}: truncated at byte {self.pos}")
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return v

    def _u32(self):
        return self._read("<I")

    def _u64(self):
        return self._read("<Q")

    def _string(self):
        n = self._u64()
        if self.pos + n > len(self.buf):
            raise ValueError(f"{self.path}: string past end of file at byte {self.pos}")
        raw = bytes(self.buf[self.pos:self.pos + n])
        try:
            s = raw.decode("utf-8", errors="strict" if self.strict_utf8 else "replace")
        except UnicodeDecodeError as e:
            raise ValueError(f"{self.path}: string at byte {self.pos} is not UTF-8: {e}") from None
        self.pos += n
        return s

    def _value(self, vtype):
        if vtype == STRING:
            return self._string()
        if vtype == ARRAY:
            etype, n = self._u32(), self._u64()
            if etype in _NUMPY:
                dt = np.dtype(_NUMPY[etype])
                arr = np.frombuffer(self.buf, dtype=dt, count=n, offset=self.pos).copy()
                self.pos += n * dt.itemsize
                return arr
            return [self._value(etype) for _ in range(n)]
        if vtype in _SCALAR:
            return self._read(_SCALAR[vtype])
        raise ValueError(f"{self.path}: unknown value type {vtype} at byte {self.pos}")

    def get(self, key, default=None):
        return self.metadata.get(key, default)
