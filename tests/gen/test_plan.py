import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fdsl_gen.errors import UserError
from fdsl_gen.plan import Plan


def all_samples(plan, split):
    seen = []
    for shard in range(plan.num_shards(split)):
        for piece in plan.pieces(split, shard):
            seen += [(piece.cls, piece.group * plan.group_size + j) for j in range(piece.lo, piece.hi)]
    return seen


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 23), st.integers(1, 5), st.integers(1, 50), st.integers(0, 99))
def test_every_sample_lands_in_exactly_one_shard(classes, per_class, group, per_shard, seed):
    plan = Plan(classes, per_class, group, seed, per_shard)
    seen = all_samples(plan, "train")
    assert sorted(seen) == [(c, j) for c in range(classes) for j in range(per_class)]
    sizes = [len(range(*plan.shard_range("train", s))) for s in range(plan.num_shards("train"))]
    assert all(size == per_shard for size in sizes[:-1]) and 0 < sizes[-1] <= per_shard


def test_plan_is_a_function_of_the_seed():
    a, b, c = Plan(10, 8, 4, 1, 7), Plan(10, 8, 4, 1, 7), Plan(10, 8, 4, 2, 7)
    assert a.pieces("train", 3) == b.pieces("train", 3) != c.pieces("train", 3)
    assert np.array_equal(a.shard_order("train", 2), b.shard_order("train", 2))


def test_val_split_takes_the_same_share_of_every_class():
    plan = Plan(6, 40, 4, 0, 16, val_fraction=0.2)
    val = all_samples(plan, "validation")
    assert plan.splits() == ["train", "validation"]
    assert all(sum(1 for c, _ in val if c == k) == 8 for k in range(6))
    assert not set(val) & set(all_samples(plan, "train"))


def test_global_order_mixes_classes():
    plan = Plan(100, 40, 4, 0, 400)
    classes = {p.cls for p in plan.pieces("train", 0)}
    assert len(classes) > 60


@pytest.mark.parametrize("kwargs", [dict(samples_per_shard=0), dict(val_fraction=1.0),
                                    dict(val_fraction=0.01)])
def test_bad_plans_are_user_errors(kwargs):
    base = dict(num_classes=3, samples_per_class=8, group_size=4, seed=0, samples_per_shard=5)
    with pytest.raises(UserError):
        Plan(**dict(base, **kwargs))
