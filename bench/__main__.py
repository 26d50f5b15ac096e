"""``./dev.sh bench [NAME ...]``: run every ``bench/bench_*.py`` (or the named ones) and print their tables.

Benchmarks that talk to a running WebUI (``NEEDS_WEBUI = True``) or take long (``ONLY_WHEN_NAMED = True``) run
only when named. Arguments after ``--`` go to the named benchmark(s):
``./dev.sh bench train_vs_diffusers -- --tiny``."""

import importlib
import pkgutil
import sys
from pathlib import Path

argv = sys.argv[1:]
named, extra = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
names = named or sorted(
    m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
)
for name in names:
    module = importlib.import_module(f"bench.{name if name.startswith('bench_') else 'bench_' + name}")
    if (getattr(module, "NEEDS_WEBUI", False) or getattr(module, "ONLY_WHEN_NAMED", False)) and not named:
        print(f"\n## {module.__name__}: skipped (run it by name; see its docstring)\n")
        continue
    print(f"\n## {module.__name__}\n")
    module.main(extra)
