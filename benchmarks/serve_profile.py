"""Where a server's CPU goes under load: py-spy samples, grouped by what the code is doing.

    python -m benchmarks.serve_profile --bundle /tmp/ref-bundle \
        --reviews ../shared/runs/minilm-imdb-1k/val.csv --concurrency 1,8,32

For `senticlf serve` and the naive server (benchmarks/common/naive_server.py), each at each
concurrency: the server starts on 127.0.0.1, a bounded load (benchmarks.serve_load's client,
one review per request) runs while ``py-spy record --format raw --nonblocking`` samples the
server process (busy threads only), and every sample is put in one bucket by the frames on its
stack: the model (ONNX Runtime's ``run``), tokenizing, padding and feeding, JSON, HTTP (uvicorn,
h11/httptools, starlette, fastapi routing and validation), the batcher, metrics, and the rest.
Both the server and the client run on the same cores, so the client's share is the cores'
time the server did not use. Writes benchmarks/results/<name>.{json,md}.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from benchmarks import serve_load
from benchmarks.common import results

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

# First match wins, innermost frame first: a sample is charged to what it is doing right now.
# py-spy names a frame "function (file:line)".
BUCKETS = (
    ("model (onnxruntime run)", (r"\(.*onnxruntime_inference_collection\.py",)),
    ("tokenize", (r"^(encode|normalize|replace_lone_surrogates) \(.*tokenize\.py",)),
    ("pad and feed", (r"^(pad|pad_batch) \(.*tokenize\.py", r"^(feed|logits) \(.*session\.py")),
    ("probabilities and answer", (r"\(.*(predictor|calibration|plan)\.py", r"\(.*protocols/")),
    ("json", (r"\(.*json/", r"orjson", r"^parse_json \(")),
    ("batcher and streams", (r"\(.*(batcher|streams)\.py", r"\(.*(concurrent/futures|threading)")),
    ("metrics", (r"\(.*metrics\.py", r"prometheus_client")),
    ("http and routing", (r"\(.*(uvicorn|h11|httptools|starlette|fastapi|pydantic|anyio)",)),
    ("event loop", (r"\(.*asyncio/",)),
)
_PATTERNS = [(name, [re.compile(m) for m in markers]) for name, markers in BUCKETS]


def bucket_of(stack: list[str]) -> str:
    for frame in reversed(stack):  # innermost first
        for name, patterns in _PATTERNS:
            if any(pattern.search(frame) for pattern in patterns):
                return name
    return "other"


def read_raw(path: Path) -> Counter[str]:
    """py-spy's raw (collapsed) output: 'frame;frame;... count' per line."""
    found: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            found[bucket_of(stack.split(";"))] += int(count)
    return found


def profile_level(
    server: serve_load.ServerProcess,
    texts: list[str],
    concurrency: int,
    requests: int,
    protocol: serve_load.Protocol,
    rate: int,
) -> dict[str, Any]:
    asyncio.run(serve_load.drive(server.url, texts, 4, 8, protocol))  # warm, not counted
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "profile.txt"
        spy = subprocess.Popen(
            ["py-spy", "record", "--pid", str(server.process.pid), "--format", "raw",
             "--nonblocking", "--rate", str(rate), "--output", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.0)  # py-spy attaches
        result = asyncio.run(serve_load.drive(server.url, texts, concurrency, requests, protocol))
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
        samples = read_raw(raw)
    wall = result["wall_s"]
    total = sum(samples.values())
    return {
        "concurrency": concurrency,
        "reviews_per_s": result["reviews_per_s"],
        "wall_s": wall,
        "samples": dict(samples),
        # samples / rate = busy thread-seconds; per review, in ms of one core
        "ms_per_review": {
            k: 1000 * v / rate / max(result["ok"], 1) for k, v in samples.most_common()
        },
        "busy_cores": total / rate / (wall + 1.0),
    }


@app.command()
def main(
    bundle: Annotated[Path, typer.Option(help="The bundle to serve.")],
    reviews: Annotated[Path, typer.Option(help="CSV(.gz) of reviews (text column).")],
    concurrency: Annotated[str, typer.Option(help="Comma-separated levels.")] = "1,8,32",
    requests: Annotated[int, typer.Option(help="Requests per level.")] = 300,
    rate: Annotated[int, typer.Option(help="py-spy samples per second.")] = 200,
    name: Annotated[str, typer.Option(help="Results file stem.")] = "serve-profile",
    checkout: Annotated[
        Path, typer.Option(help="The senticlf checkout whose server is profiled.")
    ] = serve_load.ROOT,
    naive: Annotated[bool, typer.Option(help="Profile the naive server too.")] = True,
    out: Annotated[Path, typer.Option(help="Results folder.")] = results.FOLDER,
) -> None:
    from senticlf import artifacts

    texts = serve_load.read_texts(reviews, requests, seed=0)
    labels = list(artifacts.read_manifest(bundle).labels)
    levels = [int(c) for c in concurrency.split(",")]
    record: dict[str, Any] = {"bundle": str(bundle), "requests": requests, "servers": {}}
    scratch = Path(tempfile.mkdtemp(prefix="senticlf-profile-"))
    starts = {
        "senticlf serve": lambda: serve_load.start_senticlf(
            bundle, None, [], scratch / "s.log", checkout.resolve()
        ),
        "naive server": lambda: serve_load.start_naive(bundle, None, scratch / "n.log"),
    }
    if not naive:
        del starts["naive server"]
    record["checkout"] = str(checkout)
    protocols = {"senticlf serve": "native", "naive server": "naive"}
    with results.load_window() as load:
        for server_name, start in starts.items():
            server = start()
            try:
                protocol = serve_load.Protocol(protocols[server_name], labels)
                record["servers"][server_name] = [
                    profile_level(server, texts, c, requests, protocol, rate) for c in levels
                ]
            finally:
                server.stop()
    title = "Where the server's CPU goes (py-spy, busy threads only)"
    print(results.write(name, record, [markdown(record)], title=title, load=load, folder=out))


def markdown(record: dict[str, Any]) -> str:
    lines = [
        "Milliseconds of one core per review, by what the server was doing:",
        "",
    ]
    names = [name for name, _ in BUCKETS] + ["other"]
    header = "| server | c | reviews/s | busy cores | " + " | ".join(names) + " |"
    lines += [header, "|" + " --- |" * (4 + len(names))]
    for server, levels in record["servers"].items():
        for level in levels:
            cells = " | ".join(f"{level['ms_per_review'].get(n, 0.0):.2f}" for n in names)
            lines.append(
                f"| {server} | {level['concurrency']} | {level['reviews_per_s']:.1f} | "
                f"{level['busy_cores']:.2f} | {cells} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    app()
