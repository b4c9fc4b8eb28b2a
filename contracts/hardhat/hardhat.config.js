// A Hardhat node as a second local chain beside Anvil (tests/test_hardhat.py): chain 31337 and the
// default mnemonic, so its dev accounts are Anvil's. The hardfork is the contracts' EVM version
// (pyproject.toml, foundry.toml). Hardhat compiles nothing here: Foundry and ape build the contracts.
const { extendProvider } = require("hardhat/config");
const { ProviderWrapper } = require("hardhat/plugins");

// Hardhat answers eth_mining with false even while it mines every transaction as it arrives; a
// client (ape's node provider, which deploys) then takes each sent transaction as pending forever.
// Here eth_mining says what the node does: whether it automines.
class MiningAnswer extends ProviderWrapper {
  async request(args) {
    if (args.method === "eth_mining") {
      return this._wrappedProvider.request({ method: "hardhat_getAutomine", params: [] });
    }
    return this._wrappedProvider.request(args);
  }
}

extendProvider(async (provider) => new MiningAnswer(provider));

module.exports = {
  networks: { hardhat: { chainId: 31337, hardfork: "cancun" } },
  paths: { sources: "./no-sources" },
};
