"""Minimal safetensors reader and writer (numpy only).

File layout: an 8-byte little-endian header length N, N bytes of JSON, then
the raw little-endian tensor data. The JSON maps each tensor name to
{dtype, shape, data_offsets} (offsets relative to the start of the data) and
may carry "__metadata__".

numpy has no bf16 or fp8 types, so those tensors travel as raw integer views:
BF16 as uint16, F8_E4M3 and F8_E8M0 as uint8. Callers say which dtype a
tensor has by passing (dtype_name, array) pairs to the writer; the reader
returns (dtype_name, array) pairs for the same reason.
"""

import json
import os
import struct

import numpy as np

# safetensors dtype name -> numpy storage type.
STORAGE = {
    "BF16": np.uint16,
    "F32": np.float32,
    "F64": np.float64,
    "F8_E4M3": np.uint8,
    "F8_E8M0": np.uint8,
    "I8": np.int8,
    "U8": np.uint8,
    "I32": np.int32,
    "I64": np.int64,
}


def _check(dtype, array):
    want = np.dtype(STORAGE[dtype])
    if array.dtype != want:
        raise TypeError(f"{dtype} tensor must be stored as {want}, got {array.dtype}")


def encode(tensors, metadata=None):
    """Serialise {name: (dtype, array)} to the bytes of one safetensors file.

    Tensors are laid out by decreasing element size, then by name (the order
    the official writer uses), so every tensor starts at a multiple of its own
    element size and the data region has no holes.
    """
    order = sorted(tensors, key=lambda n: (-np.dtype(STORAGE[tensors[n][0]]).itemsize, n))
    header = {"__metadata__": dict(metadata or {"format": "pt"})}
    chunks = []
    offset = 0
    for name in order:
        dtype, array = tensors[name]
        _check(dtype, array)
        raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # Pad the header with spaces so the data region starts 8-byte aligned.
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_file(path, tensors, metadata=None):
    data = encode(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def read_file(path):
    """Return {name: (dtype, array)} for one safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        begin, end = info["data_offsets"]
        storage = np.dtype(STORAGE[dtype]).newbyteorder("<")
        array = np.frombuffer(blob, dtype=storage, count=(end - begin) // storage.itemsize,
                              offset=base + begin)
        out[name] = (dtype, array.reshape(info["shape"]).astype(storage.newbyteorder("="), copy=True))
    return out


def shard_name(k, total):
    return f"model-{k:05d}-of-{total:05d}.safetensors"


def write_checkpoint(directory, tensors, shards=1):
    """Write tensors as model.safetensors, or as `shards` files plus the index.

    Shards are filled in name order with roughly equal byte counts; the index
    file's weight_map tells a loader which file holds which tensor.
    """
    os.makedirs(directory, exist_ok=True)
    if shards <= 1:
        write_file(os.path.join(directory, "model.safetensors"), tensors)
        return
    names = sorted(tensors)
    sizes = [tensors[n][1].nbytes for n in names]
    total = sum(sizes)
    groups = [[] for _ in range(shards)]
    running = 0
    for name, size in zip(names, sizes):
        k = min(shards - 1, running * shards // max(total, 1))
        groups[k].append(name)
        running += size
    weight_map = {}
    for k, group in enumerate(groups, start=1):
        fname = shard_name(k, shards)
        write_file(os.path.join(directory, fname), {n: tensors[n] for n in group})
        weight_map.update({n: fname for n in group})
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def read_checkpoint(directory):
    """Read every tensor of a checkpoint directory (single file or sharded)."""
    index = os.path.join(directory, "model.safetensors.index.json")
    weight_map = None
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        files = sorted(set(weight_map.values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for fname in files:
        for name, value in read_file(os.path.join(directory, fname)).items():
            if name in tensors:
                raise ValueError(f"tensor {name} appears in more than one shard")
            if weight_map is not None and weight_map.get(name) != fname:
                raise ValueError(f"tensor {name} is in {fname} but the index says otherwise")
            tensors[name] = value
    if weight_map is not None and set(weight_map) != set(tensors):
        raise ValueError("index weight_map and shard contents disagree")
    return tensors
