"""Load test of `senticlf serve` against its ceiling and against the server users write by hand.

    python -m benchmarks.serve_load --bundle export/cpu-ref --reviews test.csv.gz
    python -m benchmarks.serve_load --shape distilbert --tokenizer DIR --reviews test.csv.gz --requests 120

In one run, on the same IMDb reviews (one per request): (a) in-process
``SentimentClassifier.predict`` in length-sorted batches (the ceiling) and one review at a time
(the direct-call latency, and B = batched / batch-1 throughput), in a child process; (b) the
naive server (benchmarks/common/naive_server.py: one ``predict`` per request, no batching); (c)
``senticlf serve`` with its defaults, at each concurrency, and once more at the highest
concurrency with a small queue (--overload-queue), where a client that gets 503 waits the
Retry-After it was given, as a well-behaved client does. Every server listens on 127.0.0.1,
every loop is bounded in requests and time, and every process is stopped by its pid. Writes
JSON, Markdown and a PNG (throughput and p99 against concurrency) under benchmarks/results/.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import multiprocessing
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import typer

from benchmarks.common import machine
from benchmarks.common import results as records

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
ROOT = Path(__file__).resolve().parents[1]
_SERVE_URL = re.compile(r"on (http://127\.0\.0\.1:\d+)")
_CLIENT_TIMEOUT_S = 60.0
_LEVEL_TIME_LIMIT_S = 300.0
_RETRY_AFTER_CAP_S = 1.0


def read_texts(path: Path, count: int, seed: int) -> list[str]:
    """``count`` reviews drawn at random (seeded) from a CSV or .csv.gz with a text column."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    rows = [row["text"] for row in csv.DictReader(io.StringIO(raw.decode("utf-8")))]
    return random.Random(seed).sample(rows, min(count, len(rows)))


# ---------------------------------------------------------------------------- in-process


def _in_process_child(bundle: str, threads: int | None, texts: list[str], out: Any) -> None:
    import senticlf

    clf = senticlf.load(bundle, threads=threads)
    clf.predict(texts[:8])  # warm-up: first calls allocate and pick kernels
    clf.predict(texts[0])

    def batched() -> float:
        start = time.perf_counter()
        clf.predict(texts)  # length-sorted batches of the predictor's default size
        return len(texts) / (time.perf_counter() - start)

    first = batched()
    latencies, results = [], []
    start = time.perf_counter()
    for text in texts:
        began = time.perf_counter()
        results.append(clf.predict(text).as_dict())
        latencies.append(time.perf_counter() - began)
    batch1 = len(texts) / (time.perf_counter() - start)
    second = batched()
    out.put(
        {
            "batched_rps_runs": [first, second],
            "batched_rps": max(first, second),
            "batch_size": clf.batch_size,
            "plan": clf.plan.describe(),
            "batch1_rps": batch1,
            "direct_latency_ms": _percentiles(latencies),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "results": results,
        }
    )


def in_process(bundle: Path, threads: int | None, texts: list[str]) -> dict[str, Any]:
    """Measured in a child process, so that its peak RSS is the predictor's alone."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_in_process_child, args=(str(bundle), threads, texts, queue))
    child.start()
    result = queue.get(timeout=1800)
    child.join(timeout=60)
    return result


# ---------------------------------------------------------------------------- servers


class ServerProcess:
    """A server subprocess on 127.0.0.1, its log in a file, stopped by its pid."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd, env=env
        )
        self.url = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, url: str | None = None, timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            if url is None and (found := _SERVE_URL.search(self.log())):
                url = found.group(1)
            if url is not None:
                try:
                    if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                        self.url = url
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not become healthy:\n{self.log()}")

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=10)
        self._log.close()
        return code


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_senticlf(
    bundle: Path, threads: int | None, extra: list[str], log: Path, checkout: Path = ROOT
) -> ServerProcess:
    """``senticlf serve`` from ``checkout`` (another one: e.g. the commit before a change)."""
    command = [sys.executable, "-m", "senticlf.cli", "serve", str(bundle.resolve()), "--port"]
    command += ["0", "--model-name", _V2_MODEL]
    server = ServerProcess(
        "senticlf serve",
        [*command, *(["--threads", str(threads)] if threads else []), *extra],
        {**os.environ, "PYTHONPATH": str(checkout)},
        log,
        cwd=checkout,
    )
    server.wait_ready()
    return server


