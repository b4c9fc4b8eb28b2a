"""The web page: the static files `npm run build:web` writes to backend/web/dist, served by the API.

Only `/` (the page) and `/assets/` (its hashed scripts and styles) are taken, so no API route, the
OpenAPI pages, /metrics or /events/stream is shadowed; the page routes itself by the URL's fragment.
Without a build (a checkout that never ran the set-up) the API serves no page and says nothing.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

WEB_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"


def install(app: FastAPI, dist: Path = WEB_DIST) -> bool:
    """Serve the built page at `/` when `dist` holds one; whether it does."""
    index = dist / "index.html"
    if not index.is_file() or not (dist / "assets").is_dir():
        return False

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        # Revalidated each load, so a rebuild shows at once; the assets' names change with their content.
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    # Not checked again here: a rebuild under a running process empties the folder for a moment.
    app.mount("/assets", StaticFiles(directory=dist / "assets", check_dir=False), name="web-assets")
    return True
