"""Headless Chromium for the pages senticlf writes and serves: the DOM after scripts ran, the
requests the page made (from Chromium's net log), and a screenshot.

Chromium itself calls home in the background (update checks, account lists) whatever the flags;
those requests carry no page origin as initiator and are set apart from the page's own. Every
host but 127.0.0.1 resolves to nothing, so no test can reach the network even by mistake.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    BROWSER is None,
    reason="needs Chromium (Debian: apt-get install chromium; .ci/run installs it)",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
_BACKGROUND = "not an origin"  # the initiator of Chromium's own requests
LOCAL = re.compile(r"^(https?://127\.0\.0\.1(:\d+)?/|file:|data:|blob:|about:|chrome:)")


@dataclass(frozen=True)
class Render:
    dom: str
    page_requests: list[str]  # URLs the page (not Chromium itself) asked for
    screenshot: Path


def render(url: str, folder: Path, wait_ms: int = 10_000) -> Render:
    """Load ``url`` twice in a fresh profile: once to dump the DOM (with its net log), once for
    a 1200x900 screenshot; scripts get ``wait_ms`` of virtual time (fetches finish first)."""
    assert BROWSER is not None
    folder.mkdir(parents=True, exist_ok=True)
    net_log, shot = folder / "net-log.json", folder / "page.png"
    common = [BROWSER, *FLAGS, f"--virtual-time-budget={wait_ms}"]
    dom = _chromium(
        [*common, f"--user-data-dir={folder / 'profile-dom'}", f"--log-net-log={net_log}"],
        ["--dump-dom", url],
    )
    _chromium(
        [*common, f"--user-data-dir={folder / 'profile-shot'}", "--window-size=1200,900"],
        [f"--screenshot={shot}", url],
    )
    assert shot.is_file(), "Chromium wrote no screenshot"
    return Render(dom, page_requests(net_log), shot)


def _chromium(flags: list[str], action: list[str]) -> str:
    done = subprocess.run(
        [*flags, *action], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def page_requests(net_log: Path) -> list[str]:
    """The URLs of every request a page started (initiator set), from a Chromium net log."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] == start and params.get("initiator") not in (None, _BACKGROUND):
            urls.append(params["url"])
    return urls


def external(urls: list[str]) -> list[str]:
    return [url for url in urls if not LOCAL.match(url)]


def pixels_show_content(png: Path) -> dict[str, float]:
    """Share of non-white pixels and of green- and red-shaded pixels in a screenshot."""
    image = pytest.importorskip("PIL.Image", reason="needs pillow (matplotlib brings it)")
    import numpy as np

    rgb = np.asarray(image.open(png).convert("RGB"), dtype=np.int16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return {
        "ink": float(np.mean(rgb.sum(axis=2) < 720)),
        "green": float(np.mean((g - r > 25) & (g - b > 25))),
        "red": float(np.mean((r - g > 25) & (r - b > 25))),
        "spread": float(rgb.std()),
    }
