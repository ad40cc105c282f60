"""Moving tensors between ranks: broadcast_parameters, allreduce_gradients, sync_buffers.

Values travel device -> host numpy buffer -> MPI -> device through the Tensor API only (DLPack or `.numpy()`,
`Tensor(array, device=...)`, `assign`), packed into a few large host buffers ("buckets", one dtype and device each,
DEFAULT_BUCKET_MB at most) so that a step makes a handful of MPI calls, not one per tensor. Each bucket's collective
starts (non-blocking) as soon as it is packed, so it proceeds while the next bucket is copied out.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tinygrad_core.distributed.comm import DistributedError, mpi, wait, world
from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.nn.state import get_state_dict
from tinygrad_core.tensor import Tensor

DEFAULT_BUCKET_MB = 25.0
_OPS = ("mean", "sum")


# --- packing tensors into host buckets ---
def _host_dtype(dtype: DType) -> np.dtype:
    # MPI has no 16-bit float type: half and bfloat16 travel (and are summed) as float32
    if dtypes.is_float(dtype) and dtype.itemsize < 4:
        return np.dtype(np.float32)
    return np.dtype(dtype.np)


def _buckets(tensors: list[Tensor], bucket_mb: float) -> list[list[int]]:
    """Indices of `tensors` grouped by (device, dtype) in their order, each group cut into runs of at most
    bucket_mb megabytes (a larger tensor gets a bucket of its own). Every rank computes the same buckets."""
    if bucket_mb <= 0:
        raise ValueError(f"bucket_mb must be positive, got {bucket_mb}")
    limit = bucket_mb * 1e6
    groups: dict[tuple[str, DType], list[list[int]]] = {}
    filled: dict[tuple[str, DType], int] = {}
    for index, tensor in enumerate(tensors):
        key = (tensor.device, tensor.dtype)
        nbytes = tensor.numel() * _host_dtype(tensor.dtype).itemsize
        buckets = groups.setdefault(key, [[]])
        if buckets[-1] and filled[key] + nbytes > limit:
            buckets.append([])
            filled[key] = 0
        buckets[-1].append(index)
        filled[key] = filled.get(key, 0) + nbytes
    return [bucket for buckets in groups.values() for bucket in buckets if bucket]


# Host buffers kept from one step to the next, one per bucket number and dtype: a fresh array would pay its page
# faults again at every step. Reusing them is safe: _unpack's Tensor(host) copies the values.
_scratch: dict[tuple[int, np.dtype], np.ndarray] = {}


def _own_memory(tensor: Tensor) -> np.ndarray | None:
    """A realized tensor's own memory as a flat host array, shared through DLPack (no copy), where its device's memory
    is host memory (CPU, CLANG), its values fill their buffer and MPI sums its dtype as is; None elsewhere."""
    if np.dtype(tensor.dtype.np) != _host_dtype(tensor.dtype):
        return None
    try:
        return np.from_dlpack(tensor, copy=False).reshape(-1)
    except BufferError:
        return None


def _pack(tensors: list[Tensor], bucket: list[int], number: int) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """The bucket's (contiguous, realized) tensors, flattened one after another into the host buffer for bucket
    `number`, and each tensor's own memory where the host can write it (_own_memory)."""
    dtype = _host_dtype(tensors[bucket[0]].dtype)
    total = sum(tensors[index].numel() for index in bucket)
    host = _scratch.get((number, dtype))
    if host is None or host.size != total:
        host = _scratch[(number, dtype)] = np.empty(total, dtype)
    offset, owns = 0, []
    for index in bucket:
        size = tensors[index].numel()
        own = _own_memory(tensors[index])
        host[offset : offset + size] = own if own is not None else tensors[index].numpy().reshape(-1)
        owns.append(own)
        offset += size
    return host, owns


def _contiguous(tensors: list[Tensor], *also: Tensor) -> list[Tensor]:
    """The tensors made contiguous and realized in one schedule with `also`: a gradient that is a view (a transposed
    matmul result) is written in order by the kernel that computes it, not copied by one more kernel in .numpy()."""
    ordered = [tensor.contiguous() for tensor in tensors]
    Tensor.realize(*ordered, *also)
    return ordered


