"""The ExFractalDB reference (category_search.py, the OpenGL renderer), in NumPy, loop for loop.

Tests hold fdsl's 3D kernels and search equal to these.
"""
import math

import numpy as np

SIZE, FOV, DISTANCE = 224, 45.0, 4.0
NEAR, FAR = 1.0, 100.0  # the reference render.py's --zNear, --zFar defaults


def reference_orbit(system, u):
    """The reference's ifs_function.calculate: (len(u) - 1, 3) points, loop for loop."""
    cumulative = np.cumsum(system[:, 12]).tolist()
    maps = system[:, :12].tolist()
    x = y = z = 0.0
    out = []
    for i in range(len(u) - 1):
        for j, c in enumerate(cumulative):
            if u[i] <= c:
                a, b, cc, d, e, f, g, h, k, tx, ty, tz = maps[j]
                x, y, z = (x * a + y * b + z * cc + tx,
                           x * d + y * e + z * f + ty,
                           x * g + y * h + z * k + tz)
                break
        out.append((x, y, z))
    return np.array(out)


def reference_cloud(points, point_num):
    """min_max over all axes onto [-1, 1], then the centroid (sum / point_num) subtracted."""
    with np.errstate(all="ignore"):
        scaled = (points - points.min()) / (points.max() - points.min()) * 2.0 - 1.0
        return scaled - scaled.sum(axis=0) / point_num


def reference_trial(rs, points):
    """One trial of category_search.py: (system, accepted-by-variance test values)."""
    nmaps = rs.randint(2, 8)
    system = np.zeros((nmaps, 13))
    total = 0.0
    for m in range(nmaps):
        row = rs.uniform(-1.0, 1.0, 12)
        prob = abs(np.linalg.det(row[:9].reshape(3, 3)))
        total += prob
        system[m] = *row, prob
    system[:, 12] /= total
    cloud = reference_cloud(reference_orbit(system, rs.random_sample(points)), points)
    return system, cloud


def reference_accepts(cloud, variance):
    """The reference's test: no NaN in y, and np.var of each axis above the threshold."""
    with np.errstate(all="ignore"):
        var = np.var(cloud, axis=0)
    return not np.isnan(cloud[:, 1]).any() and bool((var > variance).all())


def glm_matrices(position, up, size, fov):
    """glm.perspective(fov, 1, NEAR, FAR) @ glm.lookAt(position, origin, up), as 4 x 4 arrays."""
    f = -position / np.linalg.norm(position)
    s = np.cross(f, up)
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    view = np.eye(4)
    view[0, :3], view[1, :3], view[2, :3] = s, u, -f
    view[:3, 3] = -view[:3, :3] @ position
    t = math.tan(math.radians(fov) / 2)
    proj = np.zeros((4, 4))
    proj[0, 0] = proj[1, 1] = 1 / t
    proj[2, 2] = -(FAR + NEAR) / (FAR - NEAR)
    proj[2, 3] = -2 * FAR * NEAR / (FAR - NEAR)
    proj[3, 2] = -1.0
    return proj @ view


def reference_view(cloud, position, up, size=SIZE, fov=FOV):
    """One glReadPixels RGB frame (rows bottom-up) of the cloud as 1-px white points."""
    clip = np.c_[cloud, np.ones(len(cloud))] @ glm_matrices(position, up, size, fov).T
    ndc = clip[:, :3] / clip[:, 3:]
    visible = (np.abs(ndc) <= 1).all(axis=1)
    cols = np.floor((ndc[visible, 0] + 1) * size / 2).astype(int)
    rows = np.floor((ndc[visible, 1] + 1) * size / 2).astype(int)
    keep = (cols < size) & (rows < size)
    frame = np.zeros((size, size, 3), np.uint8)
    frame[rows[keep], cols[keep]] = 255
    return frame


def mv_camera(view):
    """The reference's 12 views (without its jitter): azimuth 30 + 30 k degrees about Y."""
    angle = math.radians(30.0 + 30.0 * view)
    return DISTANCE * np.array([-math.cos(angle), 0.0, math.sin(angle)]), np.array([0.0, 1.0, 0.0])
