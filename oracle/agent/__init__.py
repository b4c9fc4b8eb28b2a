"""The agent on a provider's GPU node: telemetry sources, sampling, the prover, and the HTTP API it
serves to oracle nodes (api.py). Installed alone by gpuhours[agent]; it imports neither the oracle
node nor the aggregator."""