def start_naive(bundle: Path, threads: int | None, log: Path) -> ServerProcess:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SENTICLF_BUNDLE": str(bundle),
        "SENTICLF_THREADS": str(threads or 0),
    }
    command = [sys.executable, "-m", "uvicorn", "benchmarks.common.naive_server:app", "--host"]
    server = ServerProcess(
        "naive", [*command, "127.0.0.1", "--port", str(port), "--no-access-log"], env, log
    )
    server.wait_ready(f"http://127.0.0.1:{port}")
    return server


# ---------------------------------------------------------------------------- load

# The model name the benchmark gives `senticlf serve` (its KServe v2 route).
_V2_MODEL = "bench"


class Protocol:
    """How one review is sent to a server and its answer read back as {label, scores}.

    ``naive``: the hand-written server's /predict; ``native``: senticlf's /classify; ``tei``:
    /predict with TEI's answer (every label, best first); ``v2``: the KServe v2 infer route.
    """

    def __init__(self, name: str, labels: list[str]) -> None:
        self.name = name
        self.labels = labels
        self.path = {
            "naive": "/predict",
            "native": "/classify",
            "tei": "/predict",
            "v2": f"/v2/models/{_V2_MODEL}/infer",
        }[name]

    def body(self, text: str) -> dict[str, Any]:
        if self.name == "v2":
            return {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [text]}]}
        return {"inputs": text}

    def result(self, answer: Any) -> dict[str, Any]:
        if self.name == "tei":
            return {"label": answer[0]["label"], "scores": {i["label"]: i["score"] for i in answer}}
        if self.name == "v2":
            outputs = {o["name"]: o["data"] for o in answer["outputs"]}
            scores = dict(zip(self.labels, outputs["probabilities"], strict=True))
            return {"label": outputs["label"][0], "scores": scores}
        return answer[0]


