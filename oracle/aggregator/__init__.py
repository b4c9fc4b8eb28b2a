"""The aggregator: asks oracle nodes for their observations through their HTTP API (node_client.py),
gets the median report signed, and lands it on chain from its sending account (service.py,
submitter.py, sender_account.py). It imports neither the agent nor the oracle node."""
