import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fdsl_gen.formulas import ifs3d
from reference.exfractaldb import glm_matrices, reference_orbit

SIZE = 224
FOV = 45.0


def front_camera(distance=4.0):
    """Camera on +Z looking at the origin, Y up: +X is right, +Y is up in the image."""
    return ifs3d.look_at(np.array([[0.0, 0.0, distance]]), np.array([[0.0, 1.0, 0.0]]))


def lit_pixels(points, cameras, size=SIZE, point_size=1, bottom_up=False):
    images = ifs3d.draw_views(np.asarray(points, np.float64), cameras, size, point_size, FOV, bottom_up)
    return [sorted(zip(*np.nonzero(image))) for image in images]


def test_known_point_lands_on_the_expected_pixel():
    # x_ndc = 0.5 / (4 tan 22.5) = 0.30178 -> window x 145.80; y_ndc = 0.15089 -> window y 128.90,
    # i.e. column 145 and row 128 from the bottom = row 223 - 128 = 95 from the top.
    assert lit_pixels([[0.5, 0.25, 0.0]], front_camera()) == [[(95, 145)]]
    assert lit_pixels([[0.5, 0.25, 0.0]], front_camera(), bottom_up=True) == [[(128, 145)]]


def glm_pixel(point, position, up, size, fov):
    """Window position of a point through glm's perspective x lookAt matrices and the viewport."""
    clip = glm_matrices(np.asarray(position), up, size, fov) @ np.append(point, 1.0)
    ndc = clip[:3] / clip[3]
    return (ndc[0] + 1) * size / 2, (ndc[1] + 1) * size / 2


def test_projection_matches_glm_matrices_for_random_cameras():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(60):
        position = rng.standard_normal(3)
        position *= rng.uniform(2.5, 6.0) / np.linalg.norm(position)
        up = rng.standard_normal(3)
        point = rng.uniform(-1, 1, 3)
        wx, wy = glm_pixel(point, position, up, SIZE, FOV)
        if min(abs(wx - round(wx)), abs(wy - round(wy))) < 1e-6:
            continue  # on a pixel edge: either side is right
        expected = [(SIZE - 1 - int(math.floor(wy)), int(math.floor(wx)))] if 0 <= wx < SIZE and 0 <= wy < SIZE else []
        assert lit_pixels([point], ifs3d.look_at(np.array([position]), np.array([up]))) == [expected]
        checked += 1
    assert checked > 50


def test_point_size_covers_the_square_of_pixel_centres_around_the_point():
    # The image centre (window 112, 112) is a pixel corner: a 2-pixel point covers the 4 pixels
    # around it. A point at the centre of pixel (112, 112) (window 112.5, 112.5) gets a 3 x 3
    # block around that pixel: columns 111..113, rows 111..113 from the bottom = 110..112 from the top.
    assert lit_pixels([[0.0, 0.0, 0.0]], front_camera(), point_size=2) == [[(111, 111), (111, 112), (112, 111), (112, 112)]]
    offset = 0.5 / (SIZE / 2) * 4 * math.tan(math.radians(FOV) / 2)
    block = lit_pixels([[offset, offset, 0.0]], front_camera(), point_size=3)[0]
    assert block == [(r, c) for r in range(110, 113) for c in range(111, 114)]


def test_points_off_the_image_are_clipped_never_wrapped():
    t = math.tan(math.radians(FOV) / 2)
    # Window x = -0.3 (just left of the image) at depth 4.
    x = (-0.3 / (SIZE / 2) - 1) * 4 * t
    assert lit_pixels([[x, 0.0, 0.0]], front_camera()) == [[]]
    assert {c for _, c in lit_pixels([[x, 0.0, 0.0]], front_camera(), point_size=2)[0]} == {0}
    behind = [[0.0, 0.0, 5.0], [0.0, 0.0, 3.95]]  # behind the camera, and before the near plane
    assert lit_pixels(behind, front_camera()) == [[]]


