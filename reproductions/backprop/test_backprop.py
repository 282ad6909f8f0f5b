"""The 1986 paper's tasks and analyses are exact (framework-free): the data, the schedule, the 1:2:4 test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reproductions.backprop import paper, tasks


def test_symmetry_has_64_patterns_and_8_palindromes():
    data = tasks.symmetry_patterns("float64")
    assert data["x"].shape == (64, 6) and data["target"].shape == (64, 1)
    assert len(np.unique(data["x"], axis=0)) == 64
    assert data["target"].sum() == 8  # 2^3 free choices for the first half
    for x, y in zip(data["x"], data["target"][:, 0], strict=True):
        assert y == float(list(x) == list(x[::-1]))


def test_family_trees_have_104_examples_and_112_facts():
    data = tasks.family_tree_examples("float64")
    assert data["person"].shape == (104, 24) and data["relation"].shape == (104, 12)
    assert data["target"].sum() == 112
    assert (data["person"].sum(1) == 1).all() and (data["relation"].sum(1) == 1).all()
    # the English and Italian halves are the same tree, person for person
    english = data["person"][:, :12].sum(1) == 1
    assert english.sum() == 52
    e, i = (np.concatenate([data[k][mask] for k in ("person", "relation", "target")], axis=1)
            for mask in (english, ~english))
    swap = np.r_[12:24, 0:12]
    i_as_english = np.concatenate([i[:, :24][:, swap], i[:, 24:36], i[:, 36:][:, swap]], axis=1)
    assert sorted(map(tuple, e)) == sorted(map(tuple, i_as_english))


def answers(person: str, relation: str) -> set[str]:
    data = tasks.family_tree_examples()
    p, r = tasks.NAMES.index(person), tasks.RELATIONS.index(relation)
    row = np.flatnonzero((data["person"][:, p] == 1) & (data["relation"][:, r] == 1))
    return {tasks.NAMES[j] for j in np.flatnonzero(data["target"][row[0]])} if row.size else set()


@pytest.mark.parametrize("person,relation,expected", [
    ("Colin", "father", {"James"}), ("Colin", "aunt", {"Jennifer", "Margaret"}),
    ("Colin", "uncle", {"Arthur", "Charles"}), ("Arthur", "niece", {"Charlotte"}),
    ("Margaret", "nephew", {"Colin"}), ("Christopher", "wife", {"Penelope"}),
    ("Penelope", "daughter", {"Victoria"}), ("Sophia", "brother", {"Alfonso"}),
    ("Christopher", "father", set()),
])
def test_family_tree_relations_read_from_fig_2(person, relation, expected):
    assert answers(person, relation) == expected


def test_schedule_switches_after_sweep_20():
    config = paper.FamilyTreesConfig()
    assert config.phase(1) == config.phase(20) == (0.005, 0.5)
    assert config.phase(21) == config.phase(1500) == (0.01, 0.9)


def test_held_out_split_is_per_seed_and_disjoint():
    config = paper.FamilyTreesConfig()
    train, test = paper.family_split(3, config)
    assert len(train["person"]) == 100 and len(test["person"]) == 4
    def keys(split):
        return {(int(p.argmax()), int(r.argmax())) for p, r in zip(split["person"], split["relation"], strict=True)}

    assert len(keys(train)) == 100 and len(keys(test)) == 4 and not keys(train) & keys(test)
    other = paper.family_split(4, config)[1]
    assert not all(np.array_equal(test[k], other[k]) for k in test)


def kernel_from(magnitudes, signs=(1, -1)):
    """A (6, 2) kernel whose mirror pairs have the given magnitudes and opposite signs."""
    w = np.zeros((6, 2))
    for unit, sign in enumerate(signs):
        for i, m in enumerate(magnitudes):
            w[i, unit], w[5 - i, unit] = sign * m, -sign * m
    return w


@given(st.floats(0.1, 20), st.permutations([1.0, 2.0, 4.0]), st.floats(0.6, 1.6))
def test_mirror_pattern_accepts_1_2_4_in_any_order_and_scale(scale, order, wobble):
    magnitudes = [scale * m for m in order]
    magnitudes[order.index(4.0)] *= wobble  # the largest pair off by -40% .. +60%
    ok, mid, big = paper.mirror_pattern(kernel_from(magnitudes))
    small, middle, large = sorted(magnitudes)
    assert mid == pytest.approx(middle / small) and big == pytest.approx(large / small)
    assert ok == (abs(large / small / 4 - 1) <= paper.MIRROR_TOLERANCE)


def test_mirror_pattern_rejects_same_signs_and_wrong_ratios():
    assert paper.mirror_pattern(kernel_from([1, 2, 4]))[0]
    same_sign = kernel_from([1, 2, 4])
    same_sign[5, 0] *= -1
    assert not paper.mirror_pattern(same_sign)[0]
    ok, mid, big = paper.mirror_pattern(kernel_from([1, 3, 9]))
    assert not ok and mid == pytest.approx(3) and big == pytest.approx(9)


def test_correlation_ignores_dead_units():
    activity = np.c_[np.ones(24), np.r_[np.zeros(12), np.ones(12)]]
    nationality = np.r_[np.zeros(12), np.ones(12)]
    assert paper._max_abs_correlation(activity, nationality) == pytest.approx(1.0)
    assert paper._max_abs_correlation(activity[:, :1], nationality) == 0.0
    assert not math.isnan(paper._max_abs_correlation(activity, nationality))


def test_the_torch_fit_statistic_keeps_a_nan_and_counts_cases_within_half():
    """The stopping rule reads the largest |o - d| and the fraction of cases with every output within 0.5;
    a NaN output must come out as NaN (Python's max alone would skip it, depending on where it is)."""
    torch = pytest.importorskip("torch")
    from reproductions.backprop.torch_impl import Model

    target = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    output = torch.tensor([[0.8, 0.1], [0.4, 0.3], [0.9, 0.45]])
    largest, fraction = Model._fit(output, target)
    assert largest == pytest.approx(0.7) and fraction == pytest.approx(1 / 3)
    for row in range(3):
        broken = output.clone()
        broken[row, 1] = math.nan
        assert math.isnan(Model._fit(broken, target)[0])
