"""Benchmarks: the same workloads on tinygrad-core (each available backend), tinygrad, PyTorch and numpy.

Each framework runs in a process of its own (`--worker NAME`), so no library's threads or caches disturb another's.
The parent prints medians and, for each of our backends, how many times faster it is than each other framework.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np

# name -> (unit, work per run used to turn seconds into that unit); unit "ms" reports the time itself
WORKLOADS: dict[str, tuple[str, float]] = {
    "elementwise 16M": ("GB/s", 3 * 16 * 2**20 * 4),
    "row sum 4096x4096": ("GB/s", 4096 * 4096 * 4),
    "matmul 512": ("GFLOP/s", 2 * 512**3),
    "matmul 1024": ("GFLOP/s", 2 * 1024**3),
    "matmul 2048": ("GFLOP/s", 2 * 2048**3),
    "conv2d 3->32->64": ("ms", 0),
    "conv2d weight grad": ("ms", 0),
    "conv2d input grad": ("ms", 0),
    "mlp train step (jit)": ("ms", 0),
    "mlp train step (plain)": ("ms", 0),
    "xor tutorial step": ("ms", 0),
    "cnn train step (jit)": ("ms", 0),
    "cnn train step (plain)": ("ms", 0),
    "softmax 4096x1024": ("GB/s", 2 * 4096 * 1024 * 4),
    "log_softmax 4096x1024": ("GB/s", 2 * 4096 * 1024 * 4),
    "layernorm 4096x1024": ("GB/s", 2 * 4096 * 1024 * 4),
    "python per lazy op": ("us", 1),
    "python per scheduled step": ("us", 1),
    "launch floor per kernel": ("us", 1),
}
LAZY_OPS = 200  # ops built per run of "python per lazy op"


def measure(fn: Callable[[], Any], budget: float, repeats: int) -> float:
    """Median seconds of fn() after two warm-up calls (the second also lets a JIT capture)."""
    fn()
    fn()
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < repeats and (len(times) < 3 or time.perf_counter() < deadline):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- tinygrad-core and tinygrad share one API: one set of workloads serves both ---
def tiny_family(lib: SimpleNamespace, budget: float, repeats: int, only: set[str]) -> dict[str, float]:
    Tensor, nn, optim, TinyJit = lib.Tensor, lib.nn, lib.optim, lib.TinyJit
    rng = np.random.default_rng(0)

    def data(*shape: int) -> Any:
        return Tensor(rng.standard_normal(shape).astype(np.float32)).realize()

    cases: dict[str, Callable[[], Any]] = {}
    a, b, c = data(16 * 2**20), data(16 * 2**20), data(16 * 2**20)
    cases["elementwise 16M"] = lambda: ((a * b + c).relu() * 2 - a).exp2().sum().realize()
    big = data(4096, 4096)
    cases["row sum 4096x4096"] = lambda: big.sum(1).realize()
    for n in (512, 1024, 2048):
        x, y = data(n, n), data(n, n)
        cases[f"matmul {n}"] = lambda x=x, y=y: (x @ y).realize()
    images = data(32, 3, 32, 32)
    conv1, conv2 = nn.Conv2d(3, 32, 3), nn.Conv2d(32, 64, 3)
    cases["conv2d 3->32->64"] = lambda: conv2(conv1(images)).realize()
    cases.update(conv_gradients(Tensor, data))
    rows = data(4096, 1024)
    cases["softmax 4096x1024"] = lambda: rows.softmax(-1).realize()
    cases["log_softmax 4096x1024"] = lambda: rows.log_softmax(-1).realize()
    cases["layernorm 4096x1024"] = lambda: rows.layernorm(-1).realize()

    def train_step(model: list[Any], inputs: Any, labels: Any, jit: bool) -> Callable[[], Any]:
        params = lib.get_parameters(model)
        opt = optim.Adam(params, lr=1e-3)

        def step(x: Any, y: Any) -> Any:
            with lib.train():
                opt.zero_grad()
                loss = x.sequential(model).sparse_categorical_crossentropy(y)
                loss.backward()
                opt.step()
                return loss.realize()

        if jit:
            jitted = TinyJit(step)
            return lambda: jitted(inputs, labels)
        return lambda: step(inputs, labels).item()  # the plain loop reads the loss, as PyTorch's step does

    labels = Tensor(rng.integers(0, 10, 128).astype(np.int32)).realize()
    cnn_labels = Tensor(rng.integers(0, 10, 64).astype(np.int32)).realize()
    digits = data(128, 784)
    small_images = data(64, 1, 28, 28)
    for jit in (True, False):
        kind = "jit" if jit else "plain"
        mlp = [nn.Linear(784, 512), Tensor.relu, nn.Linear(512, 512), Tensor.relu, nn.Linear(512, 10)]
        cases[f"mlp train step ({kind})"] = train_step(mlp, digits, labels, jit)
        cnn = [
            nn.Conv2d(1, 16, 5),
            Tensor.relu,
            lambda t: t.max_pool2d(2),
            nn.Conv2d(16, 32, 5),
            Tensor.relu,
            lambda t: t.max_pool2d(2),
            lambda t: t.flatten(1),
            nn.Linear(512, 10),
        ]
        cases[f"cnn train step ({kind})"] = train_step(cnn, small_images, cnn_labels, jit)
    cases.update(python_costs(lib, data))
    cases["xor tutorial step"] = xor_tutorial(Tensor, nn.Linear, optim, lib)
    # asynchronous devices (OpenCL) only queue the work in realize(): time it until the device is done
    timed = {name: lambda fn=fn: (fn(), lib.synchronize()) for name, fn in cases.items()}
    results = {name: measure(fn, budget, repeats) for name, fn in timed.items() if not only or name in only}
    if "python per lazy op" in results:
        results["python per lazy op"] /= LAZY_OPS
    return results


def conv_gradients(Tensor: Any, data: Callable[..., Any]) -> dict[str, Callable[[], Any]]:
    """The second convolution of "conv2d 3->32->64" differentiated: its weight gradient, then its input gradient."""
    x, w, g = data(32, 32, 30, 30), data(64, 32, 3, 3), data(32, 64, 28, 28)
    weight, inputs = Tensor(w.numpy()), Tensor(x.numpy())  # gradients when asked (tinygrad 0.14 has no requires_grad)

    def weight_grad() -> Any:
        weight.grad = None
        x.conv2d(weight).backward(g)
        return weight.grad.realize()

    def input_grad() -> Any:
        inputs.grad = None
        inputs.conv2d(w).backward(g)
        return inputs.grad.realize()

    return {"conv2d weight grad": weight_grad, "conv2d input grad": input_grad}


def xor_tutorial(Tensor: Any, Linear: Any, optim: Any, lib: SimpleNamespace) -> Callable[[], Any]:
    """One step of the tutorial's XOR loop, written as the tutorial writes it (no TinyJit, no realize). The tutorial
    sets `Tensor.training = True` once and gives Adam the module; `lib.tutorial_training()` and
    `lib.optimizer_params(model)` do that here (tinygrad 0.14 has Context(TRAINING=1) and wants the tensors)."""
    X = Tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    Y = Tensor([[0], [1], [1], [0]])
    model = Linear(2, 1)
    opt = optim.Adam(lib.optimizer_params(model), lr=0.1)

    def step() -> None:
        with lib.tutorial_training():
            pred = model(X).sigmoid()
            loss = ((pred - Y) ** 2).mean()
            loss.backward()
            opt.step()
            opt.zero_grad()

    return step


def python_costs(lib: SimpleNamespace, data: Callable[..., Any]) -> dict[str, Callable[[], Any]]:
    """Python's share, timed per unit ("us"): building one lazy op; one realize of a small graph the schedule cache
    has seen (walk, cache hit, launch); and, where the framework exposes a bound launch, the floor of one kernel."""
    x = data(4, 4)

    def lazy_ops() -> Any:
        y = x
        for _ in range(LAZY_OPS // 2):
            y = (y + 1.0) * 0.5
        return y

    def scheduled_step() -> Any:
        return ((x * 2.0 + 1.0).relu() - x).realize()

    cases: dict[str, Callable[[], Any]] = {"python per scheduled step": scheduled_step}
    cases["python per lazy op"] = lambda: lazy_ops()
    if lib.bound_launch is not None:
        cases["launch floor per kernel"] = lib.bound_launch(x)
    return cases


def torch_workloads(budget: float, repeats: int, only: set[str]) -> dict[str, float]:
    import torch

    torch.manual_seed(0)
    cases: dict[str, Callable[[], Any]] = {}
    a, b, c = (torch.randn(16 * 2**20) for _ in range(3))
    cases["elementwise 16M"] = lambda: torch.exp2(torch.relu(a * b + c) * 2 - a).sum()
    big = torch.randn(4096, 4096)
    cases["row sum 4096x4096"] = lambda: big.sum(1)
    for n in (512, 1024, 2048):
        x, y = torch.randn(n, n), torch.randn(n, n)
        cases[f"matmul {n}"] = lambda x=x, y=y: x @ y
    images = torch.randn(32, 3, 32, 32)
    convs = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3), torch.nn.Conv2d(32, 64, 3))
    small = torch.randn(4, 4)

    def lazy_ops() -> Any:  # eager: each op runs at once; the same 200 ops as tiny_family's
        y = small
        for _ in range(LAZY_OPS // 2):
            y = (y + 1.0) * 0.5
        return y

    with torch.no_grad():
        cases["conv2d 3->32->64"] = lambda: convs(images)
        rows = torch.randn(4096, 1024)
        cases["softmax 4096x1024"] = lambda: rows.softmax(-1)
        cases["log_softmax 4096x1024"] = lambda: rows.log_softmax(-1)
        cases["layernorm 4096x1024"] = lambda: torch.nn.functional.layer_norm(rows, (1024,))
        cases["python per lazy op"] = lazy_ops
        cases["python per scheduled step"] = lambda: (small * 2.0 + 1.0).relu() - small
        results = {name: measure(fn, budget, repeats) for name, fn in cases.items() if not only or name in only}
    if "python per lazy op" in results:
        results["python per lazy op"] /= LAZY_OPS
    x, w, g = torch.randn(32, 32, 30, 30), torch.randn(64, 32, 3, 3), torch.randn(32, 64, 28, 28)
    weight, inputs = w.clone().requires_grad_(), x.clone().requires_grad_()

    def weight_grad() -> Any:
        weight.grad = None
        torch.nn.functional.conv2d(x, weight).backward(g)
        return weight.grad

    def input_grad() -> Any:
        inputs.grad = None
        torch.nn.functional.conv2d(inputs, w).backward(g)
        return inputs.grad

    X, Y = torch.tensor([[0.0, 0], [0, 1], [1, 0], [1, 1]]), torch.tensor([[0.0], [1], [1], [0]])
    xor_model = torch.nn.Linear(2, 1)
    xor_opt = torch.optim.Adam(xor_model.parameters(), lr=0.1)

    def xor_step() -> None:
        pred = xor_model(X).sigmoid()
        loss = ((pred - Y) ** 2).mean()
        loss.backward()
        xor_opt.step()
        xor_opt.zero_grad()

    grads = {"conv2d weight grad": weight_grad, "conv2d input grad": input_grad, "xor tutorial step": xor_step}
    results.update({name: measure(fn, budget, repeats) for name, fn in grads.items() if not only or name in only})

    def train_step(model: torch.nn.Module, inputs: Any, labels: Any) -> Callable[[], Any]:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step() -> Any:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(inputs), labels)
            loss.backward()
            opt.step()
            return loss.item()

        return step

    mlp = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    )
    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(512, 10),
    )
    # PyTorch has no TinyJit: its eager step is the reference for both of our loops
    steps = {
        "mlp train step (plain)": train_step(mlp, torch.randn(128, 784), torch.randint(0, 10, (128,))),
        "cnn train step (plain)": train_step(cnn, torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))),
    }
    results.update({name: measure(fn, budget, repeats) for name, fn in steps.items() if not only or name in only})
    for name in ("mlp", "cnn"):
        if f"{name} train step (plain)" in results:
            results[f"{name} train step (jit)"] = results[f"{name} train step (plain)"]
    return results


def numpy_workloads(budget: float, repeats: int, only: set[str]) -> dict[str, float]:
    rng = np.random.default_rng(0)
    cases: dict[str, Callable[[], Any]] = {}
    a, b, c = (rng.standard_normal(16 * 2**20).astype(np.float32) for _ in range(3))
    cases["elementwise 16M"] = lambda: np.exp2(np.maximum(a * b + c, 0) * 2 - a).sum()
    big = rng.standard_normal((4096, 4096)).astype(np.float32)
    cases["row sum 4096x4096"] = lambda: big.sum(1)
    for n in (512, 1024, 2048):
        x, y = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
        cases[f"matmul {n}"] = lambda x=x, y=y: x @ y
    rows = rng.standard_normal((4096, 1024)).astype(np.float32)

    def softmax() -> Any:
        e = np.exp(rows - rows.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    cases["softmax 4096x1024"] = softmax
    cases["log_softmax 4096x1024"] = lambda: (
        rows - rows.max(-1, keepdims=True) - np.log(np.exp(rows - rows.max(-1, keepdims=True)).sum(-1, keepdims=True))
    )
    cases["layernorm 4096x1024"] = lambda: (
        (rows - rows.mean(-1, keepdims=True)) / np.sqrt(rows.var(-1, keepdims=True) + 1e-5)
    )
    return {name: measure(fn, budget, repeats) for name, fn in cases.items() if not only or name in only}


FIRST_RESULT = {
    "tinygrad-core": "from tinygrad_core import Tensor; (Tensor([1.0, 2.0]) * 2 + 1).numpy()",
    "tinygrad": "from tinygrad import Tensor; (Tensor([1.0, 2.0]) * 2 + 1).numpy()",
    "torch": "import torch; (torch.tensor([1.0, 2.0]) * 2 + 1).numpy()",
    "numpy": "import numpy as np; np.array([1.0, 2.0]) * 2 + 1",
}


def worker(name: str, budget: float, repeats: int, only: set[str]) -> dict[str, float]:
    framework, _, device = name.partition(":")
    if framework == "tinygrad-core":
        import tinygrad_core.nn as nn
        from tinygrad_core import Device, Tensor
        from tinygrad_core.jit import TinyJit
        from tinygrad_core.nn import optim
        from tinygrad_core.nn.state import get_parameters

        Device.DEFAULT = device
        lib = SimpleNamespace(Tensor=Tensor, nn=nn, optim=optim, TinyJit=TinyJit, get_parameters=get_parameters)
        lib.synchronize, lib.train = Device[device].synchronize, Tensor.train

        def bound_launch(x: Any) -> Callable[[], None]:
            """One small elementwise kernel, scheduled and bound once: what a TinyJit replay pays per kernel."""
            from tinygrad_core.schedule import create_schedule

            (item,) = create_schedule([(x + 1.0).lazydata])
            launch = Device[item.device].bind(item.kernel, [buf.handle for buf in item.bufs])
            # the default argument keeps the Buffers alive: freed, their memory could be released under the launch
            return lambda buffers=item.bufs: launch()

        lib.bound_launch = bound_launch
        lib.optimizer_params = lambda model: [model]  # the tutorial's spelling: a module

        @contextlib.contextmanager
        def tutorial_training() -> Iterator[None]:
            Tensor.training = True  # the tutorial's spelling; reset after, for the workloads that follow
            yield
            Tensor.training = False

        lib.tutorial_training = tutorial_training
        return tiny_family(lib, budget, repeats, only)
    if framework == "tinygrad":
        from tinygrad import Context, Device, Tensor, TinyJit, nn
        from tinygrad.helpers import DEV
        from tinygrad.nn import optim
        from tinygrad.nn.state import get_parameters

        DEV.value = device  # tinygrad 0.14 refuses `Device.DEFAULT = ...`
        lib = SimpleNamespace(Tensor=Tensor, nn=nn, optim=optim, TinyJit=TinyJit, get_parameters=get_parameters)
        lib.synchronize = Device[device].synchronize
        lib.train = lambda: Context(TRAINING=1)  # tinygrad 0.14 has no Tensor.train()
        lib.bound_launch = None
        lib.optimizer_params = get_parameters
        lib.tutorial_training = lib.train
        return tiny_family(lib, budget, repeats, only)
    if framework == "torch":
        return torch_workloads(budget, repeats, only)
    return numpy_workloads(budget, repeats, only)


def first_result(framework: str, device: str, python: str = sys.executable) -> float:
    """Seconds from starting a new Python process to its first computed result (warm on-disk caches)."""
    env_device = {"DEV" if framework == "tinygrad" else "DEVICE": device} if device else {}
    # Python's bytecode cache is one of those caches: pip compiled the installed frameworks' modules, ours (an
    # editable install) get theirs on the first run, unless the environment forbids writing them
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for _ in range(2):  # the first run fills compile caches; report the second
        start = time.perf_counter()
        subprocess.run(
            [python, "-c", FIRST_RESULT[framework]],
            check=True,
            env={**env, **env_device},
            capture_output=True,
        )
        elapsed = time.perf_counter() - start
    return elapsed


def our_backends() -> list[str]:
    from tinygrad_core import Device

    return [spec.name for spec in Device.backends() if Device.why_unavailable(spec.name) is None]


def fmt(seconds: float | None, workload: str) -> str:
    if seconds is None:
        return "-"
    unit, work = WORKLOADS.get(workload, ("ms", 0))
    if unit == "us":
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms" if unit == "ms" else f"{work / seconds / 1e9:.1f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--frameworks",
        default="",
        help="comma list, e.g. 'tinygrad-core:CLANG,tinygrad:CPU,torch,numpy' (default: all found)",
    )
    parser.add_argument("--only", default="", help="comma list of workload names to run")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per workload after warm-up")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="FRAMEWORK=PYTHON",
        help="run a framework's worker with another interpreter, e.g. tinygrad=/tmp/tgvenv/bin/python (repeatable)",
    )
    args = parser.parse_args()
    only = {w.strip() for w in args.only.split(",") if w.strip()}
    pythons = dict(item.split("=", 1) for item in args.python)
    if args.worker:
        print(json.dumps(worker(args.worker, args.budget, args.repeats, only)))
        return

    available = our_backends()
    # tinygrad's own OpenCL device beside ours: the same runtime (PoCL on a CPU-only box) on both sides
    theirs = ["tinygrad:CPU", *(["tinygrad:CL"] if "OPENCL" in available else [])]
    frameworks = [f for f in args.frameworks.split(",") if f] or [
        *(f"tinygrad-core:{b}" for b in available),
        *theirs,
        "torch",
        "numpy",
    ]
    results: dict[str, dict[str, float]] = {}
    for framework in frameworks:
        print(f"running {framework} ...", file=sys.stderr)
        name, _, device = framework.partition(":")
        python = pythons.get(name, sys.executable)
        proc = subprocess.run(
            [
                python,
                __file__,
                "--worker",
                framework,
                "--budget",
                str(args.budget),
                "--repeats",
                str(args.repeats),
                "--only",
                args.only,
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
            print(f"  {framework} failed: {reason}", file=sys.stderr)
            continue
        results[framework] = json.loads(proc.stdout.strip().splitlines()[-1])
        if not only or "first result" in only:
            try:
                results[framework]["first result"] = first_result(name, device, python)
            except (subprocess.CalledProcessError, KeyError):
                pass

    ours = [f for f in results if f.startswith("tinygrad-core")]
    others = [f for f in results if not f.startswith("tinygrad-core")]
    workloads = [w for w in [*WORKLOADS, "first result"] if any(w in r for r in results.values())]
    pairs = [(o, t) for o in ours for t in others]
    labels = [*results, *(f"{o.partition(':')[2]} vs {t}" for o, t in pairs)]
    widths = [max(len(label) + 2, 14) for label in labels]
    print(f"{'workload':26s}" + "".join(f"{label:>{w}s}" for label, w in zip(labels, widths)))
    for workload in workloads:
        cells = [fmt(results[f].get(workload), workload) for f in results]
        for o, t in pairs:
            mine, theirs = results[o].get(workload), results[t].get(workload)
            cells.append(f"{theirs / mine:.2f}x" if mine and theirs else "-")
        print(f"{workload:26s}" + "".join(f"{cell:>{w}s}" for cell, w in zip(cells, widths)))
    print("ratios: the other framework's time / ours (above 1.00x: tinygrad-core is faster)")


if __name__ == "__main__":
    main()
