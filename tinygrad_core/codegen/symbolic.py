"""Index arithmetic for generated code: linear forms over loop variables, with range-aware floor division and modulo.

Every index a kernel computes is a `Lin`: sum(coef * atom) + const, where an atom is a loop variable or a division
or remainder of another Lin by a constant. Knowing each variable's range lets us drop divisions that can't change
anything (`(8*i + j) // 8 == i` when 0 <= j < 8) and comparisons that always hold, so most generated indices are
plain multiply-adds.

NOTE: the rules below use floor semantics, and a division is only rendered with C's truncating `/` and `%` when
its numerator can't be negative; the one exception is an index under a mask, which is only ever dereferenced
where it is valid, and valid positions are never negative.
"""

from __future__ import annotations

import math


class _Keyed:
    """Atoms and Lins are compared and hashed by a canonical string, built once: they nest deeply, and comparing the
    nested structure on every dict lookup would dominate lowering time."""

    __slots__ = ("_hash", "key")
    key: str

    def _set_key(self, key: str) -> None:
        self.key, self._hash = key, hash(key)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.key == self.key  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return self.key


class Var(_Keyed):
    __slots__ = ("hi", "lo", "name")

    def __init__(self, name: str, lo: int, hi: int):  # hi is inclusive
        self.name, self.lo, self.hi = name, lo, hi
        self._set_key(name)


class Div(_Keyed):
    __slots__ = ("d", "x")

    def __init__(self, x: Lin, d: int):
        self.x, self.d = x, d
        self._set_key(f"(({x.key})/{d})")


class Mod(_Keyed):
    __slots__ = ("d", "x")

    def __init__(self, x: Lin, d: int):
        self.x, self.d = x, d
        self._set_key(f"(({x.key})%{d})")


Atom = Var | Div | Mod


def _atom_bounds(atom: Atom) -> tuple[int, int]:
    if isinstance(atom, Var):
        return atom.lo, atom.hi
    lo, hi = atom.x.bounds
    if isinstance(atom, Div):
        return lo // atom.d, hi // atom.d
    return (0, min(atom.d - 1, hi)) if lo >= 0 else (-(atom.d - 1), atom.d - 1)


