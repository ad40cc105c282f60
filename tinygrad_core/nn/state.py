"""State dicts: find a model's tensors by attribute path, load them back, and store them as safetensors files.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON describing each tensor (dtype, shape,
byte offsets into the data), then the raw little-endian data. We read and write it with json and numpy only, so
loading a file never executes code.

Half floats: a BF16 or F16 entry loads as bfloat16 / float16 on a device that supports it; elsewhere (bfloat16 on
the CPU backend, whose numpy has none; float16 on an OpenCL device without cl_khr_fp16) it loads as float32, which
holds every such value exactly (for bfloat16 the float32 bits are the bfloat16 bits followed by 16 zero bits).
Saving a bfloat16 tensor writes its raw bits.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from types import FunctionType, ModuleType
from typing import Any

import numpy as np

from tinygrad_core.devices import Device
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.errors import TinygradError
from tinygrad_core.tensor import Tensor

__all__ = ["get_parameters", "get_state_dict", "load_state_dict", "safe_load", "safe_metadata", "safe_save"]


class StateDictError(TinygradError, ValueError):
    """load_state_dict found missing or unexpected keys, or tensors whose shape or dtype don't match the model's."""


class SafetensorsError(TinygradError, ValueError):
    """A safetensors file is truncated or malformed, or a tensor can't be stored in one."""


# --- finding tensors ---
def _walk(obj: Any, prefix: str, out: dict[str, Tensor], path: set[int]) -> None:
    if isinstance(obj, Tensor):
        out[prefix.rstrip(".")] = obj
        return
    # NOTE: `path` holds the containers above this one, so a child that points back at its parent is not walked twice
    if id(obj) in path or isinstance(obj, (type, ModuleType, FunctionType, str, bytes)):
        return
    path.add(id(obj))
    if hasattr(obj, "_asdict"):  # a namedtuple: its field names are the keys
        obj = obj._asdict()
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            _walk(value, f"{prefix}{key}.", out, path)
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            _walk(value, f"{prefix}{index}.", out, path)
    elif hasattr(obj, "__dict__"):
        for key, value in vars(obj).items():
            _walk(value, f"{prefix}{key}.", out, path)
    path.discard(id(obj))


def get_state_dict(obj: Any, prefix: str = "", tensor_type: type = Tensor) -> dict[str, Tensor]:
    """Every Tensor reachable from obj's attributes, lists and dicts, keyed by dotted path.

    `get_state_dict(Linear(2, 1))` -> {'weight': <Tensor (1, 2)>, 'bias': <Tensor (1,)>}
    """
    if tensor_type is not Tensor:
        raise TypeError(f"get_state_dict: tensor_type must be tinygrad_core's Tensor, got {tensor_type!r}")
    out: dict[str, Tensor] = {}
    _walk(obj, prefix, out, set())
    return out


def get_parameters(obj: Any) -> list[Tensor]:
    """Every distinct Tensor reachable from obj (a tensor shared by two layers appears once), in state-dict order.

    Like tinygrad this includes buffers such as BatchNorm's running statistics (they have requires_grad=False).
    `len(get_parameters(Linear(2, 1)))` -> 2
    """
    seen: set[int] = set()
    params = []
    for tensor in get_state_dict(obj).values():
        if id(tensor) not in seen:
            seen.add(id(tensor))
            params.append(tensor)
    return params


def _counter(key: str) -> bool:
    """BatchNorm's step counter: PyTorch writes one for every BatchNorm (0-d int64); ours may lack it or differ in
    dtype and shape, and a counter of any int type and one element loads."""
    return key.endswith("num_batches_tracked")


