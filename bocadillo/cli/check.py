"""``bocadillo check``: compile the plans and documents, then run the contract tests.

With ``--baseline FILE`` (repeatable), the app's documents are also compared with
committed OpenAPI or AsyncAPI documents by ``bocadillo.diff``: a breaking change fails.

The contract runner (``bocadillo.testing.contract``) is imported only when the
tests run: it needs the ``testing`` extra, which a server need not have.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from bocadillo.cli.arguments import (
    Commands,
    add_app_argument,
    add_app_dir,
    positive_int,
    seed_option,
)
from bocadillo.cli.diff import load_side
from bocadillo.cli.loader import APP_ERROR, CLIError, compiled_app
from bocadillo.cli.output import write_stdout
from bocadillo.diff import diff_documents, has_breaking, render_text
from bocadillo.errors import ConfigurationError

__all__ = ["add_check"]

DEFAULT_SEED = 2025
CONTRACT_DEPENDENCIES = ("schemathesis", "hypothesis", "jsonschema", "httpx2")  # [testing]


def add_check(commands: Commands) -> None:
    """``bocadillo check``: compile, build the documents, run the contract tests."""
    parser = commands.add_parser(
        "check",
        help="compile an app's plans and documents, and run its contract tests",
        description=(
            "Compile every route's plan, build the OpenAPI and AsyncAPI documents, then "
            "run the contract tests in-process: generated requests (and WebSocket "
            "messages) checked against what the app declares. Exits 1 on a failure, "
            "printing each one with its reproduction."
        ),
    )
    add_app_argument(parser)
    parser.add_argument(
        "--max-examples",
        type=positive_int,
        default=25,
        metavar="N",
        help="generated cases per operation (default: 25)",
    )
    parser.add_argument(
        "--no-stateful",
        dest="stateful",
        action="store_false",
        help="skip the stateful phase (sequences of linked requests)",
    )
    parser.add_argument(
        "--no-websockets",
        dest="websockets",
        action="store_false",
        help="skip the generated WebSocket messages",
    )
    parser.add_argument(
        "--no-contract",
        dest="contract",
        action="store_false",
        help="only compile the plans and build the documents",
    )
    parser.add_argument(
        "--seed",
        type=seed_option,
        default=DEFAULT_SEED,
        metavar="N|random",
        help=(
            f"the seed of the generated cases (default: {DEFAULT_SEED}; 'random': a new one, "
            "printed so the run can be repeated)"
        ),
    )
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="FILE",
        help=(
            "an OpenAPI or AsyncAPI document (JSON or YAML) to compare the app's with; "
            "a breaking change fails the check (repeatable)"
        ),
    )
    add_app_dir(parser)
    parser.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    baselines: list[tuple[str, str, dict[str, Any]]] = []
    for path in args.baseline:
        if not os.path.isfile(path):
            raise CLIError(f"--baseline {path}: no such file")
        ((kind, document),) = load_side(path).items()
        baselines.append((path, kind, document))
    app = compiled_app(args.app, args.app_dir, documents=True)
    http_count = len(app.plans())
    ws_count = len(app.websocket_plans())
    print(
        f"plans: {_count(http_count, 'HTTP route')}, "
        f"{_count(ws_count, 'WebSocket route')} compiled",
        flush=True,
    )
    broken = False
    for path, kind, document in baselines:
        built = app.openapi() if kind == "openapi" else app.asyncapi()
        changes = diff_documents(document, built)
        broken = broken or has_breaking(changes)
        print(f"against {path} ({kind}):", flush=True)
        write_stdout(render_text(changes).encode())
    if not args.contract:
        return APP_ERROR if broken else 0
    if args.seed is None:
        import random

        args.seed = random.randrange(2**32)
        print(f"seed: {args.seed} (run again with --seed {args.seed})", flush=True)
    try:
        from bocadillo.testing.contract import run_contract

        report = run_contract(
            app,
            max_examples=args.max_examples,
            stateful=args.stateful,
            websockets=args.websockets,
            seed=args.seed,
        )
    except ConfigurationError as exc:
        raise CLIError(f"{args.app} is misconfigured: {exc}", APP_ERROR) from None
    except ModuleNotFoundError as exc:  # the testing extra, imported by the run
        if exc.name is None or exc.name.split(".")[0] not in CONTRACT_DEPENDENCIES:
            raise
        raise CLIError(
            f"the contract tests need the {exc.name!r} package, which is not installed "
            "(pip install 'bocadillo[testing]'); --no-contract skips them",
            APP_ERROR,
        ) from None
    output = report.table().rstrip("\n") + "\n"
    if not report.ok:
        output += "\n" + report.failure_text().rstrip("\n") + "\n"
    write_stdout(output.encode())
    return 0 if report.ok and not broken else APP_ERROR


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
