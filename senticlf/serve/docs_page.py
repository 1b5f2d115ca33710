"""``GET /docs``: the OpenAPI page, its Swagger UI files served by this server, no CDN.

FastAPI's own page loads Swagger UI's script, styles and favicon from public CDNs, so on an
air-gapped machine it stays blank. Here the same page (FastAPI's ``get_swagger_ui_html``)
points at the files of the swagger-ui-bundle-v2 package (Swagger UI 5, which reads the
OpenAPI 3.1 document FastAPI writes), mounted under :data:`~senticlf.serve.metrics.DOCS_ASSETS`.
The online validator badge is switched off too: it would call out to validator.swagger.io.
ReDoc's page (``/redoc``) is not served: no package ships its files.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from senticlf.serve.metrics import DOCS_ASSETS

DOCS = "/docs"
# What the page loads, each a file of the package.
SCRIPT, STYLES, FAVICON = "swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"


def add_docs(app: FastAPI) -> None:
    """Serve the OpenAPI page at /docs and its files under DOCS_ASSETS (create the app with
    ``docs_url=None`` so that FastAPI's CDN page is not registered as well)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get(DOCS, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a prefix (--root-path), every URL must keep it.
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{DOCS_ASSETS}/{SCRIPT}",
            swagger_css_url=f"{root}{DOCS_ASSETS}/{STYLES}",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/{FAVICON}",
            swagger_ui_parameters={"validatorUrl": None},
        )
