"""``./dev.sh bench [NAME ...]``: run every ``bench/bench_*.py`` (or the named ones) and print their tables.

Benchmarks that talk to a running WebUI (``NEEDS_WEBUI = True``) run only when named."""

import importlib
import pkgutil
import sys
from pathlib import Path

named = sys.argv[1:]
names = named or sorted(
    m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
)
for name in names:
    module = importlib.import_module(f"bench.{name if name.startswith('bench_') else 'bench_' + name}")
    if getattr(module, "NEEDS_WEBUI", False) and not named:
        print(f"\n## {module.__name__}: skipped (needs a running WebUI; see its docstring)\n")
        continue
    print(f"\n## {module.__name__}\n")
    module.main([])
