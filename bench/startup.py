"""Start-up: what each import the package defers would cost a command if it were made at start.

For every module that lti_tool imports inside a function (the lazy imports listed in
docs/architecture.md), a fresh process builds the app as a command does, then times importing
that module: 0 ms (already loaded) means the deferral buys nothing. The baseline, measured in
the same run: the whole `report` command (process start, app, one report on an empty course).

    .venv/bin/python bench/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import sys, time
import lti_tool
lti_tool.create_app()
name = sys.argv[1]
loaded = name in sys.modules
start = time.perf_counter()
__import__(name)
print((time.perf_counter() - start) * 1000, loaded)
"""
LAZY = re.compile(r"^ +(?:from ([\w.]+) import|import ([\w.]+))")


def deferred_imports() -> dict[str, set[str]]:
    """Each module imported inside a function (TYPE_CHECKING blocks aside), with its importers."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "lti_tool").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        type_only = False
        for line in path.read_text().splitlines():
            if line.startswith("if TYPE_CHECKING"):
                type_only = True
                continue
            if type_only and line and not line.startswith(" "):
                type_only = False
            match = LAZY.match(line)
            if match and not type_only:
                name = match.group(1) or match.group(2)
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def median(values: list[float]) -> float:
    """The middle value."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main() -> None:
    """Print the cost of each deferred import after start-up, and the report command's time."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="processes per figure (median)")
    runs = parser.parse_args().runs
    instance = tempfile.mkdtemp(prefix="lti-startup-")
    env = {**os.environ, "LTI_TOOL_INSTANCE_PATH": instance, "LTI_TOOL_CONFIG": "development"}
    flask = [sys.executable, "-m", "flask", "--app", "lti_tool"]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
    cpus, python = os.cpu_count(), platform.python_version()
    print(f"machine: {platform.machine()}, {cpus} CPUs, Python {python}")
    report = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(  # noqa: S603
            [*flask, "report", "weekly-activity", "--course", "none"],
            env=env,
            cwd=ROOT,
            capture_output=True,
        )
        report.append((time.perf_counter() - start) * 1000)
    print(f"baseline: `flask report` start to finish {median(report):.0f} ms")
    print(f"{'deferred import':45s} {'ms at start':>12s}  imported in")
    for name, where in sorted(deferred_imports().items()):
        costs, loaded = [], False
        for _ in range(runs):
            out = subprocess.run(  # noqa: S603
                [sys.executable, "-c", PROBE, name],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            value, _, flag = out.stdout.strip().rpartition("\n")[-1].partition(" ")
            costs.append(float(value))
            loaded = flag == "True"
        cost = "loaded" if loaded else f"{median(costs):.1f}"
        print(f"{name:45s} {cost:>12s}  {', '.join(sorted(where))}")


if __name__ == "__main__":
    main()