async def drive(
    url: str, texts: list[str], concurrency: int, requests: int, protocol: Protocol
) -> dict[str, Any]:
    """``requests`` one-review requests from ``concurrency`` clients; bounded in count and time."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    records: list[tuple[int, int | str, float, Any]] = []
    indices = iter(range(requests))
    deadline = time.monotonic() + _LEVEL_TIME_LIMIT_S

    async with httpx.AsyncClient(limits=limits, timeout=_CLIENT_TIMEOUT_S) as client:

        async def client_loop() -> None:
            for i in indices:
                if time.monotonic() > deadline:
                    return
                began = time.perf_counter()
                status: int | str
                body = None
                try:
                    response = await client.post(
                        f"{url}{protocol.path}", json=protocol.body(texts[i % len(texts)])
                    )
                    status = response.status_code
                    body = protocol.result(response.json()) if status == 200 else None
                except httpx.TimeoutException:
                    status = "timeout"
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                records.append((i, status, time.perf_counter() - began, body))
                if status == 503:  # a well-behaved client waits as told
                    retry = float(response.headers.get("retry-after", "1"))
                    await asyncio.sleep(min(retry, _RETRY_AFTER_CAP_S))

        start = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return summarize(records, wall, concurrency)


def summarize(records: list[tuple[int, Any, float, Any]], wall: float, concurrency: int) -> dict:
    ok = [r for r in records if r[1] == 200]
    rejected = [r for r in records if r[1] == 503]
    errors: dict[str, int] = {}
    for r in records:
        if r[1] not in (200, 503):
            errors[str(r[1])] = errors.get(str(r[1]), 0) + 1
    return {
        "concurrency": concurrency,
        "requests": len(records),
        "ok": len(ok),
        "rejected_503": len(rejected),
        "errors": errors,
        "wall_s": wall,
        "reviews_per_s": len(ok) / wall,
        "latency_ms": _percentiles([r[2] for r in ok]),
        "rejected_latency_ms": _percentiles([r[2] for r in rejected]),
        "bodies": {r[0]: r[3] for r in ok},
    }


def _percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ms = 1000 * np.asarray(seconds)
    return {f"p{q}": float(np.percentile(ms, q)) for q in (50, 90, 99)} | {"mean": float(ms.mean())}


def agreement(bodies: dict[int, Any], direct: list[dict], count: int) -> dict[str, float]:
    """Served results against direct one-at-a-time predict for the same text."""
    diffs, same = [], 0
    for i, body in bodies.items():
        want = direct[i % count]
        same += body["label"] == want["label"]
        diffs.append(max(abs(body["scores"][k] - v) for k, v in want["scores"].items()))
    return {
        "label_agreement": same / len(bodies) if bodies else float("nan"),
        "max_abs_prob_diff": max(diffs) if diffs else float("nan"),
        "exact": sum(d == 0 for d in diffs) / len(diffs) if diffs else float("nan"),
    }


def load_levels(
    server: ServerProcess,
    texts: list[str],
    levels: list[int],
    requests: int,
    direct: list[dict],
    protocol: Protocol,
) -> dict[str, Any]:
    asyncio.run(drive(server.url, texts, 4, 8, protocol))  # warm the path, not counted
    runs = {}
    for concurrency in levels:
        result = asyncio.run(drive(server.url, texts, concurrency, requests, protocol))
        result["agreement"] = agreement(result.pop("bodies"), direct, len(texts))
        runs[str(concurrency)] = result
        print(f"  {server.name} c={concurrency}: {_line(result)}", flush=True)
    return {"levels": runs, "peak_rss_mb": server.peak_rss_mb(), "healthy_after": server.healthy()}


def _line(r: dict[str, Any]) -> str:
    lat = r["latency_ms"]
    return (
        f"{r['reviews_per_s']:.1f} reviews/s, p50 {lat.get('p50', float('nan')):.0f} ms, "
        f"p99 {lat.get('p99', float('nan')):.0f} ms, 503s {r['rejected_503']}, errors {r['errors']}"
    )


# ---------------------------------------------------------------------------- main


@app.command()
def main(
    bundle: Annotated[
        Path | None, typer.Option(help="Bundle to serve [--shape distilbert: built here].")
    ] = None,
    reviews: Annotated[Path, typer.Option(help="CSV(.gz) of IMDb reviews (text column).")] = Path(
        ".device/data/extra_eval.csv.gz"
    ),
    shape: Annotated[str, typer.Option(help="'real' (--bundle) or 'distilbert'.")] = "real",
    tokenizer: Annotated[
        Path | None, typer.Option(help="Tokenizer folder for --shape distilbert.")
    ] = None,
    requests: Annotated[int, typer.Option(help="Requests per concurrency level.")] = 400,
    concurrency: Annotated[str, typer.Option(help="Comma-separated levels.")] = "1,8,32,128",
    overload_queue: Annotated[
        int, typer.Option(help="--max-queue of the overload run at the highest level.")
    ] = 16,
    threads: Annotated[
        int | None,
        typer.Option(help="ONNX Runtime threads everywhere [default: the library's call plan]."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the review sample.")] = 0,
    out: Annotated[Path, typer.Option(help="Results folder.")] = records.FOLDER,
    name: Annotated[str | None, typer.Option(help="File stem [default: serve-<shape>].")] = None,
    protocol: Annotated[
        str, typer.Option(help="How `senticlf serve` is called: native (/classify), tei, v2.")
    ] = "native",
) -> None:
    if protocol not in ("native", "tei", "v2"):
        raise typer.BadParameter("--protocol must be native, tei or v2")
    scratch = Path(tempfile.mkdtemp(prefix="senticlf-serve-load-"))
    if shape == "distilbert" and bundle is None:
        from benchmarks.common.synthetic import distilbert_shaped_bundle

        if tokenizer is None:
            raise typer.BadParameter("--shape distilbert needs --tokenizer")
        _, bundle = distilbert_shaped_bundle(tokenizer, scratch, 512, "head")
    if bundle is None:
        raise typer.BadParameter("--shape real needs --bundle")
    levels = [int(c) for c in concurrency.split(",")]
    texts = read_texts(reviews, requests, seed)
    from senticlf import artifacts
    from senticlf.runtime.tokenize import ReviewEncoder

    manifest = artifacts.read_manifest(bundle)
    tokens = [len(ids) for ids in ReviewEncoder.for_bundle(bundle, manifest).encode(texts)]
    results: dict[str, Any] = {
        "shape": shape,
        "bundle": str(bundle),
        "reviews": len(texts),
        "mean_tokens": float(np.mean(tokens)),
        "max_length": manifest.max_length,
        "threads": threads,
        "requests_per_level": requests,
        "cpu": machine.describe()["cpu"],
    }
    labels = list(manifest.labels)
    served = Protocol(protocol, labels)
    results["protocol"] = protocol
    window = records.LoadWindow()  # closed once the last server has stopped
    print("in-process predict ...", flush=True)
    direct = in_process(bundle, threads, texts)
    results["in_process"] = {k: v for k, v in direct.items() if k != "results"}
    print(f"  {results['in_process']}", flush=True)

    print("naive server ...", flush=True)
    naive = start_naive(bundle, threads, scratch / "naive.log")
    try:
        results["naive"] = load_levels(
            naive, texts, levels, requests, direct["results"], Protocol("naive", labels)
        )
    finally:
        naive.stop()

    print("senticlf serve ...", flush=True)
    server = start_senticlf(bundle, threads, [], scratch / "serve.log")
    try:
        results["serve"] = load_levels(
            server, texts, levels[:-1], requests, direct["results"], served
        )
    finally:
        results["serve"]["exit_code"] = server.stop()

    top = levels[-1]
    print(f"senticlf serve, c={top}, --max-queue {overload_queue} ...", flush=True)
    small = start_senticlf(
        bundle, threads, ["--max-queue", str(overload_queue)], scratch / "overload.log"
    )
    try:
        results["overload"] = load_levels(small, texts, [top], requests, direct["results"], served)
        results["overload"]["max_queue"] = overload_queue
        results["overload"]["server_side_ms"] = server_side_latency(small.url, served.path)
    finally:
        results["overload"]["exit_code"] = small.stop()

    window.close()
    results["targets"] = targets(results, levels)
    stem = name or f"serve-{shape}"
    title = f"`senticlf serve` load test: {shape} bundle"
    figures = {f"{stem}.png": lambda path: plot(results, levels, path)}
    text = records.write(
        stem, results, [markdown(results, levels)], title=title, load=window,
        folder=out, figures=figures,
    )  # fmt: skip
    print(text)


def server_side_latency(url: str, path: str) -> dict[str, dict[str, float]]:
    """Per status, the share of requests the server answered within each latency bucket
    (its own clock: from the first byte received to the response sent), from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    from senticlf.serve.metrics import path_label

    route = path_label(path)
    counts: dict[str, dict[float, float]] = {}
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            wanted = family.name == "senticlf_request_duration_seconds"
            if wanted and sample.name.endswith("_bucket") and labels.get("path") == route:
                counts.setdefault(labels["status"], {})[float(labels["le"])] = sample.value
    shares = {}
    for status, by_bound in counts.items():
        total = by_bound.get(float("inf"), 0.0)
        if total:
            shares[status] = {
                f"{1000 * bound:g}": n / total for bound, n in sorted(by_bound.items())
            }
    return shares


