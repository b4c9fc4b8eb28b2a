"""Merkle trees as OpenZeppelin builds and checks them."""

from __future__ import annotations

import random

import pytest
from eth_abi import encode
from hypothesis import given
from hypothesis import strategies as st

from oracle.agent.telemetry.simulated import SimulatedSource
from oracle.protocol.merkle import (
    MerkleError,
    MerkleTree,
    abi_encode,
    leaf_hash,
    process_proof,
    root_or_zero,
    sha256,
    verify,
)
from oracle.protocol.sample import SAMPLE_LEAF_TYPES, sample_leaf


def test_openzeppelin_readme_vector():
    """@openzeppelin/merkle-tree's README example: same root, leaf and proof."""
    values = [
        ("0x1111111111111111111111111111111111111111", 5000000000000000000),
        ("0x2222222222222222222222222222222222222222", 2500000000000000000),
    ]
    tree = MerkleTree.of(["address", "uint256"], values)
    assert tree.root.hex() == "d4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77"
    assert leaf_hash(["address", "uint256"], values[0]).hex() == (
        "eb02c421cfa48976e66dfb29120745909ea3a0f843456c263cf8f1253483e283"
    )
    assert [p.hex() for p in tree.proof(0)] == [
        "b92c48e9d7abe27fd8dfd6b5dfdbfb1c9a463f80c712b66f3a5180a090cccafc"
    ]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 33, 100])
def test_every_proof_verifies_and_tampering_fails(size):
    rnd = random.Random(size)
    values = [(rnd.getrandbits(64), rnd.randbytes(32)) for _ in range(size)]
    types = ["uint64", "bytes32"]
    tree = MerkleTree.of(types, values)
    for i, v in enumerate(values):
        leaf = leaf_hash(types, v)
        proof = tree.proof(i)
        assert verify(proof, tree.root, leaf)
        assert not verify(proof, tree.root, leaf_hash(types, (v[0] + 1, v[1])))
        if proof:
            assert not verify(proof[:-1], tree.root, leaf)


def test_pair_hashing_is_commutative_like_oz():
    a, b = bytes(range(32)), bytes(range(1, 33))
    assert process_proof([b], a) == process_proof([a], b)


def test_sha256_trees_for_off_chain_commitments():
    leaves = [sha256(bytes([i])) for i in range(10)]
    tree = MerkleTree(leaves, hasher=sha256)
    assert all(verify(tree.proof(i), tree.root, leaves[i], sha256) for i in range(10))
    assert not verify(tree.proof(0), tree.root, leaves[0])  # keccak rule does not accept it


def test_errors():
    with pytest.raises(MerkleError):
        MerkleTree([])
    with pytest.raises(MerkleError):
        MerkleTree([b"short"])
    with pytest.raises(MerkleError):
        MerkleTree([b"\x00" * 32]).proof(1)
    assert root_or_zero(["uint8"], []) == b"\x00" * 32


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["uint8", "uint16", "uint64", "uint256", "int16", "int256"]),
            st.integers(-(2**255), 2**256 - 1),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fast_abi_encoding_equals_eth_abi(pairs):
    types = [t for t, _ in pairs]
    values = []
    for t, v in pairs:
        bits = int(t.lstrip("uint") or 256)
        values.append(v % (1 << bits) if t.startswith("uint") else (v % (1 << bits)) - (1 << (bits - 1)))
    assert abi_encode(types, values) == encode(types, values)


def test_samples_root_and_proof_of_one_sample():
    source = SimulatedSource(seed=3, gpus=4)
    samples = [s for t in range(1_000_000, 1_000_020) for s in source.read_at(float(t)).samples]
    leaves = [sample_leaf(s) for s in samples]
    tree = MerkleTree.of(SAMPLE_LEAF_TYPES, leaves)
    assert verify(tree.proof(37), tree.root, leaf_hash(SAMPLE_LEAF_TYPES, leaves[37]))
    # order of the samples does not change the root (leaves are sorted)
    assert MerkleTree.of(SAMPLE_LEAF_TYPES, list(reversed(leaves))).root == tree.root
    # the fast encoder produced exactly what eth_abi would
    assert abi_encode(SAMPLE_LEAF_TYPES, leaves[0]) == encode(list(SAMPLE_LEAF_TYPES), list(leaves[0]))
