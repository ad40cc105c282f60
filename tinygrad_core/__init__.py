"""tinygrad-core: Tensor, dtypes and Device. Importing it loads no backend."""

from tinygrad_core.devices import Device
from tinygrad_core.dtype import dtypes
from tinygrad_core.errors import install_excepthook
from tinygrad_core.hookspecs import hookimpl
from tinygrad_core.tensor import Tensor, no_grad

__version__ = "0.1.0"
__all__ = ["Device", "Tensor", "dtypes", "hookimpl", "no_grad"]

install_excepthook()
