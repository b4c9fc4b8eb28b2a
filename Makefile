# Shorthands for scripts/dev, which installs what it needs on first use.
.PHONY: demo test setup gas

demo:
	scripts/dev demo

test:
	scripts/dev test

setup:
	scripts/dev setup

# Rewrite the committed gas snapshots and docs/benchmarks.md after a contract change.
gas:
	scripts/dev gas
