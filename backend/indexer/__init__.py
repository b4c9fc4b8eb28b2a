"""The chain indexer: eth_getLogs over adaptive ranges into the SQL store, reorg-safe (run.py)."""
