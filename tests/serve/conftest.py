"""Start the real server as a subprocess on a free loopback port, and stop it by its pid.

The server binds port 0 and prints the port it got, so there is no race for a free port.
Every wait here is bounded; a server that does not come up fails the test with its log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install 'senticlf[serve]'")
pytest.importorskip("uvicorn", reason="needs the serve extra: pip install 'senticlf[serve]'")
httpx = pytest.importorskip("httpx", reason="needs httpx (dev extra)")

ROOT = Path(__file__).resolve().parents[2]
_URL = re.compile(r"on (http://127\.0\.0\.1:\d+)")


class ServerProcess:
    """A running ``senticlf serve``; ``url`` is its base address."""

    def __init__(
        self,
        args: list[str],
        log_path: Path,
        slow_s: float | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        if slow_s is None:
            command = [sys.executable, "-m", "senticlf.cli", "serve", *args]
        else:
            command = [sys.executable, "-m", "tests.serve.slow_server", str(slow_s), "serve", *args]
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", "0", "--threads", "1"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
        self.url = self._wait_for_url(timeout_s=60)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_for_url(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = _URL.search(self.log())
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"server did not start:\n{self.log()}")

    def wait_healthy(self, timeout_s: float = 60) -> None:  # /health needs no key
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server never became healthy:\n{self.log()}")

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 30 s; returns the exit code."""
        self.terminate()
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=10)
        self._log.close()
        return code


@pytest.fixture(scope="module")
def server(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server on the tiny bundle for the whole module (starting one costs seconds)."""
    process = ServerProcess(
        [str(bundle), "--max-inputs", "16", "--max-body-bytes", "20000"],
        tmp_path_factory.mktemp("serve") / "server.log",
    )
    process.wait_healthy()
    yield process
    assert process.stop() == 0, process.log()


API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="session")
def keyed_server(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that needs ``AUTH`` (the key comes from SENTICLF_API_KEY, as users should pass it)."""
    process = ServerProcess(
        [str(bundle), "--max-inputs", "16", "--max-body-bytes", "20000", "--model-name", "tiny"],
        tmp_path_factory.mktemp("serve-keyed") / "server.log",
        env={"SENTICLF_API_KEY": API_KEY},
    )
    process.wait_healthy()
    yield process
    assert process.stop() == 0, process.log()
    assert API_KEY not in process.log()
