"""Ray cluster throughput (run by `make bench`, inside a loopback-only network namespace): the week-1 demo batch
through 1 and then 2 Ray worker nodes (one CPU and one grader slot each, so the machine's two cores are used as
`--jobs 1` and `--jobs 2` use them), against the local engine with --jobs 1 and --jobs 2.

Throughput is taken at steady state, from the first result to the last (start-up is reported separately).
Targets (issue #14): scaling efficiency (2-node throughput / 1-node throughput / 2) >= 0.85, and Ray's
per-submission overhead over the local engine (1 / throughput, one node against --jobs 1) <= 0.1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.config import load_course  # noqa: E402
from autograder.grading import grade  # noqa: E402
from autograder.pools.ray_local import LocalCluster, loopback_only  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SAMPLES = REPO / "examples" / "submissions"


def week1_copy(root: Path):
    root.mkdir(parents=True)
    shutil.copy(REPO / "course.yml", root / "course.yml")
    for part in ("source", "release/week01-markov", "tests/hidden/week01-markov"):
        shutil.copytree(REPO / part, root / part)
    return load_course(root / "course.yml")


def batch(folder: Path, copies: int) -> Path:
    folder.mkdir(parents=True)
    for copy in range(copies):
        for sample in SAMPLES.glob("*.ipynb"):
            shutil.copy(sample, folder / f"{sample.stem}_{copy}.ipynb")
    return folder


def timed(course, submissions: Path, **how) -> dict:
    """Grade the batch; throughput from the first result to the last, and the time to the first result."""
    stamps: list[float] = []
    begin = time.monotonic()
    result = grade(course, course.assignment("week01-markov"), submissions=submissions, regrade=True,
                   database=submissions.parent / f"{time.monotonic_ns()}.db",
                   on_result=lambda _: stamps.append(time.monotonic()), **how)
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    return {"results": len(result.results), "per_s": steady, "first_result_s": stamps[0] - begin,
            "total_s": time.monotonic() - begin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--conditions", default="", help="how the machine was run, for the report (load, priority)")
    args = parser.parse_args()
    if not loopback_only():
        sys.exit("run inside a loopback-only network namespace (make bench does)")
    os.environ.setdefault("MPLBACKEND", "Agg")
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": platform.platform(),
                    "cpus": os.cpu_count(), "submissions": 11 * args.copies,
                    "command": "make bench  (benchmarks/bench_ray.py in unshare --net)", "conditions": args.conditions}
    with tempfile.TemporaryDirectory() as tmp:
        course = week1_copy(Path(tmp) / "course")
        submissions = batch(Path(tmp) / "in", args.copies)
        report["local_jobs1"] = timed(course, submissions, jobs=1)
        report["local_jobs2"] = timed(course, submissions, jobs=2)
        cluster = LocalCluster()
        try:
            cluster.add_node("node_b")
            report["ray_1_node"] = timed(course, submissions, cluster=cluster.address)
            cluster.add_node("node_c")
            report["ray_2_nodes"] = timed(course, submissions, cluster=cluster.address)
        finally:
            cluster.stop()
    one, two = report["ray_1_node"]["per_s"], report["ray_2_nodes"]["per_s"]
    report["scaling_efficiency"] = two / one / 2
    report["ray_overhead_s"] = 1 / one - 1 / report["local_jobs1"]["per_s"]
    report["targets"] = {"scaling efficiency >= 0.85": report["scaling_efficiency"] >= 0.85,
                         "Ray overhead <= 0.1 s per submission": report["ray_overhead_s"] <= 0.1}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ray.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"# Ray cluster benchmark ({report['date']}, {report['cpus']} CPUs)", "",
             f"Command: `{report['command']}`; the week-1 demo batch, {report['submissions']} submissions.",
             *([f"Conditions: {args.conditions}"] if args.conditions else []), "",
             "| how | submissions / s (steady) | first result after | whole batch |", "|---|---|---|---|"]
    labels = {"local_jobs1": "local engine, --jobs 1", "local_jobs2": "local engine, --jobs 2",
              "ray_1_node": "Ray, 1 worker node (1 CPU)", "ray_2_nodes": "Ray, 2 worker nodes (1 CPU each)"}
    for key, label in labels.items():
        r = report[key]
        lines.append(f"| {label} | {r['per_s']:.2f} | {r['first_result_s']:.1f} s | {r['total_s']:.1f} s |")
    lines += ["", f"Scaling efficiency 1 → 2 nodes: {report['scaling_efficiency']:.2f}; Ray's per-submission "
              f"overhead over the local engine: {report['ray_overhead_s']:+.3f} s.", "", "Targets:"]
    lines += [f"- {'met' if ok else 'MISSED'}: {name}" for name, ok in report["targets"].items()]
    (RESULTS / "ray.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
