"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and an incremental frontier. Pure: no I/O.

- ``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``; the root of an
  empty tree is ``SHA-256("")``; a tree of n > 1 leaves splits at k, the largest power of two < n.
- Proofs are lists of 32-byte hashes in the RFC's order (``PATH`` and ``PROOF``); the verifiers are the
  RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms and reject wrong sizes, wrong lengths and garbage.
- ``Frontier`` (a compact range from 0) holds one hash per set bit of the tree size: the roots of the
  perfect subtrees that make up the tree, largest first. Appending is O(log n) and the root at the
  current size folds those hashes right to left.

Functions that build proofs take the *leaf hashes* of the whole tree (``Sequence[bytes]``); subtree
hashes are recomputed from them, O(n) per proof.
"""

from __future__ import annotations

from .._hashing import sha256
from ..errors import AuditError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
_LEAF, _NODE = b"\x00", b"\x01"


class ProofError(AuditError, ValueError):
    """A proof or its parameters are malformed (a failed check returns False instead)."""


def leaf_hash(data: bytes) -> bytes:
    digest: bytes = sha256(_LEAF + data).digest()
    return digest


def node_hash(left: bytes, right: bytes) -> bytes:
    digest: bytes = sha256(_NODE + left + right).digest()
    return digest


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """The root of the subtree over leaves[lo:hi], iteratively (one pass, a stack of perfect subtrees)."""
    if hi <= lo:
        return EMPTY_ROOT
    stack: list[bytes] = []
    for count, i in enumerate(range(lo, hi)):
        h = leaves[i]
        c = count
        while c & 1:
            h = node_hash(stack.pop(), h)
            c >>= 1
        stack.append(h)
    return fold(stack)


def fold(hashes: Sequence[bytes]) -> bytes:
    """Fold perfect-subtree roots (largest first) into the tree root, right to left."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree head over these leaf hashes (RFC 6962 MTH)."""
    return _mth(leaves, 0, len(leaves))


def inclusion_proof(index: int, leaves: Sequence[bytes] | Tree) -> list[bytes]:
    """PATH(index, D[n]) over the leaf hashes of a tree of size ``len(leaves)``."""
    tree = leaves if isinstance(leaves, Tree) else Tree(leaves)
    n = len(tree)
    if not 0 <= index < n:
        raise ProofError(f"leaf index {index} is outside a tree of size {n}")
    proof: list[bytes] = []
    lo, hi = 0, n
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            proof.append(tree.subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(tree.subtree(lo, lo + k))
            lo += k
    proof.reverse()
    return proof


def consistency_proof(size1: int, leaves: Sequence[bytes] | Tree) -> list[bytes]:
    """PROOF(size1, D[n]) (RFC 6962 §2.1.2) between the first size1 leaves and all of them."""
    tree = leaves if isinstance(leaves, Tree) else Tree(leaves)
    n = len(tree)
    if not 0 <= size1 <= n:
        raise ProofError(f"old size {size1} is outside 0..{n}")
    if size1 in (0, n):
        return []
    proof: list[bytes] = []
    lo, hi, m, complete = 0, n, size1, True
    while m != hi - lo:
        k = split(hi - lo)
        if m <= k:
            proof.append(tree.subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(tree.subtree(lo, lo + k))
            lo += k
            m -= k
            complete = False
    if not complete:
        proof.append(tree.subtree(lo, hi))
    proof.reverse()
    return proof


class Tree:
    """All levels of the tree over some leaf hashes (2n hashes of memory): any subtree hash in O(log n)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            lv = self.levels[-1]
            self.levels.append([node_hash(lv[i], lv[i + 1]) for i in range(0, len(lv) - 1, 2)])

    def __len__(self) -> int:
        return len(self.levels[0])

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) where lo is a multiple of the largest power of two <= hi - lo (as in PATH/PROOF)."""
        parts, o = [], lo
        n = hi - lo
        for k in range(n.bit_length() - 1, -1, -1):
            if n >> k & 1:
                if o % (1 << k):
                    return _mth(self.levels[0], lo, hi)  # not aligned: recompute (never for RFC ranges)
                parts.append(self.levels[k][o >> k])
                o += 1 << k
        return fold(parts)

    def root(self, size: int | None = None) -> bytes:
        return self.subtree(0, len(self) if size is None else size)


def _check_hashes(*hashes: bytes) -> None:
    for h in hashes:
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise ProofError("a hash is not 32 bytes")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show the leaf hash at ``index`` in the tree ``(size, root)``?"""
    _check_hashes(leaf, root_hash, *proof)
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``(size2, root2)`` an append-only extension of ``(size1, root1)``?"""
    _check_hashes(root1, root2, *proof)
    if size1 < 0 or size2 < size1:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # an exact power of two: the old root is the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


class Frontier:
    """The compact range [0, size): one perfect-subtree root per set bit of ``size``, largest first."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != bin(size).count("1"):
            raise ProofError(f"a frontier of size {size} needs {bin(size).count('1')} hashes")
        _check_hashes(*self.hashes)

    def append(self, leaf: bytes) -> None:
        h, c = leaf, self.size
        while c & 1:
            h = node_hash(self.hashes.pop(), h)
            c >>= 1
        self.hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        return fold(self.hashes)

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> Frontier:
        if len(blob) % HASH_SIZE:
            raise ProofError("a stored frontier is not a whole number of hashes")
        return cls(size, [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)])

    @classmethod
    def of(cls, leaves: Iterable[bytes]) -> Frontier:
        f = cls()
        for leaf in leaves:
            f.append(leaf)
        return f

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frontier) and (self.size, self.hashes) == (other.size, other.hashes)

    def __repr__(self) -> str:
        return f"Frontier(size={self.size}, root={self.root().hex()[:16]}…)"

    __hash__ = None  # type: ignore[assignment]


def subtree_ranges(size: int) -> list[tuple[int, int]]:
    """The [start, end) leaf ranges of a frontier's hashes at ``size`` (largest first)."""
    out, start = [], 0
    for k in range(size.bit_length() - 1, -1, -1):
        if size >> k & 1:
            out.append((start, start + (1 << k)))
            start += 1 << k
    return out
