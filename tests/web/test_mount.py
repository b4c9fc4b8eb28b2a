"""backend/api/web.py: the built page at `/` and its assets at `/assets/`, beside the API, never over it."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from backend.api import web


def _app() -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/capacities")

    @router.get("")
    def capacities() -> dict[str, list[int]]:
        return {"items": []}

    app.include_router(router)
    return app


def test_a_built_page_is_served_at_the_root(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<script type="module" src="/assets/index-1.js"></script>')
    (tmp_path / "assets" / "index-1.js").write_text("console.log(1)")
    app = _app()
    assert web.install(app, tmp_path)
    client = TestClient(app)
    page = client.get("/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
    assert "/assets/index-1.js" in page.text
    assert client.get("/assets/index-1.js").text == "console.log(1)"
    assert client.get("/capacities").json() == {"items": []}
    # A method the API does not take is still the router's 405 with its Allow header, not a file's.
    refused = client.delete("/capacities")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET"
    assert client.get("/no-such-page").status_code == 404
    assert "/" not in app.openapi()["paths"]


def test_without_a_build_there_is_no_page(tmp_path):
    app = _app()
    assert not web.install(app, tmp_path)
    assert TestClient(app).get("/").status_code == 404