def p99_bound_ms(shares: dict[str, float]) -> float:
    """The smallest bucket bound within which 99% of the requests were answered."""
    for bound, share in shares.items():
        if share >= 0.99:
            return float(bound)
    return float("inf")


def targets(r: dict[str, Any], levels: list[int]) -> dict[str, Any]:
    """The targets, each with the numbers it was judged on."""
    ip, serve, naive = r["in_process"], r["serve"]["levels"], r["naive"]["levels"]
    over = r["overload"]["levels"][str(levels[-1])]
    loaded = [str(c) for c in (8, 32) if str(c) in serve]
    c1_gap = serve["1"]["latency_ms"]["p50"] - ip["direct_latency_ms"]["p50"]
    failed = sum(serve[c]["requests"] - serve[c]["ok"] for c in serve)
    vs_naive = {c: serve[c]["reviews_per_s"] / naive[c]["reviews_per_s"] for c in serve}
    vs_in_process = {c: serve[c]["reviews_per_s"] / ip["batched_rps"] for c in serve}
    refused = r["overload"]["server_side_ms"].get("503", {})
    top = loaded[-1] if loaded else str(levels[-2])
    return {
        "vs_naive": {
            "value": vs_naive,
            "target": ">= 1.1 at concurrency 8 and 32",
            "met": all(vs_naive[c] >= 1.1 for c in loaded),
        },
        "vs_in_process": {
            "value": vs_in_process,
            "target": ">= 0.85 at concurrency 8 and 32",
            "met": all(vs_in_process[c] >= 0.85 for c in loaded),
        },
        "zero_failed_requests": {"value": failed, "met": failed == 0},
        "c1_p50_gap_ms": {"value": c1_gap, "target": "<= 3 ms", "met": c1_gap <= 3},
        "overload": {
            "rejected_503": over["rejected_503"],
            "rejected_client_p99_ms": over["rejected_latency_ms"].get("p99"),
            "rejected_server_p99_bound_ms": p99_bound_ms(refused) if refused else None,
            "errors": over["errors"],
            "accepted_p99_ms": over["latency_ms"].get("p99"),
            f"c{top}_p99_ms": serve[top]["latency_ms"]["p99"],
            "healthy_after": r["overload"]["healthy_after"],
            "met": over["rejected_503"] > 0
            and not over["errors"]
            and bool(refused)
            and p99_bound_ms(refused) <= 20
            and over["latency_ms"]["p99"] <= 2 * serve[top]["latency_ms"]["p99"]
            and r["overload"]["healthy_after"],
        },
        "graceful_exit_codes": [r["serve"]["exit_code"], r["overload"]["exit_code"]],
    }


