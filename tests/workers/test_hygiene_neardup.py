"""Near-duplicate detection (workers.hygiene.neardup): each planted kind is found, each hard negative is not."""

import pytest
from datasketch import MinHash

from workers.hygiene.neardup import NearDupIndex, Signer, jaccard, shingles

GOLD = {
    1: "My order 48213 from the Berlin warehouse arrived with a cracked screen. Alice from support promised "
    "a replacement within 5 days but nothing came. How do I get a refund instead?",
    2: "Write a short story for children about a lighthouse keeper who befriends a lost seagull during a winter storm.",
    3: "You are a careful assistant. Translate the following sentence into French: the meeting moved to Thursday.",
}

NEAR = {
    "typo": "My ordr 48213 from the Berlin warehouse arived with a cracked screen. Alice from support promised "
    "a replacement within 5 days but nothing came. How do I get a refund instead?",
    "casing": "MY ORDER 48213 from the berlin Warehouse arrived with a cracked screen. alice from support promised "
    "a replacement within 5 days but NOTHING came. how do i get a refund instead?",
    "punctuation": "My order 48213 from the Berlin warehouse arrived with a cracked screen Alice from support, "
    "promised a replacement within 5 days, but nothing came!! How do I get a refund instead",
    "numbers": "My order 77120 from the Berlin warehouse arrived with a cracked screen. Alice from support promised "
    "a replacement within 7 days but nothing came. How do I get a refund instead?",
    "names": "My order 48213 from the Berlin warehouse arrived with a cracked screen. Priya from support promised "
    "a replacement within 5 days but nothing came. How do I get a refund instead?",
    "greeting": "Hi there, hope you are well! My order 48213 from the Berlin warehouse arrived with a cracked screen. "
    "Alice from support promised a replacement within 5 days but nothing came. How do I get a refund instead?",
    "swapped": "How do I get a refund instead? My order 48213 from the Berlin warehouse arrived with a cracked screen. "
    "Alice from support promised a replacement within 5 days but nothing came.",
}

HARD_NEGATIVES = {
    # The same order and topic, another request.
    "same_topic": "My order 48213 from the Berlin warehouse arrived with a cracked screen. Can you tell me which "
    "courier delivered it and whether the box was insured for transport damage?",
    # The same instruction line, another sentence to translate.
    "same_template": "You are a careful assistant. Translate the following sentence into German: our invoice "
    "numbering starts again in January.",
    # The same request frame, another subject.
    "same_frame": "Write a short story for teenagers about a retired astronaut who teaches chess to a robot "
    "during a summer heatwave.",
}


@pytest.fixture(scope="module")
def index():
    index = NearDupIndex(0.5)
    index.add_many(list(GOLD), list(GOLD.values()))
    return index


@pytest.mark.parametrize("kind", sorted(NEAR))
def test_each_near_duplicate_kind_is_found_with_its_gold_item_and_similarity(index, kind):
    (match,) = index.query_many([NEAR[kind]])
    assert match is not None, kind
    assert match.key == 1
    expected = jaccard(shingles(NEAR[kind]), shingles(GOLD[1]))
    assert match.similarity == round(expected, 4) and 0.5 <= match.similarity <= 1.0


@pytest.mark.parametrize("kind", sorted(HARD_NEGATIVES))
def test_each_hard_negative_is_not_flagged(index, kind):
    (match,) = index.query_many([HARD_NEGATIVES[kind]])
    assert match is None, (kind, match)
    # ... and the brute-force decision agrees (the index lost nothing it should have found).
    assert index.brute_force(HARD_NEGATIVES[kind]) is None


def test_casing_and_punctuation_alone_give_similarity_one(index):
    (match,) = index.query_many(
        ["my order 48213, from the BERLIN warehouse arrived with a cracked screen; " + GOLD[1][69:]]
    )
    assert match is not None and match.key == 1


def test_the_batched_signatures_equal_datasketchs_own_minhash():
    signer = Signer(num_perm=128, seed=1)
    sets = [shingles(t) for t in [*GOLD.values(), *NEAR.values()]] + [frozenset()]
    rows = signer.signatures(sets, chunk=3)  # several chunks
    for s, row in zip(sets, rows):
        reference = MinHash(num_perm=128, seed=1, hashfunc=signer.template.hashfunc, scheme="affine32")
        reference.update_batch(list(s))
        assert (reference.hashvalues == row).all()


def test_the_band_lookup_proposes_what_datasketchs_query_proposes(index):
    sets = [shingles(t) for t in NEAR.values()]
    rows = index.signer.signatures(sets)
    for row, keys in zip(rows, index.band_keys(rows)):
        assert index.candidates(keys) == set(index.lsh.query(index.signer.lean(row)))


def test_empty_and_short_texts_match_nothing_by_accident(index):
    assert index.query_many(["", "   ", "?!"]) == [None, None, None]
    short = NearDupIndex(0.5)
    short.add_many([9], ["hello"])
    assert [m and m.key for m in short.query_many(["Hello!", "goodbye"])] == [9, None]


def test_a_threshold_outside_zero_one_is_refused():
    with pytest.raises(ValueError):
        NearDupIndex(0)
    with pytest.raises(ValueError):
        NearDupIndex(1.5)
