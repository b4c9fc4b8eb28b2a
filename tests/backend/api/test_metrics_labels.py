"""/metrics names each request by the route that served it, FastAPI's own documentation routes too; only
a path no route serves is "unmatched"."""

from __future__ import annotations


def test_docs_routes_are_labelled_by_their_path(serve):
    api = serve()
    for path in ("/docs", "/openapi.json", "/no/such/thing"):
        api.get(path)
    metrics = api.get("/metrics").text
    assert 'gpuhours_http_requests_total{method="GET",route="/docs",status="200"} 1.0' in metrics
    assert 'gpuhours_http_requests_total{method="GET",route="/openapi.json",status="200"} 1.0' in metrics
    assert 'gpuhours_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in metrics
