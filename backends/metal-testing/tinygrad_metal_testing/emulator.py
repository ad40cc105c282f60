"""CPU emulation of the Metal Shading Language our renderer emits: MSL -> C++ (msl_shim.h) -> clang++ -> cffi.

    t = translate(msl)                            # C++ source, the kernel's name, each parameter's role
    binary = EmulatorCompiler().compile_cached(msl)   # a shared library, cached on disk by the MSL's hash
    EmulatedProgram(t.name, binary, t.uses_barrier).dispatch([(out, out.nbytes), (x, x.nbytes)], (n, 1, 1), (32, 1, 1))

What no header can do is rewritten here: the kernel's signature (its `[[buffer(n)]]` and `[[thread_position_...]]`
attributes are read to know what each argument is, then dropped), `threadgroup` declarations (one file-scope array
shared by the lanes of the group being run, filled with 0xff bytes, NaN or -1, before each group, as Metal promises
nothing about it), and vector constructors (`float4(...)` -> `mtl_make<float4>(...)`). Buffers are passed as
bounds-checked views, so an out-of-range index fails the launch instead of reading stray memory.

This proves what our MSL computes, with the lanes and barriers Metal would run it with. It can't prove that Apple's
compiler accepts the text: lint.py checks what we know it rejects, and the real-device tests run on a Mac.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinygrad_core.codegen import Compiler
from tinygrad_core.errors import CompileError, DeviceError

HERE = Path(__file__).parent
SHIM = HERE / "msl_shim.h"
DISPATCH = HERE / "mtl_dispatch.cpp"
# clang 14 and older don't round _Float16 arithmetic per operation; 15 does, as Apple GPUs do for half.
COMPILERS = ("clang++-15", "clang++-16", "clang++-17", "clang++-18", "clang++-19", "clang++")
FLAGS = ("-std=c++17", "-O1", "-fPIC", "-shared", "-nostdlib", "-ffp-contract=off", "-fno-exceptions", "-fno-rtti")
# implicit narrowing made an error (lint.py): vector <-> vector, in braces, float -> half, 64 -> 32 bit integers
NARROWING = (
    "-Wno-everything",
    "-flax-vector-conversions=none",
    "-Werror=c++11-narrowing",
    "-Werror=implicit-float-conversion",
    "-Werror=shorten-64-to-32",
    "-ferror-limit=8",
)

# the built-in arguments a kernel may ask for, and where mtl_dispatch.cpp puts each in a lane's ids
ATTRIBUTES = {
    "thread_position_in_grid": 0,
    "threadgroup_position_in_grid": 3,
    "thread_position_in_threadgroup": 6,
    "threads_per_threadgroup": 9,
    "threadgroups_per_grid": 12,
    "threads_per_grid": 15,
    "thread_index_in_threadgroup": 18,
}
ADDRESS_SPACES = ("device", "constant", "threadgroup", "thread")
_VECTOR_CTOR = re.compile(r"\b((?:packed_)?(?:float|half|u?int|u?short|u?char|u?long)[234])\(")
_KERNEL = re.compile(r"\bkernel\s+void\s+(\w+)\s*\(")
_THREADGROUP_ARRAY = re.compile(r"^[ \t]*threadgroup\s+([^;\[]+?)\s+(\w+)\s*\[(\d+)\][^;\n]*;[ \t]*\n?", re.M)


class EmulationError(DeviceError):
    """The emulated kernel did something Metal leaves undefined (an out-of-bounds access, barrier divergence)."""


@dataclass(frozen=True)
class Param:
    name: str
    ctype: str  # the C++ type of the argument as the kernel declares it, address spaces dropped
    buffer: int | None = None  # [[buffer(n)]]
    attribute: str | None = None  # [[thread_position_in_grid]] and friends

    @property
    def element(self) -> str:
        return self.ctype.rstrip("* ").strip()


@dataclass(frozen=True)
class Translation:
    name: str
    params: tuple[Param, ...]
    cpp: str
    uses_barrier: bool


# --- MSL -> C++ ---
def _split_params(text: str) -> list[str]:
    params, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([<"
        depth -= ch in ")]>"
        if ch == "," and depth == 0:
            params.append(text[start:i])
            start = i + 1
    params.append(text[start:])
    return [p.strip() for p in params if p.strip()]


def _matching(text: str, open_at: int) -> int:
    """Index of the bracket closing the one at `open_at`."""
    pairs = {"(": ")", "{": "}"}
    opener, depth = text[open_at], 0
    for i in range(open_at, len(text)):
        depth += text[i] == opener
        depth -= text[i] == pairs[opener]
        if depth == 0:
            return i
    raise ValueError(f"unbalanced {opener!r} at offset {open_at}")


def parse_param(text: str) -> Param:
    attrs = re.findall(r"\[\[\s*(.*?)\s*\]\]", text)
    decl = re.sub(r"\[\[.*?\]\]", "", text).strip()
    match = re.fullmatch(r"(.*?[\s*&])(\w+)", decl)
    if match is None:
        raise CompileError(f"can't read the kernel parameter {text!r}")
    words = [w for w in re.findall(r"\w+|\*", match.group(1)) if w not in ADDRESS_SPACES]
    ctype = " ".join(words).replace(" *", "*")
    buffer = attribute = None
    for attr in attrs:
        found = re.fullmatch(r"buffer\((\d+)\)", attr)
        if found:
            buffer = int(found.group(1))
        elif attr in ATTRIBUTES:
            attribute = attr
        else:
            raise CompileError(f"the emulator doesn't know the attribute [[{attr}]] of parameter {text!r}")
    if (buffer is None) == (attribute is None):
        raise CompileError(f"kernel parameter {text!r} needs exactly one [[buffer(n)]] or position attribute")
    if buffer is not None and "*" not in ctype:
        raise CompileError(f"buffer parameter {text!r} must be a pointer")
    return Param(match.group(2), ctype, buffer, attribute)


def _glue_arg(param: Param) -> str:
    if param.buffer is not None:
        elem = param.element
        count = f"mtl_sizes[{param.buffer}] / (long)sizeof({elem})"
        return f'mtl_buffer<{elem}>{{({elem}*)mtl_bufs[{param.buffer}], {count}, "{param.name}"}}'
    slot = ATTRIBUTES[param.attribute or ""]
    lanes = int(param.ctype[-1]) if param.ctype[-1] in "234" else 1
    if lanes == 1:
        return f"({param.ctype})mtl_ids[{slot}]"
    return f"{param.ctype}{{{', '.join(f'mtl_ids[{slot + i}]' for i in range(lanes))}}}"


def _rewrite(text: str) -> str:
    text = _VECTOR_CTOR.sub(r"mtl_make<\1>(", text)
    return re.sub(r"\bthreadgroup\b", "", text)  # what is left: address spaces in casts and pointer types


def translate(msl: str) -> Translation:
    """The C++ that runs `msl`'s one kernel, plus the entry points mtl_dispatch.cpp and Python call."""
    kernels = list(_KERNEL.finditer(msl))
    if len(kernels) != 1:
        raise CompileError(f"expected exactly one `kernel void name(...)` in the source, found {len(kernels)}")
    found = kernels[0]
    name = found.group(1)
    close = _matching(msl, found.end() - 1)
    params = tuple(parse_param(p) for p in _split_params(msl[found.end() : close]))
    head, body = msl[: found.start()], msl[close + 1 :]
    head = "\n".join(line for line in head.splitlines() if not line.lstrip().startswith("#include"))
    # a threadgroup array is one array shared by every lane of the group: at file scope, since groups run one by one
    shared = _THREADGROUP_ARRAY.findall(body)
    body = _THREADGROUP_ARRAY.sub("", body)
    head, body = _rewrite(head), _rewrite(body)
    arrays = [f"static {ctype} {array}[{size}];" for ctype, array, size in shared]
    poison = [f"  __builtin_memset({array}, 0xff, sizeof {array});" for _, array, _ in shared]
    signature = ", ".join(
        f"mtl_buffer<{p.element}> {p.name}" if p.buffer is not None else f"{p.ctype} {p.name}" for p in params
    )
    glue = ", ".join(_glue_arg(p) for p in params)
    cpp = "\n".join(
        [
            "// generated by tinygrad_metal_testing.emulator from MSL; see msl_shim.h",
            head.strip(),
            *arrays,
            f"static void {name}({signature}){body}",
            'extern "C" void mtl_lane(void **mtl_bufs, const long *mtl_sizes, const unsigned *mtl_ids,',
            "                         mtl_barrier_fn barrier) {",
            "  mtl_barrier_hook = barrier;",
            f"  {name}({glue});",
            "}",
            'extern "C" void mtl_group_start(void) {',
            *poison,
            "}",
            'extern "C" const char *mtl_error(int *count) {',
            "  *count = mtl_error_count;",
            "  mtl_error_count = 0;",
            "  return mtl_error_text;",
            "}",
            "",
        ]
    )
    return Translation(name, params, cpp, "threadgroup_barrier" in body)


