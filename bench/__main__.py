"""``./dev.sh bench [NAME ...]``: run every ``bench/bench_*.py`` (or the named ones) and print their tables."""

import importlib
import pkgutil
import sys
from pathlib import Path

names = sys.argv[1:] or sorted(
    m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
)
for name in names:
    module = importlib.import_module(f"bench.{name if name.startswith('bench_') else 'bench_' + name}")
    print(f"\n## {module.__name__}\n")
    module.main([])
