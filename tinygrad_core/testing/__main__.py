"""`python -m tinygrad_core.testing --device NAME [--level core] [--json report.json]`: run the conformance kit.

The same as `pytest --pyargs tinygrad_core.testing.suite --device NAME --kit-level ... --kit-report ...`; arguments
after `--` go to pytest unchanged (`-- -x -n 4`). The exit status is pytest's: 0 when every selected level passes.
"""

from __future__ import annotations

import argparse
import sys

from tinygrad_core.errors import install_excepthook
from tinygrad_core.testing.plugin import CORE_LEVELS, LEVELS


def main(argv: list[str] | None = None) -> int:
    import pytest

    install_excepthook()

    parser = argparse.ArgumentParser(prog="python -m tinygrad_core.testing", description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="append", required=True, help="device to check, e.g. CPU or TORCH:1")
    parser.add_argument(
        "--level",
        default="all",
        help=f"comma-separated levels: {', '.join(LEVELS)}; 'core' = {', '.join(CORE_LEVELS)}; default all",
    )
    parser.add_argument("--json", metavar="PATH", help="write the report (per device and level) to PATH")
    parser.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE", help="register a backend module first"
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    args = parser.parse_args(argv)
    pytest_args = ["--pyargs", "tinygrad_core.testing.suite", "-p", "no:cacheprovider", "--kit-level", args.level]
    pytest_args += ["-p", "tinygrad_core.testing.plugin"]
    for device in args.device:
        pytest_args += ["--device", device]
    for module in args.plugin:
        pytest_args += ["--backend-plugin", module]
    if args.json:
        pytest_args += ["--kit-report", args.json]
    return int(pytest.main([*pytest_args, "-q", *args.pytest_args]))


if __name__ == "__main__":
    sys.exit(main())
