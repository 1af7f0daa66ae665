"""The seed kernels against numpy: derive_seed is SeedSequence's first uint64 word, generator(seed) draws as
default_rng(seed) does."""
import numpy as np
import pytest

from fdsl_gen.recipe import derive_seed, generator

EDGES = [0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**64 - 1]


def word_lists():
    """Word lists of every length the recipes use and beyond, with the integers whose uint32 split differs."""
    rng = np.random.default_rng(7)
    lists = [[w] for w in EDGES] + [EDGES, EDGES[::-1], [0, 0, 0, 0, 0], list(range(12))]
    for _ in range(400):
        count = int(rng.integers(1, 10))
        words = [int(w) for w in rng.integers(0, 2**64, count, dtype=np.uint64)]
        for k in np.flatnonzero(rng.random(count) < 0.5):
            words[k] = [int(rng.integers(0, 8)), int(rng.integers(0, 2**32)), EDGES[-1]][int(rng.integers(0, 3))]
        lists.append(words)
    return lists


def test_derive_seed_is_numpys_seed_sequence():
    for words in word_lists():
        expected = int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0])
        assert derive_seed(*words) == expected, words


@pytest.mark.parametrize("seed", EDGES + [derive_seed(1, 2, 3), derive_seed(5)])
def test_generator_draws_what_default_rng_draws(seed):
    ours, numpys = generator(seed), np.random.default_rng(seed)
    assert np.array_equal(ours.integers(0, 1000, 50), numpys.integers(0, 1000, 50))
    assert np.array_equal(ours.random(50), numpys.random(50))
    assert np.array_equal(ours.normal(0.0, 2.0, 20), numpys.normal(0.0, 2.0, 20))
    assert ours.integers(0, 2**64, dtype=np.uint64) == numpys.integers(0, 2**64, dtype=np.uint64)
    assert ours.bit_generator.state == numpys.bit_generator.state


def test_generators_of_one_seed_are_independent_objects():
    first, second = generator(11), generator(11)
    first.random(5)
    assert second.random() == np.random.default_rng(11).random()


def test_a_seed_outside_64_bits_is_refused():
    with pytest.raises(OverflowError):
        derive_seed(2**64)
    with pytest.raises(OverflowError):
        derive_seed(-1)
