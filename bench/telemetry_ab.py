"""Telemetry off costs nothing: Bocadillo before the feature and now, in one process.

On a shared machine, two benchmark runs one after the other see different
loads: a difference of a few percent between them says little. This script
loads two copies of the package in one process, the one in ``--before`` (a
checkout of an earlier commit: ``git worktree add /tmp/before c909a30``) and
this one, builds ``bench/inprocess.py``'s Bocadillo app with each (telemetry
off), and times them batch by batch in the same rounds (the order alternating
from round to round), so whatever slows the machine slows both alike.

    .venv/bin/python bench/telemetry_ab.py --before /tmp/before            # ~3 minutes
    .venv/bin/python bench/telemetry_ab.py --before /tmp/before --quick    # ~30 s

The two copies share nothing but the standard library and the dependencies:
the first is imported, its app built, its modules taken out of ``sys.modules``,
then the second is imported (Bocadillo imports nothing of itself lazily on the
request path, so each app keeps running its own code).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent


def load_inprocess() -> ModuleType:
    name = "bench_inprocess"
    spec = importlib.util.spec_from_file_location(name, HERE / "inprocess.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def app_from(root: Path, bench: ModuleType) -> Any:
    """``bench.bocadillo_app()`` built with the package found in ``root``."""
    for name in [n for n in sys.modules if n == "bocadillo" or n.startswith("bocadillo.")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        import bocadillo

        found = Path(bocadillo.__file__).resolve().parent.parent
        if found != root.resolve():
            raise SystemExit(f"bocadillo imported from {found}, not {root}")
        return bench.bocadillo_app()
    finally:
        sys.path.remove(str(root))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the package")
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    parser.add_argument("--rounds", type=int, help="rounds (default 15, quick 5)")
    parser.add_argument("--batch-time", type=float, help="seconds per batch (0.4, quick 0.1)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = parser.parse_args(argv)

    bench = load_inprocess()
    apps = {
        "before": app_from(args.before, bench),
        "now": app_from(HERE.parent, bench),
    }
    frameworks = [
        bench.Framework(key, title, lambda app=apps[key]: app, None)
        for key, title in (("before", f"before ({args.before.name})"), ("now", "now"))
    ]
    pinned = None if args.no_pin else bench.pin(None)
    rounds = args.rounds or (5 if args.quick else 15)
    batch_time = args.batch_time or (0.1 if args.quick else 0.4)
    try:
        import uvloop
    except ImportError:
        loop, loop_name = asyncio.new_event_loop(), "asyncio"
    else:
        loop, loop_name = uvloop.new_event_loop(), "uvloop"
    targets = loop.run_until_complete(
        bench.measure(frameworks, bench.SCENARIOS, rounds, batch_time)
    )
    samples = {(t.framework.key, t.scenario.key): t.samples for t in targets}
    print(
        f"Bocadillo, telemetry off: µs per request (per message, per event) over {rounds} "
        "rounds in one process: the median and the fastest batch of each side; now / before "
        "per round (median and range), and of the fastest batches (a busy machine only ever "
        "adds time: the fastest batch is the least disturbed)\n"
    )
    print("| scenario | before | now | now / before, per round | fastest: before, now, ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for scenario in bench.SCENARIOS:
        before = samples[("before", scenario.key)]
        now = samples[("now", scenario.key)]
        ratios = [n / b for n, b in zip(now, before, strict=True)]
        print(
            f"| {scenario.title} | {statistics.median(before) * 1e6:.1f} | "
            f"{statistics.median(now) * 1e6:.1f} | {statistics.median(ratios):.2f} "
            f"({min(ratios):.2f} to {max(ratios):.2f}) | {min(before) * 1e6:.1f}, "
            f"{min(now) * 1e6:.1f}, {min(now) / min(before):.2f} |"
        )
    print(f"\n{bench.describe_machine(pinned, loop_name)}")


if __name__ == "__main__":
    main()