# --- C++ -> shared library ---
@functools.cache
def find_compiler() -> str | None:
    """clang++ 15 or newer (its _Float16 arithmetic rounds each operation), or None."""
    for name in COMPILERS:
        path = shutil.which(name)
        if path is None:
            continue
        version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
        found = re.search(r"clang version (\d+)", version)
        if found and int(found.group(1)) >= 15:
            return path
    return None


def why_no_emulator() -> str | None:
    if find_compiler() is None:
        return "the MSL emulator needs clang++ 15 or newer (Debian: apt-get install clang-15)"
    try:
        import cffi  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return "the MSL emulator needs cffi (pip install cffi)"
    return None


def _build(cpp: str, what: str) -> bytes:
    compiler = find_compiler()
    if compiler is None:
        raise CompileError(why_no_emulator() or "no clang++")
    with tempfile.TemporaryDirectory(prefix="tinygrad_metal_emu_") as tmp:
        out = Path(tmp) / "out.so"
        # half <-> float conversions come from libgcc: named after the source, since libraries resolve left to right
        cmd = [
            compiler,
            *FLAGS,
            *NARROWING,
            "-include",
            str(SHIM),
            "-x",
            "c++",
            "-",
            "-x",
            "none",
            "-lgcc",
            "-o",
            str(out),
        ]
        result = subprocess.run(cmd, input=cpp, capture_output=True, text=True)
        if result.returncode != 0:
            listing = "\n".join(f"{i + 1:4} {line}" for i, line in enumerate(cpp.splitlines()))
            raise CompileError(f"clang++ could not build the emulation of {what}:\n{result.stderr.strip()}\n{listing}")
        return out.read_bytes()


