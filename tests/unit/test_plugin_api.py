"""The plugin API is versioned: the contract a backend compiles against can't change without PLUGIN_API changing.

CONTRACT records, per PLUGIN_API, what a backend sees: the op set and its groups, the kernel IR's fields, the hook
specs, BackendSpec, the methods and capability attributes of runtime.Allocator and runtime.Device, the Capabilities
record, and the surface compiled backends build on (codegen's Compiler, Program and CompiledDevice). Change any of
them and this test fails until PLUGIN_API is bumped (major: old backends break; minor: an addition they may ignore),
the conformance kit covers the change, and a new entry is added here.
"""

from __future__ import annotations

import dataclasses
import inspect

from tinygrad_core import codegen, devices, hookspecs, kernel, ops, runtime
from tinygrad_core.codegen import cstyle

CONTRACT = {
    (1, 0): """
ops EXP2 LOG2 SIN SQRT RECIP NEG TRUNC CAST BITCAST ADD MUL IDIV
ops MOD MAX CMPLT CMPNE AND OR XOR SHL SHR WHERE MULACC SUM
ops RESHAPE PERMUTE EXPAND PAD SHRINK FLIP CONST EMPTY COPY CONTIGUOUS ASSIGN LOAD
ops STORE REDUCE
UNARY BITCAST CAST EXP2 LOG2 NEG RECIP SIN SQRT TRUNC
BINARY ADD AND CMPLT CMPNE IDIV MAX MOD MUL OR SHL SHR XOR
TERNARY MULACC WHERE
REDUCE_OPS MAX SUM
MOVEMENT EXPAND FLIP PAD PERMUTE RESHAPE SHRINK
BUFFER_OPS ASSIGN CONST CONTIGUOUS COPY EMPTY
KNode op dtype src arg
Kernel ast bufs
BufferSpec dtype size
BackendSpec name device aliases api_version priority availability device_count pip distribution version
hook register_backend() -> BackendSpec | list[BackendSpec] | None
Allocator.alloc(self, nbytes: int) -> Any
Allocator.copyin(self, handle: Any, src: memoryview) -> None
Allocator.copyout(self, dest: memoryview, handle: Any) -> None
Allocator.free(self, handle: Any, nbytes: int) -> None
Device.__init__(self, name: str)
Device.make_allocator(self) -> Allocator
Device.run(self, kernel: Kernel, handles: list[Any]) -> None
Device.synchronize(self) -> None
Device capabilities dtypes missing_dtype_reason max_buffer_size known_failures
""",
}
# each version is the one before plus what it adds (the comparison ignores line order)
# 1.1: Device.bind, a launch prepared once for TinyJit to replay; the default calls run()
CONTRACT[(1, 1)] = CONTRACT[(1, 0)] + "Device.bind(self, kernel: Kernel, handles: list[Any]) -> Callable[[], None]\n"
# 2.0: MULACC left the op set (nothing produced it); compiled backends import Compiler, Program and CompiledDevice
# from tinygrad_core.codegen (runtime.py is the contract only), CompileError from tinygrad_core.errors; a device
# declares what codegen may assume in a typed Capabilities record instead of loose attributes
CONTRACT[(2, 0)] = """
ops EXP2 LOG2 SIN SQRT RECIP NEG TRUNC CAST BITCAST ADD MUL IDIV
ops MOD MAX CMPLT CMPNE AND OR XOR SHL SHR WHERE SUM RESHAPE
ops PERMUTE EXPAND PAD SHRINK FLIP CONST EMPTY COPY CONTIGUOUS ASSIGN LOAD STORE
ops REDUCE
UNARY BITCAST CAST EXP2 LOG2 NEG RECIP SIN SQRT TRUNC
BINARY ADD AND CMPLT CMPNE IDIV MAX MOD MUL OR SHL SHR XOR
TERNARY WHERE
REDUCE_OPS MAX SUM
MOVEMENT EXPAND FLIP PAD PERMUTE RESHAPE SHRINK
BUFFER_OPS ASSIGN CONST CONTIGUOUS COPY EMPTY
KNode op dtype src arg
Kernel ast bufs
BufferSpec dtype size
BackendSpec name device aliases api_version priority availability device_count pip distribution version
hook register_backend() -> BackendSpec | list[BackendSpec] | None
Allocator.alloc(self, nbytes: int) -> Any
Allocator.free(self, handle: Any, nbytes: int) -> None
Allocator.copyin(self, handle: Any, src: memoryview) -> None
Allocator.copyout(self, dest: memoryview, handle: Any) -> None
Device.__init__(self, name: str)
Device.make_allocator(self) -> Allocator
Device.run(self, kernel: Kernel, handles: list[Any]) -> None
Device.bind(self, kernel: Kernel, handles: list[Any]) -> Callable[[], None]
Device.synchronize(self) -> None
Device capabilities dtypes missing_dtype_reason max_buffer_size known_failures
Device.capabilities -> Capabilities
Capabilities vector_bytes threads group_reductions
Compiler.compile(self, src: str) -> bytes
Compiler.cache_path(self, src: str) -> Path
Compiler.compile_cached(self, src: str) -> bytes
Compiler attributes identity
Program.__init__(self, name: str, binary: bytes)
Program.__call__(self, handles: list[Any], global_size: int, work: int = 0) -> None
Program.bind(self, handles: list[Any], global_size: int, work: int = 0) -> Callable[[], None]
Program attributes local_size
CompiledDevice.__init__(self, name: str)
CompiledDevice.make_program(self, name: str, binary: bytes) -> Program
CompiledDevice.run(self, kernel: Kernel, handles: list[Any]) -> None
CompiledDevice.bind(self, kernel: Kernel, handles: list[Any]) -> Callable[[], None]
CompiledDevice.prepare(self, kernel: Kernel, aliased: bool = False) -> CompiledKernel
CompiledDevice attributes compiler renderer
CStyleRenderer attributes alu_templates barrier buffer_qualifier buffer_suffix cast device
CStyleRenderer attributes extra_params float_suffix gep global_index global_loop group_params
CStyleRenderer attributes half_math_in_float index_builtins infinity int_suffix kernel_name kernel_qualifier
CStyleRenderer attributes local_align local_qualifier math_functions math_suffix nan prelude
CStyleRenderer attributes private_space restrict shared_qualifier type_names vector_bitcast vector_convert
CStyleRenderer attributes vector_dtypes vector_functions vector_literal vector_load vector_names vector_store
CStyleRenderer attributes vector_typedefs
CStyleRenderer alu_templates ADD AND BITCAST CAST CMPLT CMPNE EXP2 IDIV LOG2 MAX MOD MUL
CStyleRenderer alu_templates NEG OR RECIP SHL SHR SIN SQRT TRUNC WHERE XOR
"""
# 2.1: row kernels (kernel.py): several REDUCEs over the same axes and a STORE that may write the full shape; a
# backend declaring 2.0 never receives one
# Compiler.recompile: a cached binary that fails to load is rebuilt once
CONTRACT[(2, 1)] = (
    CONTRACT[(2, 0)] + "Kernel reading reduce reduces writes_rows\nCompiler.recompile(self, src: str) -> bytes\n"
)
# 2.2: Allocator.host_view, the buffer's memory seen from the host (zero-copy DLPack export); the default is None
CONTRACT[(2, 2)] = CONTRACT[(2, 1)] + "Allocator.host_view(self, handle: Any, nbytes: int) -> memoryview | None\n"
METHODS = (
    "__init__",
    "alloc",
    "free",
    "copyin",
    "copyout",
    "host_view",
    "make_allocator",
    "run",
    "bind",
    "synchronize",
)
CAPABILITIES = ("dtypes", "missing_dtype_reason", "max_buffer_size", "known_failures")