class Lin(_Keyed):
    """sum(coef * atom for atom, coef in terms) + const, terms sorted by key and without zero coefficients."""

    __slots__ = ("_bounds", "_vars", "const", "terms")

    def __init__(self, terms: tuple[tuple[Atom, int], ...] = (), const: int = 0):
        self.terms, self.const = terms, const
        self._bounds: tuple[int, int] | None = None
        self._vars: frozenset[str] | None = None
        self._set_key("+".join(f"{a.key}*{c}" for a, c in terms) + f"+{const}")

    @staticmethod
    def num(value: int) -> Lin:
        return Lin((), value)

    @staticmethod
    def var(name: str, size: int) -> Lin:
        """A loop variable running over range(size); a size-1 loop is the constant 0."""
        return Lin.num(0) if size <= 1 else Lin(((Var(name, 0, size - 1), 1),), 0)

    @staticmethod
    def of(atom: Atom) -> Lin:
        return Lin(((atom, 1),), 0)

    @staticmethod
    def _make(coefs: dict[Atom, int], const: int) -> Lin:
        terms = sorted(((a, c) for a, c in coefs.items() if c != 0), key=lambda t: t[0].key)
        return Lin(tuple(terms), const)

    @property
    def bounds(self) -> tuple[int, int]:
        if self._bounds is None:
            lo = hi = self.const
            for atom, coef in self.terms:
                alo, ahi = _atom_bounds(atom)
                lo += min(coef * alo, coef * ahi)
                hi += max(coef * alo, coef * ahi)
            self._bounds = (lo, hi)
        return self._bounds

    @property
    def is_const(self) -> bool:
        return not self.terms

    @property
    def vars(self) -> frozenset[str]:
        """Names of every loop variable this index reads, inside divisions too."""
        if self._vars is None:
            names: set[str] = set()
            for atom, _ in self.terms:
                names |= {atom.name} if isinstance(atom, Var) else atom.x.vars
            self._vars = frozenset(names)
        return self._vars

    def coef(self, name: str) -> int | None:
        """The coefficient of variable `name` when it appears only linearly (None when inside a division)."""
        direct = sum(c for a, c in self.terms if isinstance(a, Var) and a.name == name)
        nested = any(not isinstance(a, Var) and name in a.x.vars for a, _ in self.terms)
        return None if nested else direct

    # --- arithmetic ---
    def __add__(self, other: Lin | int) -> Lin:
        if isinstance(other, int):
            return self if other == 0 else Lin(self.terms, self.const + other)
        if not other.terms:
            return self + other.const
        if not self.terms:
            return other + self.const
        coefs = dict(self.terms)
        for atom, coef in other.terms:
            coefs[atom] = coefs.get(atom, 0) + coef
        return Lin._make(coefs, self.const + other.const)

    def __sub__(self, other: Lin | int) -> Lin:
        return self + (other * -1 if isinstance(other, Lin) else -other)

    def __mul__(self, factor: int) -> Lin:
        if factor == 1:
            return self
        if factor == 0:
            return Lin.num(0)
        return Lin(tuple((a, c * factor) for a, c in self.terms), self.const * factor)

    def _split(self, d: int) -> tuple[Lin, Lin]:
        """self = d * quotient + rest, taking whole multiples of d out of every coefficient and the constant."""
        q_const, r_const = divmod(self.const, d)
        quotient: dict[Atom, int] = {}
        rest: dict[Atom, int] = {}
        for atom, coef in self.terms:
            q, r = divmod(coef, d)
            if q:
                quotient[atom] = q
            if r:
                rest[atom] = r
        return Lin._make(quotient, q_const), Lin._make(rest, r_const)

    def __floordiv__(self, d: int) -> Lin:
        assert d > 0, f"division of an index by {d}"
        lo, hi = self.bounds
        if d == 1:
            return self
        if lo // d == hi // d:
            return Lin.num(lo // d)
        quotient, rest = self._split(d)
        rlo, rhi = rest.bounds
        if rlo < 0:
            return Lin.of(Div(self, d))
        if rhi < d:
            return quotient
        g = math.gcd(d, rest.const, *(c for _, c in rest.terms))
        if g > 1:  # (2i + 4) // 8 == (i + 2) // 4
            rest, d = Lin(tuple((a, c // g) for a, c in rest.terms), rest.const // g), d // g
        if len(rest.terms) == 1 and rest.const == 0 and rest.terms[0][1] == 1 and isinstance(rest.terms[0][0], Div):
            inner = rest.terms[0][0]  # (x // a) // b == x // (a * b)
            return quotient + Lin.of(Div(inner.x, inner.d * d))
        return quotient + Lin.of(Div(rest, d))

    def __mod__(self, d: int) -> Lin:
        assert d > 0, f"remainder of an index by {d}"
        lo, hi = self.bounds
        if d == 1:
            return Lin.num(0)
        if lo >= 0 and hi < d:
            return self
        _, rest = self._split(d)
        rlo, rhi = rest.bounds
        if rlo < 0:
            return Lin.of(Mod(self, d))
        if rhi < d:
            return rest
        return Lin.of(Mod(rest, d))


# --- validity: a conjunction of lo <= index < hi ---
Cond = tuple[Lin, int, int]


class Never:
    """A validity that is false everywhere (a fully masked read)."""


NEVER = Never()
Valid = tuple[Cond, ...] | Never  # () is always valid


def in_range(index: Lin, lo: int, hi: int) -> Valid:
    """The condition lo <= index < hi, () when it always holds, NEVER when it never does."""
    ilo, ihi = index.bounds
    if ihi < lo or ilo >= hi:
        return NEVER
    if ilo >= lo and ihi < hi:
        return ()
    return ((index, lo, hi),)


def both(a: Valid, b: Valid) -> Valid:
    if isinstance(a, Never) or isinstance(b, Never):
        return NEVER
    return a + tuple(c for c in b if c not in a)


def substitute(index: Lin, values: dict[str, int]) -> Lin:
    """`index` with some variables fixed to constants (used to compare neighbouring vector lanes)."""
    out = Lin.num(index.const)
    for atom, coef in index.terms:
        if isinstance(atom, Var):
            out = out + (Lin.num(values[atom.name]) if atom.name in values else Lin.of(atom)) * coef
        else:
            inner = substitute(atom.x, values)
            out = out + (inner // atom.d if isinstance(atom, Div) else inner % atom.d) * coef
    return out