def _unpack(host: np.ndarray, tensors: list[Tensor], bucket: list[int]) -> list[Tensor]:
    """One device copy of the host array, and for each of the bucket's tensors a view of it shaped like that tensor."""
    like = tensors[bucket[0]]
    flat = Tensor(host, device=like.device, dtype=like.dtype)
    views, offset = [], 0
    for index in bucket:
        size = tensors[index].numel()
        views.append(flat.shrink(((offset, offset + size),)).reshape(tensors[index].shape))
        offset += size
    return views


def _allreduce(tensors: list[Tensor], op: str, bucket_mb: float, what: str) -> list[Tensor]:
    """The sum or mean over ranks of each (realized) tensor: written into the tensor's own memory where the host can
    write it (every caller replaces its tensors by the results), else as new tensors on the same devices."""
    if op not in _OPS:
        raise ValueError(f"{what}: op must be one of {', '.join(_OPS)}, got {op!r}")
    integer = next((tensor.dtype for tensor in tensors if not dtypes.is_float(tensor.dtype)), None)
    if op == "mean" and integer is not None:
        raise ValueError(f"{what}: op='mean' needs floating-point tensors, got {integer}")
    state, MPI = world(), mpi()
    if state.size == 1:  # a world of one: the sum and the mean are the tensors themselves
        return list(tensors)
    pending = []
    for number, bucket in enumerate(_buckets(tensors, bucket_mb)):
        host, owns = _pack(tensors, bucket, number)
        request = state.comm.Iallreduce(MPI.IN_PLACE, host, op=MPI.SUM)
        pending.append((bucket, host, owns, request))
        # NOTE: Open MPI advances a non-blocking collective only inside MPI calls: test the earlier ones now
        MPI.Request.Testall([entry[-1] for entry in pending])
    out: list[Tensor] = list(tensors)
    scale = 1.0 / state.size if op == "mean" else 1.0
    for number, (bucket, host, owns, request) in enumerate(pending):
        wait([request], f"{what}: bucket {number + 1} of {len(pending)} ({host.nbytes / 1e6:.2f} MB)")
        if all(own is not None for own in owns):  # straight back into each tensor's memory: no copy, no kernel
            offset = 0
            for own in owns:
                assert own is not None
                np.multiply(host[offset : offset + own.size], scale, out=own, casting="unsafe")
                offset += own.size
            continue
        for index, view in zip(bucket, _unpack(host, tensors, bucket)):
            # the mean's division is lazy: it fuses into whatever reads the result (the optimizer's update)
            out[index] = view * scale if op == "mean" else view
    return out


# --- the public operations ---
def _named(obj: Any) -> list[tuple[str, Tensor]]:
    """(state-dict name, tensor) for a model, a list of models or tensors, or one tensor; each tensor once."""
    named = {"tensor": obj} if isinstance(obj, Tensor) else get_state_dict(obj)
    seen: set[int] = set()
    out = []
    for name, tensor in named.items():
        if id(tensor) not in seen:
            seen.add(id(tensor))
            out.append((name, tensor))
    if not out:
        raise TypeError(f"expected a model, a Tensor or a list of them, got a {type(obj).__name__} holding no Tensor")
    return out


def allreduce_gradients(params: Any, op: str = "mean", bucket_mb: float = DEFAULT_BUCKET_MB) -> None:
    """Replace each trainable tensor's .grad by its mean (or sum) over all ranks.

    params: a model, a list of models or tensors (as optimizers take them); tensors with requires_grad=False
    (BatchNorm's running statistics) are skipped. Every rank must call this with the same parameters."""
    trainable = [(name, tensor) for name, tensor in _named(params) if tensor.requires_grad]
    for name, tensor in trainable:
        if tensor.grad is None:
            raise DistributedError(
                f"allreduce_gradients: parameter {name!r} (shape {tensor.shape}) has no .grad; call loss.backward() "
                "first, and check that the loss depends on it (every rank must reduce the same parameters)"
            )
    # the whole backward pass in one schedule, before any bucket is copied out
    grads = _contiguous([tensor.grad for _, tensor in trainable if tensor.grad is not None])
    reduced = _allreduce(grads, op, bucket_mb, "allreduce_gradients")
    for (_, tensor), grad in zip(trainable, reduced):
        tensor.grad = grad


