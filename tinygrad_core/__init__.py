"""tinygrad-core: Tensor, dtypes, Device and the names tinygrad users import from `tinygrad`. Loads no backend."""

from tinygrad_core.devices import Device
from tinygrad_core.dtype import dtypes
from tinygrad_core.flags import Context
from tinygrad_core.helpers import GlobalCounters, getenv
from tinygrad_core.hookspecs import hookimpl
from tinygrad_core.jit import TinyJit
from tinygrad_core.tensor import Tensor, no_grad

__version__ = "0.1.0"
__all__ = ["Context", "Device", "GlobalCounters", "Tensor", "TinyJit", "dtypes", "getenv", "hookimpl", "no_grad"]
