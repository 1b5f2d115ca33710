"""``GET /docs`` works air-gapped: every file the page loads is served by the server itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import senticlf
from senticlf.serve.app import create_app
from senticlf.serve.config import ServeConfig
from senticlf.serve.metrics import path_label

testclient = pytest.importorskip("starlette.testclient")

# Any URL with a scheme or a network-path reference ("//host/...") leaves the machine.
_OFF_MACHINE = re.compile(r"""(?:[a-z][a-z0-9+.-]*:)?//[^\s'"<>]+""", re.IGNORECASE)
_REFERENCES = re.compile(r"""(?:src|href)="([^"]+)"|url:\s*'([^']+)'""")


def test_the_docs_page_loads_nothing_from_off_the_machine(bundle: Path) -> None:
    app = create_app(senticlf.load(bundle, threads=1), ServeConfig())
    with testclient.TestClient(app) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "SwaggerUIBundle" in page.text
        assert _OFF_MACHINE.findall(page.text) == []
        references = [a or b for a, b in _REFERENCES.findall(page.text)]
        assert len(references) == 4, references  # styles, favicon, script, the OpenAPI document
        kinds = {}
        for url in references:
            answer = client.get(url)
            assert answer.status_code == 200, url
            kinds[url.rsplit(".", 1)[-1]] = answer.headers["content-type"]
        assert kinds["js"].startswith(("text/javascript", "application/javascript"))
        assert kinds["css"].startswith("text/css") and kinds["png"] == "image/png"
        assert kinds["json"].startswith("application/json")
        assert client.get("/redoc").status_code == 404  # its files come from a CDN only
        script = next(url for url in references if url.endswith(".js"))
        metrics = client.get("/metrics").text
    assert path_label(script) == "/docs/assets"
    assert 'senticlf_requests_total{path="/docs/assets",status="200"} 3.0' in metrics


def test_behind_a_prefix_the_page_keeps_it(bundle: Path) -> None:
    app = create_app(senticlf.load(bundle, threads=1), ServeConfig())
    with testclient.TestClient(app, root_path="/sentiment") as client:
        page = client.get("/docs").text
    assert "/sentiment/docs/assets/swagger-ui-bundle.js" in page
    assert "url: '/sentiment/openapi.json'" in page
