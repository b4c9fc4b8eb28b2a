"""Liveness, readiness, metrics and the error shape, over HTTP."""

from __future__ import annotations

import httpx

from backend.api.main import create_app
from tests.backend.api.conftest import LiveServer, api_settings


def test_health_ready_and_metrics(serve, index):
    index()
    api = serve()
    assert api.get("/health").json() == {"status": "ok", "role": "api", "chain": "ok"}
    ready = api.get("/ready")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["database"] == "ok" and checks["chain"] == "ok"
    assert checks["lag_blocks"] == checks["head"] - checks["indexed"] >= 0
    metrics = api.get("/metrics").text
    assert 'gpuhours_http_requests_total{method="GET",route="/ready",status="200"} 1.0' in metrics
    assert f'gpuhours_indexer_checkpoint_block{{chain_id="31337"}} {checks["indexed"]}' in metrics


def test_unknown_path_is_json_404(serve):
    response = serve().get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unready_when_the_chain_is_down(store, chain, deployments_dir):
    settings = api_settings(store, chain, deployments_dir, rpc_url="http://127.0.0.1:9")
    with LiveServer(create_app(settings, engine=store)) as server:
        response = httpx.get(f"{server.url}/ready", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready" and body["checks"]["database"] == "ok"
    assert "does not answer" in body["checks"]["chain"]


def test_openapi_documents_every_route_with_examples_and_the_error_shape(serve):
    spec = serve().get("/openapi.json").json()
    operations = [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 28
    for path, method, op in operations:
        assert op.get("summary"), f"{method} {path} has no summary"
        (error,) = op["responses"]["422"]["content"].values()
        assert error["schema"]["$ref"].endswith("/ErrorBody"), f"{method} {path}"
    schemas = spec["components"]["schemas"]
    assert schemas["ErrorBody"]["examples"][0]["error"]["code"] == "stale_counter"
    for name in (
        "OrderCreate",
        "CapacityPublic",
        "FillRequest",
        "UnsignedTx",
        "SettleBookingRequest",
        "SettleUnusedRequest",
        "SettleCapacityRequest",
    ):
        assert schemas[name].get("examples") or schemas[name].get("example"), f"{name} has no example"