def markdown(r: dict[str, Any], levels: list[int]) -> str:
    ip, t = r["in_process"], r["targets"]
    lines = [
        f"{r['reviews']} IMDb reviews (mean {r['mean_tokens']:.0f} tokens, max length "
        f"{r['max_length']}), one review per request, {r['requests_per_level']} requests per "
        f"level, threads: {r['threads'] or 'the call plan'}.",
        "",
        "| system | concurrency | reviews/s | p50 ms | p90 ms | p99 ms | 503s | errors | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| in-process `predict`, batches of {ip['batch_size']} | - | {ip['batched_rps']:.1f} | - | - | - | - | - | {ip['peak_rss_mb']:.0f} |",
        f"| in-process `predict`, one at a time | 1 | {ip['batch1_rps']:.1f} | "
        + " | ".join(f"{ip['direct_latency_ms'][q]:.0f}" for q in ("p50", "p90", "p99"))
        + " | - | - | - |",
    ]
    rows = [("naive server", r["naive"], levels), ("`senticlf serve`", r["serve"], levels[:-1])]
    rows.append(
        (f"`senticlf serve --max-queue {r['overload']['max_queue']}`", r["overload"], levels[-1:])
    )
    for label, section, its_levels in rows:
        for c in its_levels:
            run = section["levels"][str(c)]
            lat = run["latency_ms"]
            errors = sum(run["errors"].values())
            lines.append(
                f"| {label} | {c} | {run['reviews_per_s']:.1f} | {lat['p50']:.0f} | "
                f"{lat['p90']:.0f} | {lat['p99']:.0f} | {run['rejected_503']} | {errors} | "
                f"{section['peak_rss_mb']:.0f} |"
            )
    o = t["overload"]
    top_p99 = next(k for k in o if k.startswith("c") and k.endswith("_p99_ms"))
    agree = [
        run["agreement"]
        for section in (r["serve"], r["overload"])
        for run in section["levels"].values()
    ]
    lines += [
        "",
        f"In-process plan: {ip.get('plan', '-')}.",
        "",
        "Targets (same run):",
        "- against the naive server: "
        + ", ".join(f"c={c} {v:.2f}x" for c, v in t["vs_naive"]["value"].items())
        + f" (target >= 1.1x at c=8 and 32): {_met(t['vs_naive'])}",
        "- share of in-process `predict`: "
        + ", ".join(f"c={c} {v:.0%}" for c, v in t["vs_in_process"]["value"].items())
        + f" (target >= 85% at c=8 and 32): {_met(t['vs_in_process'])}",
        f"- failed requests at concurrency {', '.join(map(str, levels[:-1]))}: {t['zero_failed_requests']['value']}: {_met(t['zero_failed_requests'])}",
        f"- concurrency 1: p50 {t['c1_p50_gap_ms']['value']:+.1f} ms against a direct `predict` call (target <= 3 ms): {_met(t['c1_p50_gap_ms'])}",
        f"- concurrency {levels[-1]} with a small queue: {o['rejected_503']} answered 503, server-side p99 <= "
        f"{o['rejected_server_p99_bound_ms'] if o['rejected_server_p99_bound_ms'] is not None else float('nan'):g} ms "
        f"(client-side p99 {o['rejected_client_p99_ms'] or float('nan'):.0f} ms; target <= 20 ms server-side), "
        f"errors {o['errors'] or 'none'}, accepted p99 {o['accepted_p99_ms']:.0f} ms against "
        f"{o[top_p99]:.0f} ms at {top_p99.split('_')[0]} (target <= 2x), "
        f"healthy afterwards: {o['healthy_after']}: {_met(o)}",
        f"- SIGTERM exit codes: {t['graceful_exit_codes']}",
        f"- served labels equal direct `predict` labels for {min(a['label_agreement'] for a in agree):.2%}+ of requests; "
        f"largest probability difference {max(a['max_abs_prob_diff'] for a in agree):.2g} "
        "(a batch-invariant server gives every text the answer it gets alone: at most 1e-4).",
    ]
    return "\n".join(lines) + "\n"