def load_state_dict(
    model: Any,
    state_dict: Mapping[str, Tensor],
    strict: bool = True,
    verbose: bool = True,
    consume: bool = False,
    realize: bool = True,
) -> list[Tensor]:
    """Copy each state_dict entry into the model's tensor of the same key, in place; returns the model's tensors loaded.

    Every problem is reported in one error: with strict=True, keys the model has and state_dict lacks ("missing")
    and keys state_dict has and the model lacks ("unexpected"); always, entries whose shape or dtype differ from the
    model's. Values are copied (the model never shares memory with state_dict), moved to each model tensor's device.
    consume=True deletes each entry from state_dict once loaded. `verbose` is accepted for tinygrad compatibility.
    """
    del verbose
    model_state = get_state_dict(model)
    problems = []
    missing = [key for key in model_state if key not in state_dict]
    # PyTorch writes num_batches_tracked for every BatchNorm: one of ours without running statistics has none
    unexpected = [key for key in state_dict if key not in model_state and not _counter(key)]
    if strict and missing:
        problems.append(f"missing keys (in the model, not in state_dict): {', '.join(missing)}")
    if strict and unexpected:
        problems.append(f"unexpected keys (in state_dict, not in the model): {', '.join(unexpected)}")
    for key, target in model_state.items():
        if key not in state_dict:
            continue
        source = state_dict[key]
        if not isinstance(source, Tensor):
            problems.append(f"{key}: expected a Tensor, got {type(source).__name__}")
        elif source.shape != target.shape and not (_counter(key) and source.numel() == target.numel()):
            # tinygrad's wording, so code matching its message keeps working
            problems.append(
                f"Shape mismatch in layer `{key}`: Expected shape {target.shape}, but found {source.shape} "
                "in state dict."
            )
        elif source.dtype != target.dtype and not _counter(key):
            problems.append(f"{key}: dtype {source.dtype} in state_dict, {target.dtype} in the model (cast it first)")
    if problems:
        listing = "\n  ".join(problems)
        hint = (
            ""
            if not strict or not (missing or unexpected)
            else "\n(load_state_dict(..., strict=False) skips missing and unexpected keys)"
        )
        raise StateDictError(f"load_state_dict found {len(problems)} problem(s):\n  {listing}{hint}")
    loaded = []
    for key, target in model_state.items():
        if key not in state_dict:
            continue
        if not (
            target.lazydata.realized
            and target.lazydata.st.contiguous
            and target.lazydata.shape == target.lazydata.base.shape
        ):
            # give the target memory of its own, so the assign below copies instead of aliasing state_dict's buffer
            target.replace(Tensor.empty(*target.shape, dtype=target.dtype, device=target.device))
        target.assign(state_dict[key].to(target.device).detach().cast(target.dtype).reshape(target.shape))
        loaded.append(target)
        if consume:
            del state_dict[key]  # type: ignore[attr-defined]
    if realize and loaded:
        Tensor.realize(*loaded)
    return loaded


