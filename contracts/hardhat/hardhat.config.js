// A Hardhat node as a second local chain beside Anvil (tests/test_hardhat.py): chain 31337 and the
// default mnemonic, so its dev accounts are Anvil's. The hardfork is the contracts' EVM version
// (pyproject.toml, foundry.toml). Hardhat compiles nothing here: Foundry and ape build the contracts.
module.exports = {
  networks: { hardhat: { chainId: 31337, hardfork: "cancun" } },
  paths: { sources: "./no-sources" },
};
