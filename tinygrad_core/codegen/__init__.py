"""Code generation for compiled backends: Kernel -> canonical loop space -> plan (opt.py) -> linear program
(lower.py) -> source (cstyle.py) -> binary (compiler.py, cached on disk) -> Program (device.py). A compiled backend
subclasses the three classes exported here."""

from tinygrad_core.codegen.compiler import Compiler
from tinygrad_core.codegen.device import CompiledDevice, Program

__all__ = ["CompiledDevice", "Compiler", "Program"]
