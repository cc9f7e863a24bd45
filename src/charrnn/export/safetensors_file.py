"""The safetensors format, written by hand: the weights with string metadata, no pickle.

The format (the ``safetensors`` package's own description of it) is three parts::

    8 bytes     N, the header's length: unsigned 64-bit little-endian
    N bytes     a UTF-8 JSON object: for each tensor {"dtype", "shape", "data_offsets":
                [begin, end]} (byte offsets into the data), and "__metadata__", an
                object of strings; padded with spaces
    the data    every tensor's bytes, C order, little-endian, back to back

Twenty lines here against a dependency: the ``safetensors`` package (and torch through
it) reads what this writes, which the tests check with the package itself.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from ..common.errors import CharRNNError

# numpy dtype -> the format's name for it.
DTYPES = {
    np.dtype(np.float64): "F64",
    np.dtype(np.float32): "F32",
    np.dtype(np.float16): "F16",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
}


def safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """A whole safetensors file holding ``tensors`` (in this order) and ``metadata``.

    Parameters
    ----------
    tensors : dict of str to numpy.ndarray
    metadata : dict of str to str

    Returns
    -------
    bytes
    """
    header: dict[str, object] = {"__metadata__": dict(metadata)}
    blobs, offset = [], 0
    for name, array in tensors.items():
        dtype = DTYPES.get(np.dtype(array.dtype))
        if dtype is None:
            raise CharRNNError(f"safetensors: no type for {name}'s {array.dtype}")
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)
