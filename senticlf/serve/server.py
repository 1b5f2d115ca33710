"""``senticlf serve``: load a bundle, listen, serve until SIGTERM or Ctrl-C.

The socket is bound here, before uvicorn starts, so that a port in use is one ``error:`` line
(exit 2) rather than a log record and exit 1, and so that ``--port 0`` can report the port it
got. SIGTERM is a normal way to stop a server (Kubernetes, systemd): uvicorn stops accepting,
answers what is in flight, the batcher finishes its queue, and the process exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from rich.console import Console

from senticlf.errors import SenticlfError
from senticlf.runtime.options import PredictorOptions
from senticlf.runtime.predictor import SentimentClassifier
from senticlf.serve.app import create_app
from senticlf.serve.config import ServeConfig


class _GracefulServer(uvicorn.Server):
    """uvicorn, except that a graceful stop on SIGTERM ends with exit code 0.

    uvicorn re-raises the signal it caught once it has shut down, so the process would die of
    SIGTERM (exit 143) after a clean stop; orchestrators read that as a crash.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            captured = getattr(self, "_captured_signals", [])
            captured[:] = [sig for sig in captured if sig != signal.SIGTERM]


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
    # that say they are TCP, and with it on, a response written as headers then body waits
    # for the client's delayed ACK: 40 ms per request.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SenticlfError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    bundle: Path,
    config: ServeConfig,
    options: PredictorOptions,
    console: Console,
    api_key: str | None = None,
) -> None:
    """Serve ``bundle`` until stopped; returns after a graceful shutdown."""
    options = options.with_changes(min_confidence=config.min_confidence)
    classifier = SentimentClassifier(bundle, options)
    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    console.print(
        f"serving {bundle} ({classifier.model_file}; {classifier.plan.describe()}) on "
        f"http://{shown_host}:{port} (docs at /docs" + (", API key required)" if api_key else ")"),
        highlight=False,
        soft_wrap=True,
    )
    app = create_app(classifier, config, api_key=api_key)
    server = _GracefulServer(
        uvicorn.Config(
            app,
            host=config.host,
            port=port,
            access_log=False,  # a line per request costs more than the request at low latency
            log_level="info",
            timeout_graceful_shutdown=60,
        )
    )
    server.run(sockets=[sock])
