"""A restricted reader for joblib files that hold only plain data.

``joblib.load`` is ``pickle.load``: a crafted file runs arbitrary code. This reader accepts the
subset of joblib's format that gmmcli writes -- builtins (dict, list, str, int, float, bool,
None) and numeric numpy arrays stored as joblib ``NumpyArrayWrapper`` records -- and refuses
every other class before it is touched, so loading a model file can never run code. It does not
import joblib, which also keeps scoring start-up fast.

Integrity: ``dump_sealed`` writes the joblib stream followed by an 80-byte trailer
``#gmmcli-sha256:<hex>\n`` holding the sha256 of everything before it (``joblib.load`` stops at
the pickle's end and never sees it). ``load_plain`` checks the trailer before parsing, so a
bit-flipped or truncated file is refused instead of loading with silently altered numbers.
A file without a trailer (written before sealing existed, or by hand with ``joblib.dump``)
is still read, but must end exactly where its pickle ends.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import sys

import numpy as np

# The only globals a gmmcli model file may name. Each maps to a harmless local stand-in.
_NUMPY_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_ALLOWED_KINDS = "biuf"  # bool, signed, unsigned, float: never object, str, void or datetime
_MAX_ELEMENTS = 1 << 31
_TRAILER_PREFIX = b"#gmmcli-sha256:"
_TRAILER = re.compile(rb"#gmmcli-sha256:([0-9a-f]{64})\n\Z")
_TRAILER_LEN = len(_TRAILER_PREFIX) + 64 + 1
_MAX_DEPTH = 64  # nesting of lists/dicts in a loaded model
_MAX_NODES = 1_000_000  # values in a loaded model, counting shared ones each time they appear
_PLAIN_SCALARS = (type(None), bool, int, float, str)  # no bytes: gmmcli never writes them
_MAX_INT_BITS = 1024  # about 300 digits; gmmcli writes counts, seeds, versions: 5,000 digits is damage


class UnsafeFile(Exception):
    """The file names something other than plain data, or is malformed."""


class _ArrayRecord:
    """Stand-in for joblib's NumpyArrayWrapper: carries shape/dtype/order of the raw bytes."""


def _dtype(*args):
    """numpy.dtype restricted to plain numeric types."""
    dt = np.dtype(*args)
    if dt.kind not in _ALLOWED_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise UnsafeFile(f"array dtype {dt} is not allowed in a model file")
    return dt


_ALLOWED_GLOBALS = {
    _NUMPY_WRAPPER: _ArrayRecord,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
}


class _PlainDataUnpickler(pickle._Unpickler):  # pure-Python unpickler: its dispatch is overridable
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, fh):
        super().__init__(fh)
        self.file_handle = fh

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeFile(
                f"refusing to load {module}.{name}: a model file holds only plain data"
            ) from None

    def load_reduce(self):
        func = self.stack[-2]
        if func is not _dtype:
            raise UnsafeFile("refusing to call a function while loading a model file")
        super().load_reduce()

    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_build(self):
        state = self.stack[-1]
        target = self.stack[-2]
        if isinstance(target, np.dtype):
            super().load_build()  # dtype.__setstate__ with its plain tuple
            # __setstate__ can set flags and fields: keep only a freshly made plain dtype
            self.stack[-1] = _dtype(self.stack[-1].str)
            return
        if not isinstance(target, _ArrayRecord) or not isinstance(state, dict):
            raise UnsafeFile("unexpected object state in a model file")
        self.stack.pop()
        self.stack[-1] = self._read_array(state)

    dispatch[pickle.BUILD[0]] = load_build

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls is not _ArrayRecord or args:
            raise UnsafeFile("refusing to construct an object while loading a model file")
        self.append(_ArrayRecord())

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def _refuse(self):
        raise UnsafeFile("unsupported pickle instruction in a model file")

    # gmmcli never writes these: objects, extension registry, persistent ids, out-of-band
    # buffers, and 8-byte lengths (strings over 4 GB)
    for _op in (
        pickle.INST,
        pickle.OBJ,
        pickle.NEWOBJ_EX,
        pickle.EXT1,
        pickle.EXT2,
        pickle.EXT4,
        pickle.PERSID,
        pickle.BINPERSID,
        pickle.BYTEARRAY8,
        pickle.NEXT_BUFFER,
        pickle.READONLY_BUFFER,
        pickle.BINBYTES8,
        pickle.BINUNICODE8,
    ):
        dispatch[_op[0]] = _refuse
    del _op

    def _read_array(self, state: dict) -> np.ndarray:
        dtype, shape, order = state.get("dtype"), state.get("shape"), state.get("order", "C")
        if state.get("subclass") is not np.ndarray or not isinstance(dtype, np.dtype):
            raise UnsafeFile("array record is not a plain numpy array")
        if dtype.kind not in _ALLOWED_KINDS or order not in ("C", "F"):
            raise UnsafeFile(f"array dtype {dtype} is not allowed in a model file")
        if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise UnsafeFile("array record has a malformed shape")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count > _MAX_ELEMENTS:
            raise UnsafeFile("array record is implausibly large")
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = self.file_handle.read(1)
            if len(pad) != 1:
                raise EOFError("truncated array")
            self.file_handle.read(pad[0])
        nbytes = count * dtype.itemsize
        if nbytes > self.file_handle.remaining():
            raise EOFError("truncated array")
        data = self.file_handle.read(nbytes)
        if len(data) != nbytes:
            raise EOFError("truncated array")
        array = np.frombuffer(data, dtype=dtype, count=count).copy()
        if order == "F":
            array = array.reshape(shape[::-1]).transpose()
        else:
            array = array.reshape(shape)
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return array


