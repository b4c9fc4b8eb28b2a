"""Deploy gpuhours to the connected network and write deployments/<chainId>.json.

    ape run deploy --network ethereum:local:foundry

Escrow, GpuHours and Exchange point at each other through immutables, so they are deployed in that
order at addresses predicted from the deployer's nonce; the Exchange constructor checks the wiring.
Then one LendingPool per GPU class in GPUHOURS_POOL_CLASSES, all with the terms of the GPUHOURS_POOL_*
settings (backend/config.py), recorded under "pools" in the deployment file, each with a BidLiquidator
beside it (under "liquidators") for keepers that flash-liquidate into bids.
On development chains (31337, 1337) the deployer is Anvil's first dev account and MockUSDC is
deployed as the stablecoin; elsewhere the deployer is the ape keystore account named by
GPUHOURS_DEPLOYER_ALIAS and GPUHOURS_STABLECOIN must name the stablecoin.
"""

import click
import rlp
from ape import accounts, chain, project
from eth_utils import keccak, to_bytes, to_checksum_address

from backend.chain import deployments
from backend.chain.dev_accounts import DEV_ORACLE_ACCOUNTS, dev_account
from backend.chain.protocol import DEV_CHAIN_IDS
from backend.config import DeploySettings, load_settings


def create_address(sender: str, nonce: int) -> str:
    return to_checksum_address(keccak(rlp.encode([to_bytes(hexstr=sender), nonce]))[12:])


def _deployer(chain_id: int):
    settings = load_settings(DeploySettings)
    if settings.deployer_alias:
        return accounts.load(settings.deployer_alias)
    if chain_id in DEV_CHAIN_IDS:
        return accounts.test_accounts[0]
    raise click.ClickException(
        f"chain {chain_id} is not a development chain: set GPUHOURS_DEPLOYER_ALIAS to an ape keystore account"
    )


def main():
    settings = load_settings(DeploySettings)
    chain_id = chain.chain_id
    deployer = _deployer(chain_id)
    treasury = settings.treasury or deployer.address
    records = {}

    def record(name, contract, receipt_block):
        records[name] = deployments.Deployed(
            address=contract.address,
            abiHash=deployments.abi_hash(_abi(name)),
            block=receipt_block,
        )

    first_block = chain.blocks.height + 1
    if settings.stablecoin:
        stablecoin = project.MockUSDC.at(settings.stablecoin)  # any ERC-20 with permit answers this ABI
        records["MockUSDC"] = deployments.Deployed(
            address=stablecoin.address, abiHash=deployments.abi_hash(_abi("MockUSDC")), block=0
        )
    elif chain_id in DEV_CHAIN_IDS:
        stablecoin = deployer.deploy(project.MockUSDC)
        record("MockUSDC", stablecoin, chain.blocks.height)
    else:
        raise click.ClickException(f"chain {chain_id}: set GPUHOURS_STABLECOIN to the stablecoin's address")

    nonce = deployer.nonce
    hours_at, exchange_at = (
        create_address(deployer.address, nonce + 1),
        create_address(deployer.address, nonce + 2),
    )
    escrow = deployer.deploy(project.Escrow, stablecoin, hours_at, exchange_at, treasury, settings.fee_bps)
    record("Escrow", escrow, chain.blocks.height)
    gpu_hours = deployer.deploy(project.GpuHours, escrow, exchange_at, deployer, settings.metadata_uri)
    record("GpuHours", gpu_hours, chain.blocks.height)
    exchange = deployer.deploy(project.Exchange, stablecoin, gpu_hours, escrow)
    record("Exchange", exchange, chain.blocks.height)
    if settings.min_bond_per_unit:
        gpu_hours.setMinBondPerUnit(settings.min_bond_per_unit, sender=deployer)

    signers = sorted(_oracle_signers(chain_id), key=lambda a: int(a, 16))
    oracle = deployer.deploy(
        project.AttestationOracle, deployer, signers, settings.oracle_threshold, settings.oracle_max_delay
    )
    record("AttestationOracle", oracle, chain.blocks.height)
    sla = (
        settings.sla_min_uptime_bps,
        settings.sla_min_gflops_per_joule,
        settings.sla_grace_hours,
        settings.sla_slash_per_gpu_hour,
    )
    settlement = deployer.deploy(project.Settlement, gpu_hours, escrow, oracle, deployer, sla)
    record("Settlement", settlement, chain.blocks.height)
    gpu_hours.setSettlement(settlement, sender=deployer)

    terms = settings.pool_terms()
    pools, liquidators = {}, {}
    for gpu_class in settings.pool_classes:
        pool = deployer.deploy(
            project.LendingPool,
            *terms.constructor_args(stablecoin.address, gpu_hours.address, oracle.address, gpu_class),
        )
        pools[gpu_class] = deployments.Deployed(
            address=pool.address,
            abiHash=deployments.abi_hash(_abi(deployments.POOL_CONTRACT)),
            block=chain.blocks.height,
        )
        liquidator = deployer.deploy(project.BidLiquidator, pool, exchange)
        liquidators[gpu_class] = deployments.Deployed(
            address=liquidator.address,
            abiHash=deployments.abi_hash(_abi(deployments.LIQUIDATOR_CONTRACT)),
            block=chain.blocks.height,
        )

    deployment = deployments.Deployment(
        chainId=chain_id,
        deployBlock=first_block,
        deployer=deployer.address,
        params={
            "feeBps": settings.fee_bps,
            "treasury": treasury,
            "minBondPerUnit": settings.min_bond_per_unit,
            "metadataUri": settings.metadata_uri,
            "oracleSigners": signers,
            "oracleThreshold": settings.oracle_threshold,
            "oracleMaxDelay": settings.oracle_max_delay,
            "sla": dict(
                zip(("minUptimeBps", "minGflopsPerJoule", "graceHours", "slashPerGpuHour"), sla, strict=True)
            ),
            "pools": terms.as_json(),
        },
        contracts=records,
        pools=pools,
        liquidators=liquidators,
    )
    names = [*deployments.CORE_CONTRACTS, deployments.POOL_CONTRACT, deployments.LIQUIDATOR_CONTRACT]
    path = deployments.write(settings.deployments_dir, deployment, {name: _abi(name) for name in names})
    click.echo(f"deployed gpuhours to chain {chain_id}: {path}")
    for name, deployed in records.items():
        click.echo(f"  {name:<9} {deployed.address}")
    for gpu_class, deployed in pools.items():
        click.echo(f"  pool {gpu_class}: {deployed.address} (liquidator {liquidators[gpu_class].address})")


def _oracle_signers(chain_id: int) -> list[str]:
    settings = load_settings(DeploySettings)
    if settings.oracle_signers:
        return [to_checksum_address(a) for a in settings.oracle_signers]
    if chain_id in DEV_CHAIN_IDS:
        return [dev_account(i, chain_id).address for i in DEV_ORACLE_ACCOUNTS]
    raise click.ClickException(
        f"chain {chain_id}: set GPUHOURS_ORACLE_SIGNERS to the oracle signer addresses"
    )


def _abi(name: str) -> list[dict]:
    return [item.model_dump(mode="json", by_alias=True) for item in getattr(project, name).contract_type.abi]
