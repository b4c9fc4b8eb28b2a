"""The HTTP API: FastAPI over the SQL store the indexer fills, and the chain for what wallets sign."""
