"""Lexical near-duplicates: MinHash LSH (datasketch) over word shingles, checked by exact Jaccard.

A prompt is normalised (NFKC, case-folded, punctuation dropped, whitespace collapsed), cut into
word n-grams (``shingle_size``, 2 by default), and hashed into a datasketch MinHash of the
``affine32`` scheme. The LSH index (``datasketch.MinHashLSH``, banding chosen by datasketch for
``lsh_threshold``) proposes candidates; each candidate's *exact* Jaccard similarity of the shingle
sets decides, so the index only costs recall (a pair LSH never proposes), never precision, and
every decision carries the similarity that made it.

Speed: ``MinHash.update_batch`` hashes one prompt at a time in Python. ``signatures`` computes the
same hash values for a whole batch of prompts with numpy (datasketch's own permutations and
finalizer, applied to the concatenated shingle hashes, then a segmented minimum); a test checks
the values equal ``MinHash.update_batch``'s for the same shingles.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.minhash import _fmix

SCHEME = "affine32"
DEFAULT_NUM_PERM = 128
DEFAULT_SHINGLE_SIZE = 2
DEFAULT_THRESHOLD = 0.5
# The LSH proposes pairs from a little below the decision threshold: its S-curve is not a step, and
# a pair just above the threshold should be proposed with high probability. Exact Jaccard decides.
LSH_MARGIN = 0.15

_NOT_WORD = re.compile(r"[^\w]+")


def words(text: str) -> list[str]:
    """The normalised words of ``text``: NFKC, case-folded, split on anything that is not a word character."""
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split()


def shingles(text: str, size: int = DEFAULT_SHINGLE_SIZE) -> frozenset[bytes]:
    """Word ``size``-grams of ``text``, UTF-8 (a text shorter than ``size`` words is one shingle of its words)."""
    ws = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).encode("utf-8").split()
    if len(ws) < size:
        return frozenset([b" ".join(ws)]) if ws else frozenset()
    if size == 2:
        return frozenset(map(b" ".join, itertools.pairwise(ws)))
    return frozenset(b" ".join(ws[i : i + size]) for i in range(len(ws) - size + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


# The 32-bit hash each shingle enters MinHash with (``hashfunc`` of the datasketch MinHash).
shingle_hash = xxhash.xxh32_intdigest


class Signer:
    """datasketch MinHash signatures for many shingle sets at once (same values as ``update_batch``)."""

    def __init__(self, num_perm: int = DEFAULT_NUM_PERM, seed: int = 1):
        self.template = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash, scheme=SCHEME)
        a, b = self.template.permutations
        self.a, self.b = a.reshape(1, -1), b.reshape(1, -1)
        self.num_perm, self.seed = num_perm, seed

    def minhash(self, shingle_set: Iterable[bytes]) -> MinHash:
        """One datasketch MinHash the slow, public way (tests compare ``signatures`` with it)."""
        m = self.template.copy()
        m.update_batch(list(shingle_set))
        return m

    def signatures(self, sets: Sequence[frozenset[bytes]], chunk: int = 256) -> np.ndarray:
        """``[len(sets), num_perm]`` uint32 hash values; an empty set gets the all-max row (matches nothing).

        Works ``chunk`` sets at a time so the permuted block stays in cache.
        """
        out = np.full((len(sets), self.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
        for lo in range(0, len(sets), chunk):
            part = sets[lo : lo + chunk]
            lengths = np.fromiter((len(s) for s in part), dtype=np.int64, count=len(part))
            rows = np.flatnonzero(lengths)
            if rows.size == 0:
                continue
            flat = [sh for i in rows for sh in part[i]]
            hashes = np.fromiter(map(shingle_hash, flat), dtype=np.uint32, count=len(flat))
            permuted = _fmix(hashes, 32).reshape(-1, 1) * self.a + self.b  # uint32 wraps: a * h + b mod 2^32
            starts = np.concatenate(([0], np.cumsum(lengths[rows])[:-1]))
            out[lo + rows] = np.minimum.reduceat(permuted, starts, axis=0)
        return out

    def lean(self, row: np.ndarray) -> LeanMinHash:
        return LeanMinHash(seed=self.seed, hashvalues=row, scheme=SCHEME)


@dataclass(frozen=True)
class Match:
    key: object
    similarity: float


class NearDupIndex:
    """Reference texts (the gold set) indexed for near-duplicate queries.

    ``query_many(texts)`` returns, per text, the reference it is most similar to with exact Jaccard
    >= ``threshold`` (a ``Match``), or None.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        *,
        num_perm: int = DEFAULT_NUM_PERM,
        shingle_size: int = DEFAULT_SHINGLE_SIZE,
        seed: int = 1,
    ):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold = threshold
        self.shingle_size = shingle_size
        self.signer = Signer(num_perm, seed)
        self.lsh = MinHashLSH(threshold=max(0.05, threshold - LSH_MARGIN), num_perm=num_perm)
        self.sets: dict[object, frozenset[bytes]] = {}
        # The in-memory tables' own dict lookups when datasketch's dict storage holds them (the
        # storage wrapper's ``get`` is a Python call per band); any other storage through ``get``.
        self._band_gets = [getattr(getattr(t, "_dict", None), "get", t.get) for t in self.lsh.hashtables]

    def __len__(self):
        return len(self.sets)

    def add_many(self, keys: Sequence, texts: Sequence[str]) -> None:
        sets = [shingles(t, self.shingle_size) for t in texts]
        sigs = self.signer.signatures(sets)
        with self.lsh.insertion_session() as session:
            for key, s, row in zip(keys, sets, sigs):
                if not s or key in self.sets:
                    continue
                self.sets[key] = s
                session.insert(key, self.signer.lean(row), check_duplication=False)

    def band_keys(self, sigs: np.ndarray) -> list[list[bytes]]:
        """Each signature's LSH band keys, as ``MinHashLSH`` makes them (``_H``: the band's byte-swapped
        bytes), for a whole batch in one numpy call instead of one ``bytes()`` per band."""
        lsh = self.lsh
        used = np.ascontiguousarray(sigs[:, : lsh.b * lsh.r].byteswap())
        return used.view(np.dtype((np.void, 4 * lsh.r))).tolist()

    def candidates(self, keys: list[bytes]) -> set:
        """Reference keys whose bands collide with a query's band ``keys``."""
        found: set = set()
        for key, get in zip(keys, self._band_gets):
            got = get(key)
            if got:
                found.update(got)
        return found

    def best(self, s: frozenset[bytes], keys: Iterable) -> Match | None:
        best_key, best_sim = None, 0.0
        for key in keys:
            sim = jaccard(s, self.sets[key])
            if sim > best_sim or (sim == best_sim and best_key is not None and str(key) < str(best_key)):
                best_key, best_sim = key, sim
        if best_key is None or best_sim < self.threshold:
            return None
        return Match(best_key, round(best_sim, 4))

    def query_many(self, texts: Sequence[str]) -> list[Match | None]:
        sets = [shingles(t, self.shingle_size) for t in texts]
        sigs = self.signer.signatures(sets)
        keys = self.band_keys(sigs)
        return [self.best(s, self.candidates(k)) if s else None for s, k in zip(sets, keys)]

    def query_all(self, texts: Sequence[str]) -> list[list[Match]]:
        """Every reference at or above the threshold, per text (for clustering)."""
        sets = [shingles(t, self.shingle_size) for t in texts]
        out = []
        for s, keys in zip(sets, self.band_keys(self.signer.signatures(sets))):
            found = [] if not s else [(k, jaccard(s, self.sets[k])) for k in self.candidates(keys)]
            out.append([Match(k, round(sim, 4)) for k, sim in found if sim >= self.threshold])
        return out

    def brute_force(self, text: str) -> Match | None:
        """The same decision by comparing with every reference (the baseline; no index)."""
        s = shingles(text, self.shingle_size)
        return self.best(s, self.sets) if s else None
