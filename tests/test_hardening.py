"""No silent wrong answers: NaN in arg-reductions, bad arguments that name themselves, threads that train exactly as
they would one after the other, bounded program memory, a safetensors loader that can't be stalled, and a kernel
cache treated as the trust boundary it is."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from tinygrad_core import Tensor, nn
from tinygrad_core.errors import ArgumentError

NAN = math.nan


# --- NaN ---
@pytest.mark.parametrize(
    "values", [[1.0, NAN, 3.0], [NAN, 1.0, NAN], [2.0, 7.0, 7.0], [NAN], [-math.inf, 0.0, NAN, math.inf]], ids=str
)
def test_arg_reductions_point_at_the_first_nan_like_numpy(device, values):
    x = Tensor(values, device=device)
    assert x.argmax().item() == int(np.argmax(values)) == int(torch.tensor(values).argmax())
    assert x.argmin().item() == int(np.argmin(values))


def test_max_and_min_rows_propagate_nan(device):
    rows = [[1.0, NAN, 3.0], [4.0, 5.0, 6.0]]
    got = Tensor(rows, device=device)
    np.testing.assert_array_equal(got.max(1).numpy(), torch.tensor(rows).max(1).values.numpy())
    np.testing.assert_array_equal(got.min(1).numpy(), torch.tensor(rows).min(1).values.numpy())
    np.testing.assert_array_equal(got.argmax(1).numpy(), [1, 2])


# --- arguments ---
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: nn.Linear(-1, 3), "Linear: in_features must be a non-negative int, got -1"),
        (lambda: nn.Conv2d(3, 4, 0), "Conv2d: kernel_size must be a positive int, got 0"),
        (lambda: nn.Conv2d(3, 4, 3, stride=-1), "Conv2d: stride must be a positive int, got -1"),
        (lambda: nn.Embedding(-5, 3), "Embedding: vocab_size must be a non-negative int, got -5"),
        (lambda: nn.GroupNorm(0, 4), "GroupNorm: num_groups must be a positive int, got 0"),
        (lambda: nn.BatchNorm2d(2.5), "BatchNorm: sz must be a non-negative int, got 2.5"),
        (lambda: Tensor([1, 2], requires_grad=True), "requires_grad=True needs a floating-point tensor"),
        (lambda: Tensor([1, 2]).requires_grad_(), "requires_grad=True needs a floating-point tensor"),
    ],
)
def test_bad_arguments_raise_one_line_naming_them(make, message):
    with pytest.raises(ArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        make()
    assert "\n" not in str(info.value)


def test_layers_without_inputs_are_allowed_as_in_pytorch():
    assert nn.Linear(0, 3)(Tensor.ones(2, 0)).tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


@pytest.mark.parametrize(("flag", "value", "says"), [("DEBUG", "abc", "an integer"), ("THREADS", "-4", "non-negative")])
def test_bad_flags_are_one_line_errors(flag, value, says):
    run = subprocess.run(
        [sys.executable, "-c", "from tinygrad_core import Tensor; (Tensor([1.0]) + 1).tolist()"],
        env={**__import__("os").environ, flag: value},
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ArgumentError: flag {flag}={value!r}")
    assert says in last
    assert len(run.stderr.strip().splitlines()) <= 4  # the short traceback: no frames of ours
