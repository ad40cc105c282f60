"""Entry point of tinygrad-torch: describes the backend to the core. Cheap to import: torch loads on first use."""

import importlib.util
import os

from tinygrad_core import hookimpl
from tinygrad_core.devices import BackendSpec


@hookimpl
def register_backend() -> BackendSpec:
    return BackendSpec(
        name="TORCH",
        aliases=("CUDA",) if cuda_visible() else (),  # DEVICE=CUDA / "cuda:1" then mean TORCH on that GPU
        api_version=(2, 2),
        priority=5,  # below CPU: select it with DEVICE=TORCH or device="TORCH:1" (-> cuda:1)
        availability="tinygrad_torch.plugin:why_unavailable",
        device="tinygrad_torch.runtime:TorchDevice",
        device_count="tinygrad_torch.plugin:device_count",
        pip="pip install tinygrad-torch",
    )


def cuda_visible() -> bool:
    """Whether PyTorch will see a GPU, judged without importing it (a second): a CUDA build of torch, and an NVIDIA
    driver on this machine. The driver is checked first: it is one stat, finding torch is milliseconds on every
    process's registry load."""
    if not os.path.exists("/proc/driver/nvidia/version"):
        return False
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    version = os.path.join(os.path.dirname(spec.origin), "version.py")
    if not os.path.exists(version):
        return False
    with open(version) as f:
        return "cuda: Optional[str] = None" not in f.read()


def why_unavailable() -> str | None:
    try:
        import torch  # noqa: F401
    except ImportError as e:
        return f"PyTorch can't be imported ({e}); pip install torch"
    return None


def device_count() -> int:
    """One TORCH device per CUDA device PyTorch sees; without CUDA, TORCH is the CPU and TORCH:1 does not exist."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 1
