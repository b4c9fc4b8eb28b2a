"""The oracle node, run by an oracle operator: polls and challenges agents through their HTTP API
(agent_client.py), attests each epoch (epoch_attestation.py, verifier.py), derives mark prices from
the chain's fills (fills.py, marks.py), signs with its keystore, and serves its observations and
signatures to aggregators over its own HTTP API (api.py). It imports no part of the agent or the
aggregator."""
