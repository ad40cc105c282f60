"""Vector math for the C-family renderer, written in portable vector code (GNU C vector extensions, OpenCL C).

Each helper is generated per vector type: `Spell` gives the spelling of the dialect (type names, bit
reinterpretation, broadcast literals) and comparisons give -1/0 integer lanes, used as masks for branch-free
selects. exp2 and log2 are polynomials, so a vector of 8 floats costs a dozen instructions instead of 8 libm calls.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tinygrad_core.dtype import DType, dtypes
from tinygrad_core.ops import Ops

if TYPE_CHECKING:
    from tinygrad_core.codegen.cstyle import CStyleRenderer


class Spell:
    """Spelling for the vector helpers: vector and integer-vector types, bit reinterpretation, broadcast literals."""

    def __init__(self, ren: CStyleRenderer, dtype: DType, width: int):
        self.ren, self.dtype, self.width = ren, dtype, width
        self.v, self.s = ren.tname(dtype, width), ren.tname(dtype)
        self.i = ren.tname(dtypes.int32 if dtype.itemsize == 4 else dtypes.int64, width)

    def as_i(self, x: str) -> str:
        return self.ren.vector_bitcast.format(type=self.i, x=x)

    def as_v(self, x: str) -> str:
        return self.ren.vector_bitcast.format(type=self.v, x=x)

    def splat(self, value: float) -> str:
        return self.ren.const(value, self.dtype, self.width)

    def select(self, mask: str, a: str, b: str) -> str:
        """Lanes of a where mask is -1, of b where it is 0."""
        return self.as_v(f"({self.as_i(a)} & {mask}) | ({self.as_i(b)} & ~{mask})")


def _max(sp: Spell, name: str) -> str:
    return f"""static inline {sp.v} {name}({sp.v} a, {sp.v} b) {{
  {sp.i} m = (a > b) | (a != a);  /* NaN-propagating, like numpy.maximum */
  return {sp.select("m", "a", "b")};
}}"""


def _sqrt(sp: Spell, name: str) -> str:
    fn = sp.ren.math_functions[Ops.SQRT] + sp.ren.math_suffix.get(sp.dtype, "")
    lanes = ",".join(f"{fn}({sp.ren.gep.format(vec='x', lane=i)})" for i in range(sp.width))  # becomes one vsqrt
    return (
        f"static inline {sp.v} {name}({sp.v} x) {{ return {sp.ren.vector_literal.format(type=sp.v, elements=lanes)}; }}"
    )


def _exp2(sp: Spell, name: str) -> str:
    # 2^x = 2^n * p(f) with n = round(x) (the 1.5 * 2^23 trick) and f in [-0.5, 0.5]; 2^n is applied in two halves so
    # subnormal results round correctly. NaN stays NaN through f. Relative error of p: 3e-9.
    return f"""static inline {sp.v} {name}({sp.v} x) {{
  {sp.i} lo = x < -160.0f, hi = x > 128.0f;
  x = {sp.select("lo", sp.splat(-160.0), sp.select("hi", sp.splat(128.0), "x"))};
  {sp.v} t = x + 12582912.0f;
  {sp.v} f = x - (t - 12582912.0f);
  {sp.i} n = {sp.as_i("t")} - 0x4B400000;
  {sp.v} p = 1.0f + f * (0.6931472067106195f + f * (0.24022651084149685f + f * (0.05550327214209144f
      + f * (0.009618035958600158f + f * (0.0013400432165405901f + f * 0.00015467364973085134f)))));
  {sp.i} n1 = n >> 1;
  return p * {sp.as_v("(n1 + 127) << 23")} * {sp.as_v("(n - n1 + 127) << 23")};
}}"""


def _log2(sp: Spell, name: str) -> str:
    # log2(x) = e + log2(m) with m in [sqrt(1/2), sqrt(2)) and log(m) = 2 atanh(t), t = (m-1)/(m+1), |t| < 0.172.
    # Subnormals are scaled by 2^23 first; 0, negatives, NaN and inf get their IEEE results at the end.
    convert = sp.ren.vector_convert.format(type=sp.v, x="e")
    special = sp.select("neg", sp.splat(math.nan), sp.select("inf", "x", "r"))
    return f"""static inline {sp.v} {name}({sp.v} x) {{
  {sp.i} tiny = x < 1.17549435e-38f;
  {sp.i} bits = {sp.as_i(sp.select("tiny", "x * 8388608.0f", "x"))};
  {sp.i} e = ((bits >> 23) & 0xff) - 127 - (tiny & 23);
  {sp.v} m = {sp.as_v("(bits & 0x7fffff) | 0x3f800000")};
  {sp.i} big = m > 1.41421356f;
  m = {sp.select("big", "m * 0.5f", "m")};
  e = e - big;
  {sp.v} t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  {sp.v} r = t * (2.8853900817779268f + t2 * (0.9617966939259756f + t2 * (0.5770780163555854f
      + t2 * (0.41219858311113244f + t2 * 0.32059889797532523f))));
  r = r + {convert};
  {sp.i} zero = x == 0.0f, neg = (x < 0.0f) | (x != x), inf = x == {sp.splat(math.inf)};
  r = {sp.select("zero", sp.splat(-math.inf), special)};
  return r;
}}"""


HELPERS = {Ops.MAX: _max, Ops.SQRT: _sqrt, Ops.EXP2: _exp2, Ops.LOG2: _log2}
