"""The over-socket bench's tables and the verdicts of issue 26's targets.

Cells are keyed ``(server, workers, framework key, scenario key)``; each holds
the rounds' figures, and every table shows their median with its ratio to
Starlette on uvicorn (one worker) in the same run.
"""

from __future__ import annotations

import statistics
from typing import Any

BASE = ("uvicorn", 1, "starlette")


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def figure(cells: dict[tuple[Any, ...], Any], key: tuple[Any, ...], attr: str) -> float | None:
    cell = cells.get(key)
    return median(getattr(cell, attr)) if cell is not None else None


def _row_label(scenario: Any, server: str) -> str:
    return f"{scenario.title}, {server}"


def table(
    cells: dict[tuple[Any, ...], Any],
    frameworks: list[Any],
    scenarios: list[Any],
    servers: list[str],
    attr: str,
    title: str,
    fmt: str,
    higher_is_better: bool = True,
    ratios: bool = True,
) -> str:
    """One table: a row per (scenario, server), a column per framework."""
    lines = [
        title,
        "",
        "| scenario, server | " + " | ".join(f.title for f in frameworks) + " |",
        "| --- |" + " ---: |" * len(frameworks),
    ]
    for scenario in scenarios:
        base = figure(cells, (*BASE, scenario.key), attr)
        for server in servers:
            row = []
            for fw in frameworks:
                value = figure(cells, (server, 1, fw.key, scenario.key), attr)
                if value is None:
                    row.append("")
                    continue
                text = format(value, fmt)
                if ratios and base and value:
                    ratio = value / base if higher_is_better else base / value
                    text += f" ({ratio:.2f}x)"
                row.append(text)
            lines.append(f"| {_row_label(scenario, server)} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def http_tables(
    cells: dict[tuple[Any, ...], Any],
    frameworks: list[Any],
    scenarios: list[Any],
    servers: list[str],
) -> str:
    return "\n\n".join(
        [
            table(
                cells, frameworks, scenarios, servers, "rps",
                "Requests per second (x Starlette on uvicorn: higher is faster)", ",.0f",
            ),
            table(
                cells, frameworks, scenarios, servers, "p99_ms",
                "p99 latency, ms (wrk --latency; x Starlette on uvicorn: higher is shorter)",
                ".2f", higher_is_better=False,
            ),
            table(
                cells, frameworks, scenarios, servers, "cpu_us",
                "Server CPU µs per request (x Starlette on uvicorn: higher is cheaper)", ".1f",
                higher_is_better=False,
            ),
        ]
    )  # fmt: skip


def stream_tables(
    cells: dict[tuple[Any, ...], Any],
    frameworks: list[Any],
    scenarios: list[Any],
    servers: list[str],
) -> str:
    return "\n\n".join(
        [
            table(
                cells, frameworks, scenarios, servers, "rps",
                "WebSocket messages and SSE events per second (x Starlette on uvicorn)", ",.0f",
            ),
            table(
                cells, frameworks, scenarios, servers, "cpu_us",
                "Server CPU µs per message or event (x Starlette on uvicorn: higher is cheaper)",
                ".1f", higher_is_better=False,
            ),
            table(
                cells, frameworks, scenarios, servers, "client_busy",
                "The client's share of its CPU (near 100 %: the client, not the server, "
                "set the pace)", ".0%", ratios=False,
            ),
        ]
    )  # fmt: skip


def workers_table(cells: dict[tuple[Any, ...], Any], rows: list[tuple[Any, ...]]) -> str:
    lines = [
        "| server, workers | framework | scenario | requests/s | p99 ms | server CPU µs/request |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for key in rows:
        cell = cells[key]
        lines.append(
            f"| {key[0]}, {key[1]} | {cell.framework.title} | {cell.scenario.title} | "
            f"{median(cell.rps):,.0f} | {median(cell.p99_ms) or 0:.2f} | "
            f"{median(cell.cpu_us):.1f} |"
        )
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def verdicts(
    cells: dict[tuple[Any, ...], Any], scenarios: list[Any], servers: list[str]
) -> list[str]:
    """One line per target and scenario, from this run's medians (requests/s)."""

    def rps(server: str, fw: str, scenario: Any) -> float | None:
        return figure(cells, (server, 1, fw, scenario.key), "rps")

    lines = []
    for scenario in scenarios:
        mine = {s: rps(s, "bocadillo", scenario) for s in servers}
        mine = {s: v for s, v in mine.items() if v}
        if not mine:
            continue
        best = max(mine, key=lambda s: mine[s])
        starlette = rps("uvicorn", "starlette", scenario)
        parts = [f"Bocadillo's fastest server is {best}"]
        goal = 2.0 if scenario.kind == "http" else 1.5
        if starlette:
            ratio = mine[best] / starlette
            parts.append(
                f"{ratio:.2f}x Starlette on uvicorn ({_verdict(ratio >= goal)}, goal {goal:g}x)"
            )
        if scenario.kind == "http" and "uvicorn" in mine:
            ratio = mine[best] / mine["uvicorn"]
            parts.append(f"{ratio:.2f}x Bocadillo on uvicorn ({_verdict(ratio >= 1.5)}, goal 1.5x)")
        lines.append(f"{scenario.title}: " + "; ".join(parts))
        for server, value in mine.items():
            rivals = []
            for rival, title in (("fastapi", "FastAPI"), ("litestar", "Litestar")):
                theirs = rps(server, rival, scenario)
                if theirs:
                    ratio = value / theirs
                    rivals.append(f"{ratio:.2f}x {title}")
                    ok = ratio > 1
                    rivals[-1] += "" if ok else " (behind)"
            if rivals:
                ahead = all("behind" not in r for r in rivals)
                lines.append(
                    f"{scenario.title}, on {server}: "
                    + ", ".join(rivals)
                    + f" ({_verdict(ahead)}, goal ahead of both)"
                )
    return lines
