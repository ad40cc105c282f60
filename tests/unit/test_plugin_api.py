"""The plugin API is versioned: the contract a backend compiles against can't change without PLUGIN_API changing.

CONTRACT records, per PLUGIN_API, what a backend sees: the op set and its groups, the kernel IR's fields, the hook
specs, BackendSpec, and the methods and capability attributes of runtime.Allocator and runtime.Device. Change any of
them and this test fails until PLUGIN_API is bumped (major: old backends break; minor: an addition they may ignore),
the conformance kit covers the change, and a new entry is added here.
"""

from __future__ import annotations

import dataclasses
import inspect

from tinygrad_core import devices, hookspecs, kernel, ops, runtime

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
CAPABILITIES = ("dtypes", "missing_dtype_reason", "max_buffer_size", "known_failures")


def describe() -> str:
    """The contract as it is in this checkout, one line per item (string annotations, as written)."""
    names = [op.name for op in ops.Ops]  # in order: a backend may rely on their values
    lines = ["ops " + " ".join(names[i : i + 12]) for i in range(0, len(names), 12)]
    for group in ("UNARY", "BINARY", "TERNARY", "REDUCE_OPS", "MOVEMENT", "BUFFER_OPS"):
        lines.append(f"{group} " + " ".join(sorted(op.name for op in getattr(ops, group))))
    for cls in (kernel.KNode, kernel.Kernel, kernel.BufferSpec, devices.BackendSpec):
        lines.append(f"{cls.__name__} " + " ".join(field.name for field in dataclasses.fields(cls)))
    lines.append(f"hook register_backend{inspect.signature(hookspecs.register_backend)}".replace("'", ""))
    for cls in (runtime.Allocator, runtime.Device):
        for name in ("__init__", "alloc", "free", "copyin", "copyout", "make_allocator", "run", "bind", "synchronize"):
            if name in vars(cls):
                lines.append(f"{cls.__name__}.{name}{inspect.signature(vars(cls)[name])}".replace("'", ""))
    declared = [name for name in CAPABILITIES if hasattr(runtime.Device, name)]
    lines.append("Device capabilities " + " ".join(declared))
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
