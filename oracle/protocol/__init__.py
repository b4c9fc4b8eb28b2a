"""What the oracle's processes must agree on: wire formats, signed structs and the math both sides run.

The agent, the oracle node and the aggregator each import this package; it imports none of them.
"""
