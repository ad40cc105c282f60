"""Level 'autodiff': gradients through the Tensor API, checked against central finite differences of numpy code.

Each case is a function written twice, on Tensors and on numpy arrays. The loss is sum(f(inputs) * W) for a fixed
random W; every input's gradient must match the numerical one computed in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_core.tensor import Tensor
from tinygrad_core.testing import assert_close

pytestmark = pytest.mark.kit("autodiff")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# name: (input shapes, ours, numpy's)
CASES: dict[str, tuple[list[tuple[int, ...]], Callable[..., Any], Callable[..., Any]]] = {
    "add_broadcast": ([(3, 1), (1, 4)], lambda a, b: a + b, lambda a, b: a + b),
    "mul_sub_div": ([(3, 4), (3, 4)], lambda a, b: a * b - a / (b * b + 1), lambda a, b: a * b - a / (b * b + 1)),
    "matmul": ([(3, 5), (5, 2)], lambda a, b: a @ b, lambda a, b: a @ b),
    "relu": ([(12,)], lambda x: x.relu(), lambda x: np.maximum(x, 0)),
    "exp_log": ([(6,)], lambda x: (x.exp() + 1).log(), lambda x: np.log(np.exp(x) + 1)),
    "sqrt_sin": ([(6,)], lambda x: (x * x + 1).sqrt() * x.sin(), lambda x: np.sqrt(x * x + 1) * np.sin(x)),
    "sigmoid_tanh": ([(6,)], lambda x: x.sigmoid() + x.tanh(), lambda x: 1 / (1 + np.exp(-x)) + np.tanh(x)),
    "sum_mean": ([(4, 5)], lambda x: x.sum(axis=0) * x.mean(), lambda x: x.sum(axis=0) * x.mean()),
    "max": ([(4, 5)], lambda x: x.max(axis=1), lambda x: x.max(axis=1)),
    "softmax": ([(3, 6)], lambda x: x.softmax(), _softmax),
    "log_softmax": ([(3, 6)], lambda x: x.log_softmax(), lambda x: np.log(_softmax(x))),
    "movement": (
        [(2, 3, 4)],
        lambda x: x.permute(2, 0, 1).reshape(4, 6).pad(((1, 0), (0, 2))).flip(0)[1:, 2:] * 3,
        lambda x: np.pad(x.transpose(2, 0, 1).reshape(4, 6), ((1, 0), (0, 2)))[::-1][1:, 2:] * 3,
    ),
    "expand": ([(3, 1)], lambda x: x.expand(3, 4) * x, lambda x: np.broadcast_to(x, (3, 4)) * x),
    "where": ([(8,), (8,)], lambda a, b: (a < b).where(a * 2, b * b), lambda a, b: np.where(a < b, a * 2, b * b)),
}


def _numerical_gradient(fn: Callable[..., Any], inputs: list[np.ndarray], weight: np.ndarray, i: int) -> np.ndarray:
    eps = 1e-6
    grad = np.zeros_like(inputs[i])
    for index in np.ndindex(inputs[i].shape):
        shifted = []
        for sign in (1, -1):
            moved = [x.copy() for x in inputs]
            moved[i][index] += sign * eps
            shifted.append((fn(*moved) * weight).sum())
        grad[index] = (shifted[0] - shifted[1]) / (2 * eps)
    return grad


@pytest.mark.parametrize("case", list(CASES))
def test_gradient(device: str, case: str) -> None:
    shapes, ours, numpy_version = CASES[case]
    rng = np.random.default_rng(len(case))
    inputs = [rng.uniform(-2, 2, shape) for shape in shapes]
    weight = rng.uniform(-1, 1, np.shape(numpy_version(*inputs)))
    tensors = [Tensor(x.astype(np.float32), device=device, requires_grad=True) for x in inputs]
    out = ours(*tensors)
    assert_close(out.numpy(), numpy_version(*inputs), atol=1e-4, rtol=1e-4, what="forward")
    (out * Tensor(weight.astype(np.float32), device=device)).sum().backward()
    for i, tensor in enumerate(tensors):
        assert tensor.grad is not None, f"input {i} got no gradient"
        expected = _numerical_gradient(numpy_version, inputs, weight, i)
        assert_close(tensor.grad.numpy(), expected, atol=2e-3, rtol=2e-3, what=f"gradient of input {i}")


def test_gradients_accumulate(device: str) -> None:
    x = Tensor(np.arange(4, dtype=np.float32), device=device, requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert_close(x.grad.numpy(), 2 * np.arange(4) + 3)  # type: ignore[union-attr]
