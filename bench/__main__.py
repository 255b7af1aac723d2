"""`python -m bench NAME` runs bench/NAME.py's `main()`; `all` runs every benchmark."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

_NOT_BENCHMARKS = {"harness"}


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(here)])
        if not m.name.startswith("_") and m.name not in _NOT_BENCHMARKS
    )


def main(argv: list[str]) -> int:
    names = available()
    wanted = argv[1] if len(argv) > 1 else "all"
    if wanted not in {*names, "all"}:
        print(f"unknown benchmark {wanted!r}; choose from: all, {', '.join(names)}")
        return 2
    for name in names if wanted == "all" else [wanted]:
        module = importlib.import_module(f"bench.{name}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
