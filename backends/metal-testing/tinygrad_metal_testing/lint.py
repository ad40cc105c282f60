"""A lint for generated MSL: what Apple's compiler rejects but the C++ emulator would accept.

The emulator runs our MSL as C++, which is more permissive than Metal in a few ways; `problems(src)` names each:

- no `double` (Metal has none), no unsuffixed floating literal (a double in C++), no `long long`;
- no C spellings that mean nothing in MSL (`_Bool`, `_Float16`, `union`, `restrict`, `__attribute__`, `#include`
  other than <metal_stdlib>);
- vector types of 2, 3 or 4 lanes only (MSL has no float8);
- every pointer, in the kernel's parameters and in casts, has an address space (device, constant, threadgroup,
  thread), and a cast keeps the address space of what it points into (a thread array is not device memory);
- every kernel parameter has exactly one [[buffer(n)]] or position attribute; buffer indices are distinct and below 31
  (Metal's argument table size); threadgroup arrays have a constant size and no initializer.

Implicit narrowing is checked by clang on the translated source, since it needs types: emulator.NARROWING turns
implicit conversions between vector types, narrowing in braces, float -> half and 64 -> 32 bit integers into
errors, for every kernel the emulator builds (Metal rejects the first two and warns about the others; we want all of
them explicit).
"""

from __future__ import annotations

import re

from tinygrad_core.errors import CompileError

ADDRESS_SPACES = ("device", "constant", "threadgroup", "thread")
MAX_BUFFERS = 31
_POSITION = (
    "thread_position_in_grid",
    "threadgroup_position_in_grid",
    "thread_position_in_threadgroup",
    "threads_per_threadgroup",
    "threadgroups_per_grid",
    "threads_per_grid",
    "thread_index_in_threadgroup",
)
_SCALARS = r"(?:float|half|bool|char|uchar|short|ushort|int|uint|long|ulong)"
_C_ONLY = {
    r"\bdouble\b": "Metal has no double",
    r"\blong\s+long\b": "MSL has no `long long` (its long is 64 bits)",
    r"\b_Bool\b": "`_Bool` is C; MSL spells it bool",
    r"\b_Float16\b": "`_Float16` is C; MSL spells it half",
    r"\bunion\b": "MSL has no unions; bitcasts are as_type<T>(x)",
    r"\b(?:__)?restrict\b": "MSL has no restrict qualifier",
    r"__attribute__": "`__attribute__` is GNU C",
    r"__builtin_": "clang builtins are not MSL",
}
# a floating literal without f/h suffix: 1.5, 2., 1e3, .5 (but not 1.5f, 0x1p3f, or digits inside names)
_DOUBLE_LITERAL = re.compile(r"(?<![\w.])(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][+-]?\d+)?(?![\w.])")
_CAST_POINTER = re.compile(r"\(\s*((?:const\s+)?(?:\w+\s+)*?\w+)\s*\*\s*\)(?:\s*\(\s*(\w+))?")
_KERNEL = re.compile(r"\bkernel\s+void\s+\w+\s*\(")


class LintError(CompileError):
    """Generated MSL that Apple's compiler would reject (found without a Mac)."""


def _strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def _kernel_params(src: str) -> list[str]:
    found = _KERNEL.search(src)
    if found is None:
        return []
    depth, start, params = 1, found.end(), []
    for i in range(found.end(), len(src)):
        depth += src[i] in "(["
        depth -= src[i] in ")]"
        if depth == 1 and src[i] == ",":
            params.append(src[start:i].strip())
            start = i + 1
        if depth == 0:
            params.append(src[start:i].strip())
            break
    return [p for p in params if p]


def problems(src: str) -> list[str]:
    """Every problem found in `src`, one line each; [] when it passes."""
    text = _strip_comments(src)
    found: list[str] = []
    for pattern, why in _C_ONLY.items():
        if re.search(pattern, text):
            found.append(why)
    for line in text.splitlines():
        if line.lstrip().startswith("#include") and "<metal_stdlib>" not in line:
            found.append(f"only <metal_stdlib> can be included: {line.strip()}")
    for literal in sorted(set(_DOUBLE_LITERAL.findall(text))):
        found.append(f"floating literal {literal} has no f suffix: it would be a double")
    for name, lanes in sorted(set(re.findall(rf"\b(?:packed_)?({_SCALARS})(\d+)\b", text))):
        if lanes not in ("2", "3", "4"):
            found.append(f"{name}{lanes}: MSL vectors have 2, 3 or 4 lanes")
    if len(_KERNEL.findall(text)) != 1:
        found.append(f"expected exactly one kernel function, found {len(_KERNEL.findall(text))}")
    buffers: list[int] = []
    spaces: dict[str, str] = {}  # pointer or array name -> its address space
    for decl in re.findall(r"^\s*(?:threadgroup\s+)?\w+\s+(\w+)\[", text, flags=re.M):
        spaces[decl] = "thread"
    for decl in re.findall(r"^\s*threadgroup\s+\w+\s+(\w+)\[", text, flags=re.M):
        spaces[decl] = "threadgroup"
    for param in _kernel_params(text):
        attrs = re.findall(r"\[\[\s*(.*?)\s*\]\]", param)
        decl = re.sub(r"\[\[.*?\]\]", "", param)
        words = re.findall(r"\w+", decl)
        if "*" in decl and not set(words) & set(ADDRESS_SPACES):
            found.append(f"pointer parameter without an address space: {param}")
        elif "*" in decl:
            spaces[words[-1]] = next(w for w in words if w in ADDRESS_SPACES)
        if len(attrs) != 1:
            found.append(f"kernel parameter needs exactly one attribute: {param}")
            continue
        index = re.fullmatch(r"buffer\((\d+)\)", attrs[0])
        if index is not None:
            buffers.append(int(index.group(1)))
            if "*" not in decl:
                found.append(f"[[buffer(n)]] parameter that is not a pointer: {param}")
        elif attrs[0] not in _POSITION:
            found.append(f"unknown kernel parameter attribute [[{attrs[0]}]]")
    if len(set(buffers)) != len(buffers):
        found.append(f"buffer indices repeat: {sorted(buffers)}")
    if buffers and max(buffers) >= MAX_BUFFERS:
        found.append(f"buffer index {max(buffers)} is past Metal's {MAX_BUFFERS} buffer arguments")
    for cast, target in _CAST_POINTER.findall(text):
        space = set(re.findall(r"\w+", cast)) & set(ADDRESS_SPACES)
        if not space:
            found.append(f"pointer cast without an address space: ({cast}*)")
        elif target in spaces and spaces[target] not in space:
            found.append(f"({cast}*) points into {target}, which is in {spaces[target]} memory")
    for decl in re.findall(r"^\s*threadgroup\s+([^;]*);", text, flags=re.M):
        if "=" in decl:
            found.append(f"threadgroup memory can't be initialized where it is declared: threadgroup {decl}")
        if not re.search(r"\[\d+\]\s*$", decl):
            found.append(f"threadgroup array needs a constant size: threadgroup {decl}")
    return found


def check(src: str) -> None:
    """Raise LintError listing every problem of `src`, with the numbered source."""
    found = problems(src)
    if found:
        listing = "\n".join(f"{i + 1:4} {line}" for i, line in enumerate(src.splitlines()))
        raise LintError("generated MSL that Metal would reject:\n  " + "\n  ".join(found) + "\n" + listing)
