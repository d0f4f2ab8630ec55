"""All classifier proof in one run: quality, APGR, speed, cascade -> results/classifier.*

    python benchmarks/bench_classifier_report.py [--reps 7] [--skip-cascade]

Runs bench_classifier_quality (dev-set held-out split + RouteLLM APGR),
bench_classifier_speed and bench_classifier_cascade, then writes
benchmarks/results/classifier.json (everything) and benchmarks/results/classifier.md
(the tables for the README). Targets from issue 5 are checked and printed; a missed
target is reported, not hidden.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from bench_classifier_cascade import cascade_results
from bench_classifier_quality import agreement_results, apgr_results, dev_results
from bench_classifier_speed import speed_results

from smart_router._local import load_model

RESULTS = Path(__file__).resolve().parent / "results"


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    local = next(r for r in report["dev"]["results"] if r["name"] == "local")["classifier"]
    out = [
        {"target": "dev accuracy >= 0.90", "value": local["accuracy"],
         "met": local["accuracy"] >= 0.90},
        {"target": "dev complex recall >= 0.97", "value": local["complex_recall"],
         "met": local["complex_recall"] >= 0.97},
        {"target": "dev under-routed <= 0.05", "value": local["under_routed"],
         "met": local["under_routed"] <= 0.05},
    ]
    for ds, row in report["apgr"].items():
        best = max(row["litellm complexity_router"]["apgr"], row["prompt length"]["apgr"])
        out.append({"target": f"APGR {ds} >= max(litellm, length) = {best:.3f}",
                    "value": row["local"]["apgr"], "met": row["local"]["apgr"] >= best})
    mt = report["apgr"]["mt_bench"]["local"]["apgr"]
    out.append({"target": "APGR mt_bench >= 0.70", "value": mt, "met": mt >= 0.70})
    sp = report["speed"]["paths"]
    ratio = sp["local"]["p50_vs_litellm"]
    out.append({"target": "p50 <= 0.5 x LiteLLM heuristic", "value": ratio, "met": ratio <= 0.5})
    out.append({"target": "p99 < 1 ms", "value": sp["local"]["p99_us"] / 1000,
                "met": sp["local"]["p99_us"] < 1000})
    imp = report["speed"]["import_smart_router_s"]
    out.append({"target": "import smart_router < 0.3 s", "value": imp, "met": imp < 0.3})
    return out


def _f(x: float, pct: bool = False) -> str:
    return f"{x:.1%}" if pct else f"{x:.3f}"


def markdown(report: dict[str, Any]) -> str:
    dev = report["dev"]
    lines = [
        "# Classifier benchmarks",
        "",
        f"Run {report['date']} on {report['machine']}; model "
        f"`{report['model']['source']}` ({report['model']['weights']} weights).",
        "",
        f"## Dev set, held-out split ({dev['test_requests']} requests, never trained on)",
        "",
        "| classifier | accuracy | complex recall | under-routed | over-routed | "
        "routed accuracy | routed under-routed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in dev["results"]:
        c, ro = r["classifier"], r["routed"]
        lines.append(f"| {r['name']} | {_f(c['accuracy'])} | {_f(c['complex_recall'])} | "
                     f"{_f(c['under_routed'])} | {_f(c['over_routed'])} | "
                     f"{_f(ro['accuracy'])} | {_f(ro['under_routed'])} |")
    lines += ["", "Per kind (classifier accuracy / under-routed):", "",
              "| kind | n | " + " | ".join(r["name"] for r in dev["results"]) + " |",
              "|---|---|" + "---|" * len(dev["results"])]
    kinds = dev["results"][0]["by_kind"]
    for k in kinds:
        cells = [f"{_f(r['by_kind'][k]['accuracy'])} / {_f(r['by_kind'][k]['under_routed'])}"
                 for r in dev["results"]]
        lines.append(f"| {k} | {kinds[k]['n']} | " + " | ".join(cells) + " |")
    lines += ["", "Per source file (each part written in a separate batch; accuracy / complex "
              "recall / under-routed):", "",
              "| part | n | " + " | ".join(r["name"] for r in dev["results"]) + " |",
              "|---|---|" + "---|" * len(dev["results"])]
    sources = dev["results"][0]["by_source"]
    for k in sources:
        cells = [f"{_f(r['by_source'][k]['accuracy'])} / "
                 f"{_f(r['by_source'][k]['complex_recall'])} / "
                 f"{_f(r['by_source'][k]['under_routed'])}" for r in dev["results"]]
        lines.append(f"| {k} | {sources[k]['n']} | " + " | ".join(cells) + " |")
    agree = report["agreement"]
    lines += ["", f"## Label agreement ({agree['requests']} audited held-out requests)", "",
              "A second annotator labeled these blind to the labels (data/dev_set_audit/); "
              "the same requests through the classifiers:", "",
              "| labels vs | accuracy | complex recall | under-routed | over-routed |",
              "|---|---|---|---|---|"]
    for name, m in agree["results"].items():
        lines.append(f"| {name} | {_f(m['accuracy'])} | {_f(m['complex_recall'])} | "
                     f"{_f(m['under_routed'])} | {_f(m['over_routed'])} |")
    lines += ["", "## APGR on RouteLLM test splits (random = 0.5)", "",
              "| dataset | n | " + " | ".join(k for k in next(iter(report["apgr"].values()))
                                           if k != "n") + " |"]
    names = [k for k in next(iter(report["apgr"].values())) if k != "n"]
    lines.append("|---|---|" + "---|" * len(names))
    for ds, row in report["apgr"].items():
        lines.append(f"| {ds} | {row['n']} | " + " | ".join(
            f"{_f(row[n]['apgr'])} ({row[n]['share_pgr50']:.0%}/{row[n]['share_pgr80']:.0%})"
            for n in names) + " |")
    lines += ["", "In parentheses: strong-model share needed to reach PGR 0.5 / 0.8.", "",
              "## Speed per request (same process, interleaved)", "",
              "| path | p50 (µs) | p99 (µs) | raw p99 (µs) | p50 vs LiteLLM |",
              "|---|---|---|---|---|"]
    for name, p in report["speed"]["paths"].items():
        lines.append(f"| {name} | {p['p50_us']:.0f} | {p['p99_us']:.0f} | "
                     f"{p['raw_p99_us']:.0f} | {p['p50_vs_litellm']:.2f}x |")
    lines += ["", f"`import smart_router`: {report['speed']['import_smart_router_s']:.3f} s "
              f"({report['speed']['requests']} requests x {report['speed']['reps']} timings)."]
    if "cascade" in report:
        lines += ["", "## Cascade (dev test split; LLM answers simulated via the local server)",
                  "", "| confidence | LLM accuracy | escalated | accuracy | complex recall | "
                  "under-routed | cost / request |", "|---|---|---|---|---|---|---|"]
        for r in report["cascade"]["rows"]:
            conf = "LLM only" if r["confidence"] > 1 else (
                "local only" if r["confidence"] == 0 else f"{r['confidence']:.2f}")
            lines.append(f"| {conf} | {r['llm_accuracy']:.2f} | {_f(r['escalated_share'], True)} "
                         f"| {_f(r['accuracy'])} | {_f(r['complex_recall'])} | "
                         f"{_f(r['under_routed'])} | ${r['mean_cost_usd']:.6f} |")
        lines += ["", f"Grounded: on the {report['cascade']['audit_requests']} audited requests, "
                  "the LLM answers what the second annotator answered:", "",
                  "| confidence | escalated | accuracy | complex recall | under-routed |",
                  "|---|---|---|---|---|"]
        for r in report["cascade"]["audit_rows"]:
            conf = "LLM only" if r["confidence"] > 1 else (
                "local only" if r["confidence"] == 0 else f"{r['confidence']:.2f}")
            lines.append(f"| {conf} | {_f(r['escalated_share'], True)} | {_f(r['accuracy'])} "
                         f"| {_f(r['complex_recall'])} | {_f(r['under_routed'])} |")
    lines += ["", "## Targets (issue 5)", "", "| target | value | met |", "|---|---|---|"]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | {t['value']:.3f} | {'yes' if t['met'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--skip-cascade", action="store_true")
    args = parser.parse_args()
    model = load_model(None)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
        "model": {"source": Path(model.source).name, "weights": len(model.weights),
                  "thresholds": list(model.thresholds), "oof": model.meta.get("oof")},
    }
    t = time.time()
    report["dev"] = dev_results()
    report["agreement"] = agreement_results()
    report["apgr"] = apgr_results()
    report["speed"] = speed_results(args.reps)
    if not args.skip_cascade:
        report["cascade"] = cascade_results()
    report["targets"] = targets(report)
    report["seconds"] = round(time.time() - t, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "classifier.json").write_text(json.dumps(report, indent=1) + "\n")
    md = markdown(report)
    (RESULTS / "classifier.md").write_text(md)
    sys.stdout.write(md)


if __name__ == "__main__":
    main()