def _met(target: dict[str, Any]) -> str:
    return "**met**" if target["met"] else "**missed**"


def plot(r: dict[str, Any], levels: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    serve = dict(r["serve"]["levels"]) | r["overload"]["levels"]
    for label, runs, style in (
        ("senticlf serve", serve, "o-"),
        ("naive server", r["naive"]["levels"], "s--"),
    ):
        xs = [c for c in levels if str(c) in runs]
        left.plot(xs, [runs[str(c)]["reviews_per_s"] for c in xs], style, label=label)
        right.plot(xs, [runs[str(c)]["latency_ms"]["p99"] for c in xs], style, label=label)
    ip = r["in_process"]
    left.axhline(ip["batched_rps"], color="gray", ls=":", label="in-process, batched")
    left.axhline(ip["batch1_rps"], color="gray", ls="-.", label="in-process, one at a time")
    left.set(xscale="log", xlabel="concurrency", ylabel="reviews / s", title="Throughput")
    right.set(xscale="log", yscale="log", xlabel="concurrency", ylabel="ms", title="p99 latency")
    for axis in (left, right):
        axis.set_xticks(levels, [str(c) for c in levels])
        axis.legend()
    figure.suptitle(
        f"{r['shape']} bundle, threads: {r['threads'] or 'plan'}, {r['cpu']} "
        f"(c={levels[-1]}: --max-queue {r['overload']['max_queue']})"
    )
    figure.tight_layout()
    records.save_png(figure, path)


if __name__ == "__main__":
    app()
