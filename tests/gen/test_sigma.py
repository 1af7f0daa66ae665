import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fdsl_gen.formulas.sigma import (apply_perturbation, perturbation, sample_system, sigma_factor,
                                     singular_values)


@st.composite
def maps_and_sigma(draw):
    maps = draw(st.integers(1, 7))
    sigma = draw(st.floats(0.1, 3.0 * maps - 0.1))
    return maps, sigma


@settings(max_examples=200, deadline=None)
@given(maps_and_sigma(), st.integers(0, 2**32 - 1))
def test_sampled_system_has_the_target_sigma_factor(case, seed):
    maps, sigma = case
    system, drawn = sample_system(maps, sigma, np.random.default_rng(seed))
    assert system.shape == (maps, 7)
    assert abs(drawn - sigma) <= 0.1
    assert abs(sigma_factor(system) - sigma) <= 0.1 + 1e-9
    assert sigma_factor(system) == pytest.approx(drawn, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(maps_and_sigma(), st.integers(0, 2**32 - 1))
def test_singular_values_meet_every_constraint(case, seed):
    maps, sigma = case
    pairs = singular_values(maps, sigma, np.random.default_rng(seed))
    s1, s2 = pairs[:, 0], pairs[:, 1]
    assert np.all(s1 <= 1 + 1e-12) and np.all(s2 >= -1e-12) and np.all(s2 <= s1 + 1e-12)
    assert (s1 + 2 * s2).sum() == pytest.approx(sigma, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_maps_are_contractions_and_p_follows_the_determinant(seed):
    system, _ = sample_system(3, 4.5, np.random.default_rng(seed))
    linear = system[:, :4].reshape(-1, 2, 2)
    assert np.all(np.linalg.svd(linear, compute_uv=False) <= 1 + 1e-12)
    det = np.abs(np.linalg.det(linear))
    assert np.allclose(system[:, 6], det / det.sum())
    assert np.all(np.abs(system[:, 4:6]) <= 1)


def test_known_sigma_factor():
    # Singular values (0.5, 0.25) and (1, 1): 0.5 + 0.5 + 1 + 2.
    system = np.array([[0.5, 0, 0, 0.25, 0, 0, 0.5], [0, -1, 1, 0, 0, 0, 0.5]])
    assert sigma_factor(system) == pytest.approx(4.0)


def test_same_generator_state_gives_the_same_system():
    a, _ = sample_system(2, 3.5, np.random.default_rng(7))
    b, _ = sample_system(2, 3.5, np.random.default_rng(7))
    c, _ = sample_system(2, 3.5, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_multiplicative_perturbation_statistics():
    delta = 0.1
    factors = perturbation(20_000, delta, "mul", np.random.default_rng(0))
    assert factors.shape == (20_000, 6)
    assert factors.min() >= 1 - delta and factors.max() <= 1 + delta
    assert factors.mean() == pytest.approx(1.0, abs=0.002)
    assert factors.std() == pytest.approx(delta / np.sqrt(3), rel=0.02)
    # Independent across parameters and maps.
    assert abs(np.corrcoef(factors[:, 0], factors[:, 1])[0, 1]) < 0.03


def test_additive_perturbation_statistics():
    delta = 0.2
    offsets = perturbation(20_000, delta, "add", np.random.default_rng(1))
    assert offsets.min() >= -delta / 2 and offsets.max() <= delta / 2
    assert offsets.mean() == pytest.approx(0.0, abs=0.002)
    assert offsets.std() == pytest.approx(delta / np.sqrt(12), rel=0.02)


@pytest.mark.parametrize("form", ["mul", "add"])
def test_perturbation_changes_a_to_f_and_keeps_p(form):
    base, _ = sample_system(2, 3.5, np.random.default_rng(3))
    draws = perturbation(2, 0.1, form, np.random.default_rng(4))
    out = apply_perturbation(base, draws, form)
    expected = base[:, :6] * draws if form == "mul" else base[:, :6] + draws
    assert np.array_equal(out[:, :6], expected)
    assert np.array_equal(out[:, 6], base[:, 6])
    assert not np.array_equal(out[:, :6], base[:, :6])


@pytest.mark.parametrize("form", ["mul", "add"])
def test_zero_delta_is_the_base_system(form):
    base, _ = sample_system(2, 3.5, np.random.default_rng(5))
    draws = perturbation(2, 0.0, form, np.random.default_rng(6))
    assert np.array_equal(apply_perturbation(base, draws, form), base)