class _Bounded:
    """A read-only view of a file that ends at ``end``: reads past it fail before allocating.

    A crafted length field ("the next string is 16 GB") then costs nothing.
    """

    def __init__(self, fh, end: int):
        self._fh, self._end = fh, end

    def remaining(self) -> int:
        return self._end - self._fh.tell()

    def read(self, n: int = -1) -> bytes:
        left = self.remaining()
        if n is None or n < 0:
            n = left
        if n > left:
            raise EOFError("file ends early")
        return self._fh.read(n)

    def readinto(self, buffer) -> int:
        if len(buffer) > self.remaining():
            raise EOFError("file ends early")
        return self._fh.readinto(buffer)

    def readline(self) -> bytes:
        return self._fh.readline(max(0, self.remaining()))

    def tell(self) -> int:
        return self._fh.tell()


def load_plain(path) -> object:
    """Read a joblib file of plain data; raise UnsafeFile or EOFError on anything else."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(2)
        if len(head) < 2 or head[0] != pickle.PROTO[0]:
            raise UnsafeFile("not an uncompressed joblib file")
        end = _verify_trailer(fh, size)
        fh.seek(0)
        bounded = _Bounded(fh, end)
        try:
            data = _PlainDataUnpickler(bounded).load()
        except (UnsafeFile, EOFError):
            raise
        except RecursionError:
            raise UnsafeFile("model file nests too deeply") from None
        except Exception as exc:  # any malformed stream: truncated, bit-flipped, wrong opcodes
            raise UnsafeFile(f"model file is corrupt ({type(exc).__name__})") from None
        if fh.tell() != end:
            raise UnsafeFile("model file is corrupt (data after the end of the model)")
    check_plain(data)
    return data


def _verify_trailer(fh, size: int) -> int:
    """The offset where the pickle must end: before a valid trailer, or the file's end."""
    if size < _TRAILER_LEN + 2:
        return size
    fh.seek(size - _TRAILER_LEN)
    tail = fh.read(_TRAILER_LEN)
    match = _TRAILER.match(tail)
    if not match:
        if _TRAILER_PREFIX in tail or b"#gmmcli" in tail:
            raise UnsafeFile("model file is corrupt (damaged checksum line)")
        return size  # an unsealed file
    end = size - _TRAILER_LEN
    fh.seek(0)
    digest = hashlib.sha256()
    left = end
    while left:
        block = fh.read(min(left, 1 << 20))
        if not block:
            raise EOFError("file ends early")
        digest.update(block)
        left -= len(block)
    if digest.hexdigest().encode() != match.group(1):
        raise UnsafeFile("model file is corrupt (checksum mismatch: damaged or edited)")
    return end


def check_plain(data) -> None:
    """Refuse anything but dicts (str keys), lists, tuples, str, int, float, bool, None and
    numeric arrays; also cycles, deep nesting and reference bombs, which would hang or crash
    whoever prints the model (``gmmcli info --json``)."""
    stack = [(data, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > _MAX_NODES:
            raise UnsafeFile("model file holds implausibly many values")
        if depth > _MAX_DEPTH:
            raise UnsafeFile("model file nests too deeply")
        kind = type(value)  # exact types: numpy scalars subclass float but pickle as objects
        if kind is int and value.bit_length() > _MAX_INT_BITS:  # no str(): 4,300-digit limit
            raise UnsafeFile("model file holds an implausibly large integer")
        if kind in _PLAIN_SCALARS:
            continue
        if kind is np.ndarray:
            if value.dtype.kind not in _ALLOWED_KINDS or value.dtype.fields is not None:
                raise UnsafeFile(f"array dtype {value.dtype} is not allowed in a model file")
            continue
        if kind is dict:
            for key, item in value.items():
                if type(key) is not str:
                    raise UnsafeFile("model file has a non-text key")
                stack.append((item, depth + 1))
            continue
        if kind in (list, tuple):
            stack.extend((item, depth + 1) for item in value)
            continue
        raise UnsafeFile(f"model file holds a {type(value).__name__}, which is not plain data")


def canonical(value):
    """A copy of plain data whose pickle bytes depend only on its values.

    Pickle writes an object once and refers back to it the next time the same object appears:
    an array made in a worker process carries its own dtype object, an equal string may be
    one object or two. Fresh arrays (numpy's own dtype objects, C order, native byte order)
    and interned strings make the file the same whichever process or thread made the model.
    """
    kind = type(value)
    if kind is str:
        return sys.intern(value)
    if kind is dict:
        return {sys.intern(k): canonical(v) for k, v in value.items()}
    if kind in (list, tuple):
        return kind(canonical(v) for v in value)
    if kind is np.ndarray:  # np.array(value, dtype=...) would keep value's own dtype object
        fresh = np.empty(value.shape, dtype=np.dtype(value.dtype.newbyteorder("=").str))
        fresh[...] = value
        return fresh
    return value


class _HashingWriter:
    """A binary file wrapper that hashes what is written (joblib also asks it for tell())."""

    def __init__(self, fh):
        self._fh, self.digest = fh, hashlib.sha256()

    def write(self, data) -> int:
        self.digest.update(data)
        return self._fh.write(data)

    def tell(self) -> int:
        return self._fh.tell()

    def flush(self) -> None:
        self._fh.flush()


def dump_sealed(data, path) -> None:
    """``joblib.dump(data, path)`` plus the sha256 trailer that ``load_plain`` verifies."""
    import joblib

    check_plain(data)
    data = canonical(data)
    with open(path, "wb") as fh:
        writer = _HashingWriter(fh)
        joblib.dump(data, writer, compress=0)
        fh.write(_TRAILER_PREFIX + writer.digest.hexdigest().encode() + b"\n")