@functools.cache
def _identity() -> str:
    compiler = find_compiler() or "none"
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    # the shim, the dispatcher, this translator and the lint (device.py lints before it compiles) are in the key
    parts = [SHIM.read_bytes(), DISPATCH.read_bytes(), Path(__file__).read_bytes(), (HERE / "lint.py").read_bytes()]
    digest = hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]
    return f"{version} {' '.join(FLAGS + NARROWING)} emulator={digest}"


class EmulatorCompiler(Compiler):
    """MSL -> a shared library that runs it on the CPU. Cached on disk by the base class, keyed by the MSL, the clang
    version and a hash of the shim, the dispatcher and this file."""

    def __init__(self) -> None:
        self.identity = _identity()

    def compile(self, src: str) -> bytes:
        translation = translate(src)
        return _build(translation.cpp, f"kernel {translation.name}")


# --- loading and running ---
_CDEF = """
typedef void (*mtl_barrier_fn)(int line);
typedef void (*mtl_lane_fn)(void **bufs, const long *sizes, const unsigned *ids, mtl_barrier_fn barrier);
typedef void (*mtl_group_fn)(void);
void mtl_lane(void **bufs, const long *sizes, const unsigned *ids, mtl_barrier_fn barrier);
void mtl_group_start(void);
const char *mtl_error(int *count);
int mtl_dispatch(mtl_lane_fn fn, mtl_group_fn group_start, void **bufs, const long *sizes, const unsigned *threads,
                 const unsigned *group, int fibers, char *err, int errlen);
"""


@functools.cache
def _ffi() -> Any:
    import cffi  # type: ignore[import-untyped]

    ffi = cffi.FFI()
    ffi.cdef(_CDEF)
    return ffi


@functools.cache
def _libdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="tinygrad_metal_emu_"))
    import atexit

    atexit.register(shutil.rmtree, path, True)
    return path


def _load(binary: bytes) -> Any:
    path = _libdir() / f"{hashlib.sha256(binary).hexdigest()[:24]}.so"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(binary)
        os.replace(tmp, path)
    return _ffi().dlopen(str(path))


@functools.cache
def _dispatcher() -> Any:
    class _DispatchCompiler(EmulatorCompiler):
        def compile(self, src: str) -> bytes:
            return _build(src, "the dispatcher")

    return _load(_DispatchCompiler().compile_cached(DISPATCH.read_text()))


class EmulatedProgram:
    """One emulated kernel. `dispatch` runs it like Metal's dispatchThreads(threads, threadsPerThreadgroup=group)."""

    def __init__(self, name: str, binary: bytes, uses_barrier: bool):
        self.name, self.binary, self.uses_barrier = name, binary, uses_barrier
        self.lib = _load(binary)

    def dispatch(self, bufs: Sequence[Any], threads: Sequence[int], group: Sequence[int]) -> None:
        """bufs[i] is a cffi pointer (or anything ffi.from_buffer takes) and its size in bytes, for [[buffer(i)]]."""
        ffi = _ffi()
        pointers = ffi.new("void *[]", max(len(bufs), 1))
        sizes = ffi.new("long []", max(len(bufs), 1))
        keep = []
        for i, (data, nbytes) in enumerate(bufs):
            pointer = data if isinstance(data, ffi.CData) else ffi.from_buffer(data)
            keep.append(pointer)
            pointers[i], sizes[i] = ffi.cast("void *", pointer), nbytes
        err = ffi.new("char[]", 512)
        dims = [*threads, 1, 1][:3], [*group, 1, 1][:3]
        lib = self.lib
        rc = _dispatcher().mtl_dispatch(
            lib.mtl_lane, lib.mtl_group_start, pointers, sizes, *dims, int(self.uses_barrier), err, 512
        )
        count = ffi.new("int *")
        first = ffi.string(self.lib.mtl_error(count)).decode()
        if rc != 0:
            raise EmulationError(f"emulated {self.name}: {ffi.string(err).decode()}")
        if count[0]:
            raise EmulationError(f"emulated {self.name}: {count[0]} out-of-bounds accesses; the first: {first}")
