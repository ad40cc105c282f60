"""Test helpers for our tests and the conformance kit: numpy is the reference for values, PyTorch for gradients.

The conformance kit itself is `tinygrad_core.testing.suite` (run it with `pytest --pyargs tinygrad_core.testing.suite
--device NAME` or `python -m tinygrad_core.testing --device NAME`); plugin.py is its pytest plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_core.dtype import DType, dtypes, to_dtype

TOLERANCE = {
    dtypes.float16: (1e-2, 1e-2),
    dtypes.bfloat16: (5e-2, 5e-2),
    dtypes.float32: (1e-4, 1e-4),
    dtypes.float64: (1e-9, 1e-9),
}


def dtype_name(dtype: DType) -> str:
    """The name tests use for a dtype: 'float32', not its C spelling 'float'."""
    return next(name for name, dt in dtypes.fields().items() if dt == dtype)


def missing(device: str, feature: DType | str) -> str | None:
    """None when `device` has the capability `feature` (a dtype or its name), else why not, in the backend's words."""
    from tinygrad_core.devices import Device

    dev = Device[device]
    dtype = to_dtype(feature)
    if dtype not in dev.dtypes:
        return f"{dev.name} lacks {dtype_name(dtype)}: {dev.missing_dtype_reason}"
    return None


def require(device: str, *features: DType | str) -> None:
    """Skip the running test, with the backend's reason, unless `device` has every capability in `features`."""
    import pytest

    for feature in features:
        why = missing(device, feature)
        if why is not None:
            pytest.skip(why)


def assert_close(
    actual: Any,
    expected: Any,
    atol: float | None = None,
    rtol: float | None = None,
    dtype: DType | None = None,
    what: str = "value",
) -> None:
    """Shapes equal and values within tolerance (NaNs and infinities must match)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    default_atol, default_rtol = TOLERANCE.get(dtype, (1e-4, 1e-4)) if dtype is not None else (1e-4, 1e-4)
    atol = default_atol if atol is None else atol
    rtol = default_rtol if rtol is None else rtol
    if actual.dtype.kind in "biu" and expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
    else:
        np.testing.assert_allclose(
            actual.astype(np.float64), expected.astype(np.float64), atol=atol, rtol=rtol, err_msg=what
        )


def random_inputs(
    shapes: Sequence[tuple[int, ...]],
    dtype: DType = dtypes.float32,
    low: float = -2.0,
    high: float = 2.0,
    seed: int = 0,
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if dtype == dtypes.bool:
        return [rng.random(shape) < 0.5 for shape in shapes]
    if dtypes.is_int(dtype):
        lo = max(int(low), int(dtypes.min(dtype)))
        return [rng.integers(lo, max(int(high), lo + 1), shape).astype(dtype.np) for shape in shapes]
    return [rng.uniform(low, high, shape).astype(dtype.np) for shape in shapes]


def check_op(
    shapes: Sequence[tuple[int, ...]],
    np_fn: Callable[..., Any],
    fn: Callable[..., Any],
    torch_fn: Callable[..., Any] | None = None,
    *,
    device: str | None = None,
    dtype: DType = dtypes.float32,
    low: float = -2.0,
    high: float = 2.0,
    atol: float | None = None,
    rtol: float | None = None,
    grad_atol: float | None = None,
    inputs: Sequence[np.ndarray] | None = None,
) -> None:
    """Run `fn` on Tensors and `np_fn` on the same numpy inputs: values, shape and dtype must match.

    With `torch_fn`, the gradient of sum(fn(...) * a fixed random weight) with respect to every float input is
    compared with PyTorch's."""
    from tinygrad_core.tensor import Tensor

    arrays = list(inputs) if inputs is not None else random_inputs(shapes, dtype, low, high)
    float_inputs = torch_fn is not None and all(a.dtype.kind == "f" for a in arrays)
    tensors = [Tensor(a, device=device, requires_grad=float_inputs or None) for a in arrays]
    out = fn(*tensors)
    expected = np.asarray(np_fn(*arrays))
    got = out.numpy()
    assert got.dtype == expected.dtype or out.dtype == dtypes.from_np(expected.dtype), (
        f"dtype {out.dtype} != numpy's {expected.dtype}"
    )
    assert_close(got, expected, atol, rtol, out.dtype, "forward")
    if torch_fn is None or not float_inputs or not dtypes.is_float(out.dtype):
        return
    import torch

    weight = np.random.default_rng(1).uniform(-1, 1, got.shape).astype(np.float64)
    torch_inputs = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    (torch_fn(*torch_inputs) * torch.tensor(weight)).sum().backward()
    (out.cast(dtypes.float32) * Tensor(weight.astype(np.float32), device=device)).sum().backward()
    for i, (ours, theirs) in enumerate(zip(tensors, torch_inputs)):
        reference = np.zeros(arrays[i].shape) if theirs.grad is None else theirs.grad.numpy()
        mine = np.zeros(arrays[i].shape) if ours.grad is None else ours.grad.numpy()
        assert_close(mine, reference, grad_atol, grad_atol, dtype, f"gradient of input {i}")