def describe() -> str:
    """The contract as it is in this checkout, one line per item (string annotations, as written)."""
    names = [op.name for op in ops.Ops]  # in order: a backend may rely on their values
    lines = ["ops " + " ".join(names[i : i + 12]) for i in range(0, len(names), 12)]
    for group in ("UNARY", "BINARY", "TERNARY", "REDUCE_OPS", "MOVEMENT", "BUFFER_OPS"):
        lines.append(f"{group} " + " ".join(sorted(op.name for op in getattr(ops, group))))
    for cls in (kernel.KNode, kernel.Kernel, kernel.BufferSpec, devices.BackendSpec):
        lines.append(f"{cls.__name__} " + " ".join(field.name for field in dataclasses.fields(cls)))
    if hasattr(kernel.Kernel, "writes_rows"):  # what a backend reads to know which kind of kernel it got
        lines.append(
            "Kernel reading " + " ".join(n for n in ("reduce", "reduces", "writes_rows") if hasattr(kernel.Kernel, n))
        )
    lines.append(f"hook register_backend{inspect.signature(hookspecs.register_backend)}".replace("'", ""))
    for cls in (runtime.Allocator, runtime.Device):
        for name in METHODS:
            if name in vars(cls):
                lines.append(f"{cls.__name__}.{name}{inspect.signature(vars(cls)[name])}".replace("'", ""))
    declared = [name for name in CAPABILITIES if hasattr(runtime.Device, name)]
    lines.append("Device capabilities " + " ".join(declared))
    if "capabilities" in vars(runtime.Device):
        lines.append("Device.capabilities -> Capabilities")
        lines.append("Capabilities " + " ".join(field.name for field in dataclasses.fields(runtime.Capabilities)))
    compiled = (codegen.Compiler, codegen.Program, codegen.CompiledDevice)
    for cls in compiled if hasattr(codegen, "CompiledDevice") else ():
        for name, member in vars(cls).items():
            if callable(member) and (not name.startswith("_") or name in ("__init__", "__call__")):
                lines.append(f"{cls.__name__}.{name}{inspect.signature(member)}".replace("'", ""))
        attributes = sorted(name for name in vars(cls).get("__annotations__", {}) if not name.startswith("_"))
        lines.append(f"{cls.__name__} attributes " + " ".join(attributes))
    if hasattr(codegen, "CompiledDevice"):  # the renderer's override points: what a dialect may set
        renderer = cstyle.CStyleRenderer
        names = sorted(name for name in vars(renderer).get("__annotations__", {}) if not name.startswith("_"))
        lines += ["CStyleRenderer attributes " + " ".join(names[i : i + 6]) for i in range(0, len(names), 6)]
        ops_spelled = sorted(op.name for op in renderer.alu_templates)
        lines += [
            "CStyleRenderer alu_templates " + " ".join(ops_spelled[i : i + 12]) for i in range(0, len(ops_spelled), 12)
        ]
    return "\n".join(lines)


def test_contract_matches_plugin_api() -> None:
    assert ops.PLUGIN_API in CONTRACT, f"PLUGIN_API {ops.PLUGIN_API} has no CONTRACT entry: add one from describe()"
    expected, actual = CONTRACT[ops.PLUGIN_API].strip().splitlines(), describe().splitlines()
    changed = [line for line in actual if line not in expected] + [
        f"(gone) {line}" for line in expected if line not in actual
    ]
    assert not changed, (
        f"the plugin API changed without a new PLUGIN_API (still {ops.PLUGIN_API}): {changed}; bump it in ops.py "
        "(major if old backends break, minor for an addition they may ignore), extend the conformance kit, and record "
        "describe()'s output here"
    )


def test_versions_only_grow() -> None:
    assert max(CONTRACT) == ops.PLUGIN_API, "PLUGIN_API went backwards"
