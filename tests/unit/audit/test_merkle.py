"""RFC 6962 hashing and RFC 9162 proofs: every (i, n) and (m, n) up to n = 300, mutations, pymerkle parity."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    fold,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    subtree_ranges,
    verify_consistency,
    verify_inclusion,
)

N = 300
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(N)]


# An independent, recursive reference straight from RFC 6962 §2.1, memoised on (lo, hi).
@cache
def mth(lo: int, hi: int) -> bytes:
    n = hi - lo
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return LEAVES[lo]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi)).digest()


def ref_path(m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*ref_path(m, lo, lo + k), mth(lo + k, hi)]
    return [*ref_path(m - k, lo + k, hi), mth(lo, lo + k)]


def ref_subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if b else [mth(lo, hi)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*ref_subproof(m, lo, lo + k, b), mth(lo + k, hi)]
    return [*ref_subproof(m - k, lo + k, hi, False), mth(lo, lo + k)]


def test_known_answers() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == root([])
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    # three leaves: MTH = H(1 || H(1 || l0 || l1) || l2) — split at 2, not balanced
    l0, l1, l2 = LEAVES[:3]
    assert root(LEAVES[:3]) == node_hash(node_hash(l0, l1), l2)


def test_roots_frontiers_and_reference_agree_for_every_size() -> None:
    frontier = Frontier()
    assert frontier.root() == EMPTY_ROOT
    for n in range(1, N + 1):
        frontier.append(LEAVES[n - 1])
        assert frontier.size == n
        assert frontier.root() == mth(0, n) == root(LEAVES[:n])
        assert [mth(a, b) for a, b in subtree_ranges(n)] == frontier.hashes
        assert Frontier.from_bytes(n, frontier.to_bytes()) == frontier
        assert fold(frontier.hashes) == frontier.root()


def test_every_inclusion_proof_up_to_300_verifies_and_rejects_mutations() -> None:
    for n in range(1, N + 1):
        r = mth(0, n)
        for i in range(n):
            proof = ref_path(i, 0, n)
            assert verify_inclusion(i, n, LEAVES[i], proof, r), (i, n)
            # cheap mutations on every case; the full taxonomy runs under hypothesis below
            assert not verify_inclusion(i, n, LEAVES[(i + 1) % N], proof, r)
            assert not verify_inclusion(i, n * 2, LEAVES[i], proof, r)
            if proof:
                assert not verify_inclusion(i, n, LEAVES[i], proof[:-1], r)
            assert not verify_inclusion(i, n, LEAVES[i], [*proof, r], r)


def test_every_consistency_proof_up_to_300_verifies_and_rejects_mutations() -> None:
    for n in range(1, N + 1):
        r2 = mth(0, n)
        for m in range(1, n + 1):
            proof = ref_subproof(m, 0, n, True) if m < n else []
            r1 = mth(0, m)
            assert verify_consistency(m, n, r1, r2, proof), (m, n)
            if m < n:
                assert not verify_consistency(m, n, r2, r1, proof)
                assert not verify_consistency(m, n, r1, r2, proof[:-1])
                assert not verify_consistency(m, n, r1, r2, [*proof, r1])
                assert not verify_consistency(m, n * 2, r1, r2, proof)


def test_generators_equal_the_reference() -> None:
    for n in range(1, 97):
        for i in range(n):
            assert inclusion_proof(i, LEAVES[:n]) == ref_path(i, 0, n)
        for m in range(0, n + 1):
            expected = ref_subproof(m, 0, n, True) if 0 < m < n else []
            assert consistency_proof(m, LEAVES[:n]) == expected


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8 % 32] ^= 1 << (bit % 8)
    return bytes(b)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, N), st.data())
def test_inclusion_mutations_all_fail(n: int, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, n - 1))
    leaves = LEAVES[:n]
    proof = inclusion_proof(i, leaves)
    r = root(leaves)
    assert verify_inclusion(i, n, leaves[i], proof, r)
    bad: list[tuple[int, int, bytes, list[bytes], bytes]] = [
        (i, n, leaves[i], proof, EMPTY_ROOT),  # empty root
        (i, n, _flip(leaves[i], 3), proof, r),  # wrong leaf
        (i, n, leaves[i], proof, _flip(r, 200)),  # random root
        (i, n * 2, leaves[i], proof, r),
        (i, n, leaves[i], [*proof, proof[-1] if proof else r], r),  # trailing garbage
        (i, n, leaves[i], [r, *proof], r),  # preceding root
    ]
    if i + 1 < n:
        bad.append((i + 1, n, leaves[i], proof, r))
    if i > 0:
        bad.append((i - 1, n, leaves[i], proof, r))
    if i ^ 2 < n and i ^ 2 != i:
        bad.append((i ^ 2, n, leaves[i], proof, r))
    if n // 2 > i:
        bad.append((i, n // 2, leaves[i], proof, r))
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        bad.append((i, n, leaves[i], [*proof[:k], _flip(proof[k], bit), *proof[k + 1 :]], r))
        bad.append((i, n, leaves[i], proof[:k] + proof[k + 1 :], r))  # removed component
        bad.append((i, n, leaves[i], [*proof[:k], proof[k], *proof[k:]], r))  # inserted component
    for case in bad:
        assert not verify_inclusion(*case), case[:2]


@settings(max_examples=400, deadline=None)
@given(st.integers(2, N), st.data())
def test_consistency_mutations_all_fail(n: int, data: st.DataObject) -> None:
    m = data.draw(st.integers(1, n - 1))
    leaves = LEAVES[:n]
    proof = consistency_proof(m, leaves)
    r1, r2 = root(leaves[:m]), root(leaves)
    assert verify_consistency(m, n, r1, r2, proof)
    bad: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (m, n, r1, r2, []),  # empty proof
        (m, n, r1, r2, proof[:-1]),  # truncated
        (m, n, r2, r1, proof),  # swapped roots
        (m, n, _flip(r1, 9), r2, proof),
        (m, n, r1, _flip(r2, 9), proof),
        (m, n, r1, r2, [r1, *proof]),  # preceding root1
        (m, n, r1, r2, [*proof, r2]),  # trailing root2
        (m, n * 2, r1, r2, proof),  # the hash-tree 0.1.1 bug: size2 not consumed
        (n, m, r2, r1, proof),  # first > second
    ]
    if m + 1 < n:
        bad.append((m + 1, n, r1, r2, proof))
    if m > 1:
        bad.append((m - 1, n, r1, r2, proof))
    if n // 2 > m:
        bad.append((m, n // 2, r1, r2, proof))
    k = data.draw(st.integers(0, len(proof) - 1))
    bad.append((m, n, r1, r2, [*proof[:k], _flip(proof[k], data.draw(st.integers(0, 255))), *proof[k + 1 :]]))
    for case in bad:
        assert not verify_consistency(*case), case[:2]


def test_edge_cases_and_malformed_input() -> None:
    r = root(LEAVES[:5])
    assert not verify_inclusion(5, 5, LEAVES[0], [], r)
    assert not verify_inclusion(0, 0, LEAVES[0], [], r)
    assert verify_inclusion(0, 1, LEAVES[0], [], LEAVES[0])
    assert verify_consistency(0, 5, EMPTY_ROOT, r, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r, [r])
    assert verify_consistency(5, 5, r, r, [])
    assert not verify_consistency(5, 5, r, r, [r])
    assert not verify_consistency(5, 5, r, EMPTY_ROOT, [])
    with pytest.raises(ProofError):
        verify_inclusion(0, 5, b"short", [], r)
    with pytest.raises(ProofError):
        verify_consistency(1, 5, r, r, [b"x" * 31])
    with pytest.raises(ProofError):
        inclusion_proof(5, LEAVES[:5])
    with pytest.raises(ProofError):
        consistency_proof(6, LEAVES[:5])
    with pytest.raises(ProofError):
        Frontier(3, [r])
    with pytest.raises(ProofError):
        Frontier.from_bytes(1, b"x" * 33)


def test_roots_match_pymerkle() -> None:
    from pymerkle import InmemoryTree

    tree = InmemoryTree(algorithm="sha256")
    frontier = Frontier()
    for n in range(1, 130):
        entry = f"entry {n} ü".encode()
        tree.append_entry(entry)
        frontier.append(leaf_hash(entry))
        assert tree.get_root() == frontier.root()
    for m in range(1, 130, 7):  # roots at earlier sizes too
        assert tree.get_root(m) == root([leaf_hash(f"entry {n} ü".encode()) for n in range(1, m + 1)])
