# Shorthands for scripts/dev, which installs what it needs on first use.
.PHONY: demo test setup gas

demo:
	scripts/dev demo

test:
	scripts/dev test

setup:
	scripts/dev setup

# Rewrite the committed gas snapshot after a contract change.
gas: setup
	cd contracts && FOUNDRY_PROFILE=gas ../node_modules/.bin/forge test
