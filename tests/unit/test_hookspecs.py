"""Every hookspec is documented in full: when it is called, each argument, its return value and how results combine."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest

from tinygrad_core import hookspecs

SECTIONS = ("Called:", "Args:", "Returns:", "Results:")


def _hookspecs() -> list[Callable[..., Any]]:
    marker = f"{hookspecs.PROJECT}_spec"  # the attribute pluggy's HookspecMarker sets
    return [fn for _, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, marker)]


def _sections(doc: str) -> dict[str, str]:
    """Split a docstring into its "Name:" sections (a section header is an unindented line ending in ':')."""
    found: dict[str, list[str]] = {}
    current = None
    for line in doc.splitlines():
        if line in SECTIONS:
            current = line[:-1]
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return {name: "\n".join(lines).strip() for name, lines in found.items()}


def test_there_are_hookspecs() -> None:
    assert "register_backend" in [fn.__name__ for fn in _hookspecs()]


@pytest.mark.parametrize("spec", _hookspecs(), ids=lambda fn: fn.__name__)
def test_hookspec_is_documented(spec: Callable[..., Any]) -> None:
    doc = inspect.getdoc(spec)
    assert doc, f"hookspec {spec.__name__} has no docstring"
    sections = _sections(doc)
    for name in SECTIONS:
        assert sections.get(name[:-1]), f"hookspec {spec.__name__}: missing or empty section {name!r}"

    # Args: one "name:" or "name (type):" entry per argument, no more and no fewer; "None." when there are none.
    params = list(inspect.signature(spec).parameters)
    documented = re.findall(r"^(\w+)(?: \([^)]*\))?:", sections["Args"], flags=re.MULTILINE)
    if params:
        assert documented == params, f"hookspec {spec.__name__}: Args documents {documented}, signature has {params}"
    else:
        assert sections["Args"] == "None.", f"hookspec {spec.__name__} takes no arguments: its Args should say 'None.'"

    # Returns: starts with the annotated return type, so the two can't drift apart.
    annotation = inspect.signature(spec).return_annotation
    assert annotation is not inspect.Signature.empty, f"hookspec {spec.__name__} has no return annotation"
    assert sections["Returns"].startswith(f"{annotation}:"), (
        f"hookspec {spec.__name__}: Returns should start with '{annotation}:'"
    )

    # Results: says whether the first non-None result wins, matching the marker's firstresult option.
    firstresult = getattr(spec, f"{hookspecs.PROJECT}_spec")["firstresult"]
    expected = "First non-None result wins" if firstresult else "All collected, not firstresult"
    assert sections["Results"].startswith(expected), f"hookspec {spec.__name__}: Results should start with {expected!r}"
