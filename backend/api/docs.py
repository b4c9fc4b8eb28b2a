"""Swagger UI at /docs from files this installation holds (npm `swagger-ui-dist`, pinned), never a
CDN: the API's documentation works offline and loads nothing from a third party."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from backend.config import REPO_ROOT

log = logging.getLogger(__name__)

SWAGGER_DIR = REPO_ROOT / "node_modules" / "swagger-ui-dist"
ASSETS = "/docs/assets"


def install(app: FastAPI) -> None:
    """Mount the assets and the page; the app must be created with docs_url=None, redoc_url=None."""
    if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
        log.warning("no %s (npm ci installs it): /docs is not served; /openapi.json is", SWAGGER_DIR)
        return
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_DIR), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