def sync_buffers(model: Any, bucket_mb: float = DEFAULT_BUCKET_MB) -> None:
    """Replace every floating-point buffer (requires_grad=False: BatchNorm's running_mean and running_var) by its
    mean over all ranks. Without it, each rank keeps the running statistics of the batches it saw."""
    buffers = [tensor for _, tensor in _named(model) if tensor.requires_grad is False and dtypes.is_float(tensor.dtype)]
    if not buffers or world().size == 1:
        return
    Tensor.realize(*buffers)
    for buffer, mean in zip(buffers, _allreduce(buffers, "mean", bucket_mb, "sync_buffers")):
        buffer.assign(mean)
    Tensor.realize(*buffers)


def broadcast_parameters(model_or_params: Any, root: int = 0, bucket_mb: float = DEFAULT_BUCKET_MB) -> None:
    """Give every rank `root`'s values of every tensor of the model (parameters and buffers), so that all ranks start
    from the same weights. Raises DistributedError on every rank, naming the first differing parameter, when the
    ranks' models differ in the number, names, shapes or dtypes of their tensors."""
    state = world()
    if not 0 <= root < state.size:
        raise ValueError(f"broadcast_parameters: root must be a rank from 0 to {state.size - 1}, got {root}")
    named = _named(model_or_params)
    signature = json.dumps([[name, list(tensor.shape), str(tensor.dtype)] for name, tensor in named]).encode()
    problem = _first_difference([json.loads(entry) for entry in _allgather_bytes(signature)], root)
    if problem:
        raise DistributedError(
            f"broadcast_parameters: the ranks' models differ: {problem}; every rank must build the same model"
        )
    if state.size == 1:
        return
    tensors = [tensor for _, tensor in named]
    Tensor.realize(*tensors)
    pending = []
    for number, bucket in enumerate(_buckets(tensors, bucket_mb)):
        like = tensors[bucket[0]]
        host = (
            _pack(tensors, bucket, number)[0]
            if state.rank == root
            else np.empty(sum(tensors[index].numel() for index in bucket), _host_dtype(like.dtype))
        )
        pending.append((bucket, host, state.comm.Ibcast(host, root=root)))
    for number, (bucket, host, request) in enumerate(pending):
        wait([request], f"broadcast_parameters: bucket {number + 1} of {len(pending)}")
        if state.rank != root:
            for index, value in zip(bucket, _unpack(host, tensors, bucket)):
                tensors[index].assign(value)
    Tensor.realize(*tensors)


def _allgather_bytes(data: bytes) -> list[bytes]:
    """Every rank's `data`, in rank order (sizes first, then the bytes)."""
    state, MPI = world(), mpi()
    what = "broadcast_parameters: comparing the ranks' models"
    lengths = np.zeros(state.size, np.int64)
    wait([state.comm.Iallgather(np.array([len(data)], np.int64), lengths)], what)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    gathered = np.empty(int(lengths.sum()), np.uint8)
    spec = [gathered, lengths.tolist(), offsets.tolist(), MPI.BYTE]
    wait([state.comm.Iallgatherv(np.frombuffer(data, np.uint8), spec)], what)
    return [gathered[start : start + size].tobytes() for start, size in zip(offsets, lengths)]


def _first_difference(signatures: list[list[list[Any]]], root: int) -> str | None:
    """Where the first rank whose [name, shape, dtype] list differs from root's differs from it, in words."""

    def describe(entries: list[list[Any]], index: int) -> str:
        if index >= len(entries):
            return f"no tensor {index} (it has {len(entries)})"
        name, shape, dtype = entries[index]
        return f"{name!r} of shape {tuple(shape)}, {dtype}"

    reference = signatures[root]
    for other, entries in enumerate(signatures):
        if entries == reference:
            continue
        longest = max(len(entries), len(reference))
        index = next(i for i in range(longest) if i >= min(len(entries), len(reference)) or entries[i] != reference[i])
        first = reference[index][0] if index < len(reference) else entries[index][0]
        return (
            f"the first differing parameter is {first!r} (tensor {index} in state-dict order): rank {root} has "
            f"{describe(reference, index)}, rank {other} has {describe(entries, index)}"
        )
    return None
