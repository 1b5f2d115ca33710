"""`senticlf serve` from the command line: errors are one line, and no torch anywhere."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import assert_one_line_error, invoke, run_without_training_libraries


def test_a_missing_bundle_is_one_error_line(tmp_path: Path) -> None:
    assert_one_line_error(invoke("serve", tmp_path / "nope"), "does not exist")


def test_a_bad_option_is_one_error_line(bundle: Path) -> None:
    assert_one_line_error(invoke("serve", bundle, "--streams", "0"), "--streams")


def test_an_empty_api_key_is_one_error_line(bundle: Path) -> None:
    assert_one_line_error(invoke("serve", bundle, "--api-key", " "), "--api-key")


def test_a_port_in_use_is_one_error_line(bundle: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("serve", bundle, "--port", port)
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}")


def test_serving_imports_neither_torch_nor_transformers(bundle: Path) -> None:
    result = run_without_training_libraries(
        f"""
        import asyncio
        import httpx
        import senticlf
        from senticlf.serve.app import create_app
        from senticlf.serve.config import ServeConfig
        from senticlf.serve.server import serve  # uvicorn and the server module too

        app = create_app(senticlf.load({str(bundle)!r}, threads=1), ServeConfig())

        async def main():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return (await client.get("/info")).json()

        print(asyncio.run(main())["labels"])
        """
    )
    assert result.returncode == 0, result.stderr
    assert "negative" in result.stdout


def test_the_cli_loads_no_web_stack_until_serve_runs() -> None:
    script = "import sys; from senticlf.cli import app; " + (
        "print([m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', 'uvicorn', 'prometheus_client')])"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
