"""The ``smart-router`` command line: route, simulate, eval (and friends).

Every command validates its whole input before printing anything, and any
error smart-router raises on purpose ends as one ``error:`` line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ._cost import DEFAULT_OUTPUT_TOKENS
from ._exceptions import SmartRouterError

if TYPE_CHECKING:
    from rich.console import Console

    from ._router import SmartRouter


def _console() -> Console:
    from rich.console import Console

    # Pipes and CI logs get a fixed width, so tables are not squeezed to 80 columns.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def _router(args: argparse.Namespace, *, ledger: bool = True) -> SmartRouter:
    from ._router import SmartRouter

    # simulate/eval replay traffic: they must not write the real ledger or spend budgets
    return SmartRouter(args.config, ledger=None if ledger else False)


def _progress(total: int, label: str) -> tuple[AbstractContextManager[Any], Callable[[], None]]:
    """A progress bar on stderr for long inputs; nothing for short ones or pipes."""
    if total < 200 or not sys.stderr.isatty():
        return nullcontext(), lambda: None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task(label, total=total)
    return bar, lambda: bar.advance(task)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# -- route ------------------------------------------------------------------


def cmd_route(args: argparse.Namespace) -> None:
    text = sys.stdin.read() if args.text == "-" else args.text
    messages = [{"role": "user", "content": text}]
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    d = _router(args).route(messages, model_override=args.model)
    if args.json:
        _print_json(d.to_dict())
        return
    out = _console()
    out.print(f"[bold]tier[/bold]      {d.tier}")
    out.print(f"[bold]model[/bold]     {d.model}")
    out.print(f"[bold]fallbacks[/bold] {', '.join(d.fallbacks) or '-'}")
    out.print(f"[bold]score[/bold]     {d.score:.3f}")
    for reason in d.reasons:
        out.print(f"  - {reason}")


# -- simulate ---------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from ._data import read_requests, sample_traffic_path
    from ._simulate import simulate

    path = args.traffic or sample_traffic_path()
    requests = read_requests(path)
    router = _router(args, ledger=False)
    bar, tick = _progress(len(requests), "routing")
    with bar:
        report = simulate(router, requests, monthly_requests=args.monthly_requests,
                          output_tokens=args.output_tokens, progress=tick)
    if args.json:
        _print_json({"traffic": str(path), **report.to_dict()})
        return
    from rich.table import Table

    out = _console()
    table = Table(title=f"Traffic by tier ({report.requests} requests from {path})")
    for col in ("tier", "model", "queries", "% queries", "$/1M in", "$/1M out", "cost",
                "% budget"):
        table.add_column(col, justify="left" if col in ("tier", "model") else "right")
    for r in report.rows:
        table.add_row(
            r.tier, r.model, str(r.queries), f"{r.query_share:.0%}",
            f"{r.input_usd_per_1m:.2f}", f"{r.output_usd_per_1m:.2f}",
            f"${r.cost_usd:.4f}", f"{r.budget_share:.0%}",
        )
    out.print(table)
    m = report.monthly_requests
    summary = Table(title=f"Routed vs all-premium ({report.baseline_model})")
    summary.add_column("")
    summary.add_column("this traffic", justify="right")
    summary.add_column(f"per month at {m:,} requests", justify="right")
    summary.add_row("routed", f"${report.routed_cost_usd:.4f}",
                    f"${report.monthly(report.routed_cost_usd):,.2f}")
    summary.add_row("all-premium", f"${report.baseline_cost_usd:.4f}",
                    f"${report.monthly(report.baseline_cost_usd):,.2f}")
    out.print(summary)
    out.print(f"[bold]ratio[/bold] {report.ratio:.1f}x cheaper "
              f"(saves {report.savings_share:.0%})")
    for note in report.notes:
        out.print(f"[dim]note: {note}[/dim]")


# -- eval -------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> None:
    from ._data import read_requests
    from ._eval import evaluate

    requests = read_requests(args.labeled, require_label=True)
    router = _router(args, ledger=False)
    bar, tick = _progress(len(requests), "evaluating")
    with bar:
        report = evaluate(router, requests, source=str(args.labeled), progress=tick)
    if args.json:
        _print_json(report.to_dict())
        return
    from rich.table import Table

    d = report.to_dict()
    out = _console()
    out.print(f"[bold]{report.total} labeled requests[/bold]  accuracy {d['accuracy']:.3f}  "
              f"{report.tiers[-1]} recall {d['complex_recall']:.3f}  "
              f"under-routed {d['under_routed_share']:.3f}  "
              f"over-routed {d['over_routed_share']:.3f}")
    matrix = Table(title="Confusion matrix (rows: true tier, columns: chosen tier)")
    matrix.add_column("true \\ chosen")
    for t in report.tiers:
        matrix.add_column(t, justify="right")
    matrix.add_column("recall", justify="right")
    for t in report.tiers:
        row = report.confusion[t]
        matrix.add_row(t, *(str(row[c]) for c in report.tiers), f"{report.recall(t):.3f}")
    out.print(matrix)
    if len(report.by_kind) > 1:
        kinds = Table(title="By kind")
        for col in ("kind", "n", "accuracy", "under-routed"):
            kinds.add_column(col, justify="left" if col == "kind" else "right")
        for kind, k in report.by_kind.items():
            kinds.add_row(kind, str(int(k["n"])), f"{k['accuracy']:.3f}",
                          f"{k['under_routed_share']:.3f}")
        out.print(kinds)


# -- train / calibrate ------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> None:
    from ._train import train

    tiers = [t.strip() for t in args.tiers.split(",")] if args.tiers else None
    report = train(args.labeled, args.output, tiers=tiers, holdout=args.holdout)
    if args.json:
        _print_json({"model": args.output, **asdict(report)})
        return
    out = _console()
    out.print(f"trained on {report.examples} requests, {report.features} features -> "
              f"{args.output}")
    oof = ", ".join(f"{k} {v:.3f}" for k, v in report.oof.items())
    out.print(f"out-of-fold on the training data: {oof}")
    out.print("use it with:")
    out.print(f"  classifier: {{type: local, model: {args.output}}}")


def cmd_calibrate(args: argparse.Namespace) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from ._calibrate import calibrate

    result = calibrate(
        args.traffic, premium_share=args.premium_share, monthly_budget=args.monthly_budget,
        config=args.config, monthly_requests=args.monthly_requests,
        output_tokens=args.output_tokens,
    )
    if args.json:
        _print_json(result.to_dict())
        return
    out = _console()
    out.print(f"target: {result.target} ({result.requests} requests)")
    shares = ", ".join(f"{t} {s:.0%}" for t, s in result.shares.items())
    out.print(f"traffic by tier: {shares}")
    out.print(f"monthly cost at {result.monthly_requests:,} requests: "
              f"${result.monthly_cost_usd:,.2f}")
    th = ", ".join(f"{t}: {v:.4f}" for t, v in result.thresholds.items())
    out.print("put this in your config:")
    out.print(f"  classifier: {{thresholds: {{{th}}}}}")
    for note in result.notes:
        out.print(f"[dim]note: {note}[/dim]")


# -- wiring -----------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smart-router",
        description="Route each LLM request to the cheapest tier that can answer it well.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=os.environ.get("SMART_ROUTER_CONFIG"),
        help="YAML config (default: $SMART_ROUTER_CONFIG, else the built-in tiers)",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("route", parents=[common], help="the routing decision for one query")
    p.add_argument("text", help="the user message ('-' reads stdin)")
    p.add_argument("--system", help="an optional system prompt")
    p.add_argument("--model", help="model override: skips classification")
    p.set_defaults(func=cmd_route)

    p = sub.add_parser("simulate", parents=[common],
                       help="replay traffic and compare routed vs all-premium cost")
    p.add_argument("traffic", nargs="?", help="traffic JSONL (default: the bundled sample)")
    p.add_argument("--monthly-requests", type=int, default=100_000,
                   help="volume for the monthly projection (default 100,000)")
    p.add_argument("--output-tokens", type=int, default=DEFAULT_OUTPUT_TOKENS,
                   help="answer tokens assumed for requests without usage "
                   f"(default {DEFAULT_OUTPUT_TOKENS})")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("eval", parents=[common], help="accuracy of routing on a labeled set")
    p.add_argument("labeled", help="labeled JSONL: messages + label per line")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("train", parents=[common],
                       help="train the local classifier on your labeled traffic")
    p.add_argument("labeled", help="labeled JSONL: messages + label per line")
    p.add_argument("-o", "--output", required=True, help="model file to write (JSON)")
    p.add_argument("--tiers", help="tier names cheapest first (default simple,moderate,complex)")
    p.add_argument("--holdout", action="store_true",
                   help="train on the ~75%% train split only (by group), keep the rest for eval")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("calibrate", parents=[common],
                       help="set tier thresholds from your traffic for a premium share or budget")
    p.add_argument("traffic", help="traffic JSONL")
    goal = p.add_mutually_exclusive_group(required=True)
    goal.add_argument("--premium-share", type=float, help="at most this share to the top tier")
    goal.add_argument("--monthly-budget", type=float, help="keep the monthly cost under USD")
    p.add_argument("--monthly-requests", type=int,
                   help="monthly volume for the budget (default: the file is one month)")
    p.add_argument("--output-tokens", type=int, help="answer tokens assumed without usage")
    p.set_defaults(func=cmd_calibrate)

    from ._report import add_report_arguments, cmd_report

    p = sub.add_parser("report", parents=[common],
                       help="cost by tier, model and day from the cost ledger")
    add_report_arguments(p)
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SmartRouterError as e:
        print(f"smart-router: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