def test_views_are_drawn_independently_and_bottom_up_is_a_vertical_flip():
    rng = np.random.default_rng(3)
    points = rng.uniform(-1, 1, (500, 3))
    cameras = ifs3d.look_at(rng.standard_normal((3, 3)) * 4, rng.standard_normal((3, 3)))
    images = ifs3d.draw_views(points, cameras, 64, 1, FOV, False)
    flipped = ifs3d.draw_views(points, cameras, 64, 1, FOV, True)
    assert images.shape == (3, 64, 64) and set(np.unique(images)) == {0, 255}
    for v in range(3):
        assert np.array_equal(images[v], ifs3d.draw_views(points, cameras[v:v + 1], 64, 1, FOV, False)[0])
        assert np.array_equal(flipped[v], images[v][::-1])
    assert not np.array_equal(images[0], images[1])


def test_look_at_gives_an_orthonormal_basis_facing_the_origin():
    rng = np.random.default_rng(1)
    cameras = ifs3d.look_at(rng.standard_normal((5, 3)) * 3, rng.standard_normal((5, 3)))
    for position, right, up, forward in cameras:
        basis = np.stack([right, up, forward])
        assert np.allclose(basis @ basis.T, np.eye(3))
        assert np.allclose(forward, -position / np.linalg.norm(position))
        assert np.isclose(np.linalg.det(basis), -1.0)  # right-handed camera looking down -z


def random_system(rng, nmaps):
    system = np.zeros((nmaps, 13))
    system[:, :12] = rng.uniform(-1, 1, (nmaps, 12))
    system[:, 12] = np.abs(np.linalg.det(system[:, :9].reshape(-1, 3, 3)))
    system[:, 12] /= system[:, 12].sum()
    return system


def test_chaos_game_equals_the_reference_loop_bit_for_bit():
    rng = np.random.default_rng(11)
    for nmaps in (2, 5, 7):
        system = random_system(rng, nmaps)
        u = rng.random(3000)
        ours = ifs3d.chaos_game(system, u)
        assert ours.shape == (2999, 3)
        assert np.array_equal(ours, reference_orbit(system, u))


def test_chaos_game_repeats_the_point_when_rounding_leaves_no_map():
    system = random_system(np.random.default_rng(2), 3)
    system[:, 12] *= 0.999
    u = np.array([0.1, 0.9995, 0.5, 0.3])
    orbit = ifs3d.chaos_game(system, u)
    assert np.array_equal(orbit[1], orbit[0]) and not np.array_equal(orbit[2], orbit[1])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 7))
def test_normalised_cloud_spans_two_jointly_and_is_centred(seed, nmaps):
    rng = np.random.default_rng(seed)
    points = ifs3d.chaos_game(random_system(rng, nmaps), rng.random(500))
    raw = points.copy()
    if not ifs3d.normalise(points):
        assert not np.isfinite(raw).all() or raw.max() == raw.min()
        return
    expected = (raw - raw.min()) / (raw.max() - raw.min()) * 2.0 - 1.0
    expected -= expected.mean(axis=0)
    assert np.allclose(points, expected, rtol=0, atol=1e-12)
    assert np.allclose(ifs3d.variances(points), np.var(points, axis=0), rtol=1e-12)


@pytest.mark.parametrize("cloud", [
    np.zeros((10, 3)),                                   # collapsed to one point
    np.array([[0.0, 1.0, 2.0], [np.inf, 0.0, 0.0]]),     # overflowed
    np.array([[0.0, 1.0, 2.0], [np.nan, 0.0, 0.0]]),
])
def test_normalise_refuses_clouds_the_reference_turns_into_nan(cloud):
    assert not ifs3d.normalise(cloud.copy())


def test_diverging_system_gives_no_cloud():
    system = np.zeros((2, 13))
    system[:, [0, 4, 8]] = 3.0  # 3 I: the orbit of (1, 1, 1) overflows
    system[:, 9:12] = 1.0
    system[:, 12] = 0.5
    assert ifs3d.point_cloud(system, np.random.default_rng(0).random(2000)) is None
    system[:, :9] = 0.0  # every point is (1, 1, 1): the cloud collapses
    assert ifs3d.point_cloud(system, np.random.default_rng(0).random(2000)) is None
    system[:, [0, 4, 8]] = 0.5
    assert ifs3d.point_cloud(system, np.random.default_rng(0).random(2000)) is not None
