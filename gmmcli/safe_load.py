"""A restricted reader for joblib files that hold only plain data.

``joblib.load`` is ``pickle.load``: a crafted file runs arbitrary code. This reader accepts the
subset of joblib's format that gmmcli writes -- builtins (dict, list, str, int, float, bool,
None) and numeric numpy arrays stored as joblib ``NumpyArrayWrapper`` records -- and refuses
every other class before it is touched, so loading a model file can never run code. It does not
import joblib, which also keeps scoring start-up fast.
"""

from __future__ import annotations

import io
import pickle

import numpy as np

# The only globals a gmmcli model file may name. Each maps to a harmless local stand-in.
_NUMPY_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_ALLOWED_KINDS = "biuf"  # bool, signed, unsigned, float: never object, str, void or datetime
_MAX_ELEMENTS = 1 << 31


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
            raise UnsafeFile(f"refusing to load {module}.{name}: a model file holds only plain data") from None

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

    for _op in (pickle.INST, pickle.OBJ, pickle.NEWOBJ_EX, pickle.EXT1, pickle.EXT2, pickle.EXT4,
                pickle.PERSID, pickle.BINPERSID):
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


def load_plain(path) -> object:
    """Read a joblib file of plain data; raise UnsafeFile or EOFError on anything else."""
    with open(path, "rb") as fh:
        head = fh.read(2)
        if len(head) < 2 or head[0] != pickle.PROTO[0]:
            raise UnsafeFile("not an uncompressed joblib file")
        fh.seek(0)
        buffered = io.BufferedReader(fh) if not isinstance(fh, io.BufferedReader) else fh
        try:
            return _PlainDataUnpickler(buffered).load()
        except (UnsafeFile, EOFError):
            raise
        except RecursionError:
            raise UnsafeFile("model file nests too deeply") from None
        except Exception as exc:  # any malformed stream: truncated, bit-flipped, wrong opcodes
            raise UnsafeFile(f"model file is corrupt ({type(exc).__name__})") from None
