"""ClangRenderer: C for clang or gcc. The core's CStyleRenderer already speaks GNU C, so this is spelling only."""

from __future__ import annotations

from typing import ClassVar

from tinygrad_core.codegen.cstyle import CStyleRenderer


class ClangRenderer(CStyleRenderer):
    device: ClassVar[str] = "CLANG"
    prelude: ClassVar[tuple[str, ...]] = ("#include <math.h>", "#include <stdint.h>")
