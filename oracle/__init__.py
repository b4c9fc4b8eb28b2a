"""The oracle: three processes over shared protocol code.

agent/       on a provider's GPU node: telemetry, the prover, the HTTP API oracle nodes read
node/        an oracle node: polls and challenges agents, attests each epoch, signs, serves aggregators
aggregator/  collects the nodes' observations, gets the median report signed, lands it on chain
protocol/    what they must agree on: the report's EIP-712 structs, Merkle trees, Freivalds' math,
             consensus rules, the sample and challenge wire formats

settings.py holds each process's settings class; cli.py and embedded.py (the whole oracle in one
process) compose the three, which never import one another (tests/test_layers.py).
"""