# --- safetensors ---
_SAFETENSORS_DTYPES: dict[str, DType] = {
    "BOOL": dtypes.bool,
    "U8": dtypes.uint8,
    "I8": dtypes.int8,
    "U16": dtypes.uint16,
    "I16": dtypes.int16,
    "U32": dtypes.uint32,
    "I32": dtypes.int32,
    "U64": dtypes.uint64,
    "I64": dtypes.int64,
    "F16": dtypes.float16,
    "BF16": dtypes.bfloat16,
    "F32": dtypes.float32,
    "F64": dtypes.float64,
}
_SAFETENSORS_NAMES = {dtype: name for name, dtype in _SAFETENSORS_DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's limit: a longer "header" is a corrupt length


def _host_bytes(name: str, tensor: Tensor) -> bytes:
    if tensor.dtype not in _SAFETENSORS_NAMES:
        raise SafetensorsError(f"safe_save: {name!r} has dtype {tensor.dtype}, which safetensors can't store")
    if tensor.dtype == dtypes.bfloat16:
        array = tensor.detach().bitcast(dtypes.uint16).numpy()
    else:
        array = tensor.numpy()
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def safe_save(tensors: Mapping[str, Tensor], fn: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Write tensors to a safetensors file (atomically). metadata: str -> str, stored under "__metadata__".

    `safe_save(get_state_dict(model), "model.safetensors")`
    """
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError("safe_save: metadata must map str to str (the safetensors format stores strings only)")
    for name, tensor in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsError(f"safe_save: {name!r} can't be a tensor name")
        if not isinstance(tensor, Tensor):
            raise SafetensorsError(f"safe_save: {name!r} is a {type(tensor).__name__}, not a Tensor")
    # wider dtypes first, like the reference writer: every tensor then starts at a multiple of its item size
    order = sorted(tensors, key=lambda name: (-tensors[name].dtype.itemsize, name))
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    chunks = []
    offset = 0
    for name in order:
        data = _host_bytes(name, tensors[name])
        header[name] = {
            "dtype": _SAFETENSORS_NAMES[tensors[name].dtype],
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # pad with spaces so the data starts 8-byte aligned
    tmp = f"{os.fspath(fn)}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(len(encoded).to_bytes(8, "little"))
            f.write(encoded)
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, fn)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's hook for every object of the header: linear in its keys (a 100,000-key header loads in a blink)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        duplicated: set[str] = set()
        for key, _ in pairs:
            (duplicated if key in seen else seen).add(key)
        raise SafetensorsError(f"header names {', '.join(map(repr, sorted(duplicated)[:5]))} more than once")
    return out


def _utf8(text: str) -> bool:
    """Whether a JSON string is valid UTF-8: JSON escapes can spell lone surrogates, which are not."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(value: Any) -> str:
    """repr() for an error message, at most 80 characters of it (a malformed header can hold anything)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _read_header(data: np.ndarray) -> tuple[dict[str, Any], int]:
    """The parsed JSON header and the file offset where tensor data starts."""
    if data.size < 8:
        raise SafetensorsError(
            f"truncated: {data.size} bytes, but a safetensors file starts with an 8-byte header length"
        )
    length = int(data[:8].view("<u8")[0])
    if length > min(data.size - 8, _MAX_HEADER):
        raise SafetensorsError(
            f"header length {length} is larger than the {data.size - 8} bytes after it "
            "(truncated or not a safetensors file)"
        )
    try:
        header = json.loads(data[8 : 8 + length].tobytes().decode("utf-8"), object_pairs_hook=_no_duplicates)
    except SafetensorsError:
        raise
    except ValueError as e:  # not UTF-8, not JSON, or an integer too long to convert
        raise SafetensorsError(f"header is not valid JSON ({str(e)[:200]}); not a safetensors file?") from None
    except RecursionError:
        raise SafetensorsError("header nests JSON too deeply; not a safetensors file?") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"header is a JSON {type(header).__name__}, not an object")
    return header, 8 + length


def _check_entry(name: str, entry: Any, data_size: int) -> tuple[DType, tuple[int, ...], int, int]:
    if not _utf8(name):
        raise SafetensorsError(f"{name!r}: a tensor name must be valid UTF-8")
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise SafetensorsError(
            f"{name!r}: an entry needs exactly the fields dtype, shape and data_offsets, got {_short(entry)}"
        )
    if not isinstance(entry["dtype"], str) or entry["dtype"] not in _SAFETENSORS_DTYPES:
        raise SafetensorsError(
            f"{name!r}: unsupported dtype {_short(entry['dtype'])}; supported: {', '.join(_SAFETENSORS_DTYPES)}"
        )
    dtype = _SAFETENSORS_DTYPES[entry["dtype"]]
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise SafetensorsError(f"{name!r}: shape must be a list of non-negative integers, got {_short(shape)}")
    if math.prod(n for n in shape if n) * dtype.itemsize >= 2**62:  # numpy's bound, zero-size tensors included
        raise SafetensorsError(f"{name!r}: shape {_short(shape)} is too large for any array, even an empty one")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(type(n) is int for n in offsets):
        raise SafetensorsError(f"{name!r}: data_offsets must be [begin, end], got {_short(offsets)}")
    begin, end = offsets
    if not 0 <= begin <= end:
        raise SafetensorsError(f"{name!r}: data_offsets {offsets} are not 0 <= begin <= end")
    if end > data_size:
        raise SafetensorsError(
            f"{name!r}: data_offsets {offsets} reach past the end of the data ({data_size} bytes; truncated?)"
        )
    if end - begin != math.prod(shape) * dtype.itemsize:
        raise SafetensorsError(
            f"{name!r}: {end - begin} bytes of data, but shape {shape} of {entry['dtype']} "
            f"needs {math.prod(shape) * dtype.itemsize}"
        )
    return dtype, tuple(shape), begin, end


def _parse(data: np.ndarray) -> tuple[dict[str, tuple[DType, tuple[int, ...], np.ndarray]], dict[str, str]]:
    header, start = _read_header(data)
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(v, str) and _utf8(v) and _utf8(k) for k, v in metadata.items()
    ):
        raise SafetensorsError(f"__metadata__ must map strings to strings (valid UTF-8), got {_short(metadata)}")
    body = data[start:]
    entries = {name: _check_entry(name, entry, body.size) for name, entry in header.items()}
    # the tensors must tile the data exactly: no gaps, no overlaps, nothing left over
    position = 0
    previous = "the start of the data"
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: (item[1][2], item[1][3])):
        if begin != position:
            what = "overlaps" if begin < position else "leaves a gap after"
            raise SafetensorsError(
                f"{name!r}: data_offsets start at {begin}, which {what} {previous} (ending at {position})"
            )
        position, previous = end, repr(name)
    if position != body.size:
        raise SafetensorsError(
            f"the tensors cover {position} bytes of data but the file holds {body.size} (trailing or truncated bytes)"
        )
    return {name: (dtype, shape, body[begin:end]) for name, (dtype, shape, begin, end) in entries.items()}, metadata


def _to_tensor(dtype: DType, shape: tuple[int, ...], raw: np.ndarray, device: str) -> Tensor:
    # NOTE: built flat, then reshaped: a 0-d numpy array would come out of Tensor() as shape (1,)
    if dtype == dtypes.bool:
        return Tensor(raw.view(np.uint8) != 0, device=device).reshape(shape)
    supported = dtype in Device[device].dtypes
    if dtype == dtypes.bfloat16:
        bits = raw.view("<u2").astype(np.uint16)
        if supported:
            return Tensor(bits, device=device).bitcast(dtypes.bfloat16).reshape(shape)
        widened = (bits.astype(np.uint32) << 16).view(np.float32)  # exact; see the module docstring
        return Tensor(widened, device=device).reshape(shape)
    if dtype == dtypes.float16 and not supported:
        return Tensor(raw.view("<f2").astype(np.float32), device=device).reshape(shape)
    return Tensor(raw.view(dtype.np.newbyteorder("<")).astype(dtype.np), device=device).reshape(shape)


def _read(fn: str | os.PathLike | bytes) -> np.ndarray:
    if isinstance(fn, (bytes, bytearray, memoryview)):
        return np.frombuffer(fn, np.uint8)
    if os.path.getsize(fn) == 0:
        return np.zeros(0, np.uint8)
    return np.memmap(fn, np.uint8, mode="r")


def safe_load(fn: str | os.PathLike | bytes, device: str | None = None) -> dict[str, Tensor]:
    """Read a safetensors file (a path, or its bytes) into tensors on `device` (default: Device.DEFAULT).

    `load_state_dict(model, safe_load("model.safetensors"))`
    """
    device = Device.canonicalize(device) if device is not None else Device.DEFAULT
    entries, _ = _parse(_read(fn))
    return {name: _to_tensor(dtype, shape, raw, device) for name, (dtype, shape, raw) in entries.items()}


def safe_metadata(fn: str | os.PathLike | bytes) -> dict[str, str]:
    """The "__metadata__" strings stored in a safetensors file ({} when it has none)."""
    return _parse(_read(fn))[1]
