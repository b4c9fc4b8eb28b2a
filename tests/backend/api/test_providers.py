"""Node metadata over HTTP: written only by the node's owner on chain, read by anyone."""

from __future__ import annotations

from tests.backend.api.test_auth import bearer, error, sign_in

METADATA = {
    "name": "fra-h100-01",
    "description": "2x H100, NVLink",
    "endpoint": "https://fra-h100-01.example.net/",
    "tags": ["h100", "eu-west"],
}


def test_the_owner_describes_its_node(serve, market, accounts):
    api = serve()
    owner, other = accounts[1], accounts[2]
    node = market.register_node(owner, "H100-SXM5-80GB", 2, 80, "eu-west", "NVLink", ["GPU-a", "GPU-b"])
    path = f"/providers/nodes/{node}/metadata"
    assert error(api.get(path)) == (404, "not_found")
    assert error(api.put(path, json=METADATA)) == (401, "unauthorized")

    token = sign_in(api, owner)
    written = api.put(path, json=METADATA, headers=bearer(token))
    assert written.status_code == 200, written.text
    got = written.json()
    assert {k: got[k] for k in METADATA} == METADATA
    assert got["owner"] == owner.address and got["node_id"] == node and got["chain_id"] == market.chain_id
    assert api.get(path).json() == got

    # A second write replaces the first.
    again = api.put(path, json={"name": "fra-h100-01b", "tags": []}, headers=bearer(token)).json()
    assert (again["name"], again["description"], again["endpoint"], again["tags"]) == (
        "fra-h100-01b",
        "",
        None,
        [],
    )
    assert api.get(path).json()["name"] == "fra-h100-01b"

    stranger = sign_in(api, other)
    refused = api.put(path, json=METADATA, headers=bearer(stranger))
    assert error(refused) == (403, "not_node_owner") and owner.address in refused.json()["error"]["reason"]
    assert error(api.put("/providers/nodes/999/metadata", json=METADATA, headers=bearer(token))) == (
        404,
        "unknown_node",
    )
    for bad in ({**METADATA, "endpoint": "ftp://x"}, {**METADATA, "name": ""}, {**METADATA, "tags": ["a b"]}):
        assert error(api.put(path, json=bad, headers=bearer(token))) == (422, "invalid_request")

    # Ownership is read from the chain at each write: after a transfer the new owner writes.
    market.send(owner, market.hours.functions.transferNode(node, other.address))
    assert error(api.put(path, json=METADATA, headers=bearer(token))) == (403, "not_node_owner")
    moved = api.put(path, json=METADATA, headers=bearer(stranger))
    assert moved.status_code == 200 and moved.json()["owner"] == other.address
