"""The contract every simulator backend obeys, run against each importable backend.

Where habitat-sim's semantics legitimately differ from the embedded backend's, the contract allows it,
with the reason beside the allowance:

- **heights**: habitat's navmesh quantises heights to its cell height, so the feet stand up to
  :data:`FEET_HEIGHT_TOLERANCE` above the floor (the embedded grid puts them on it);
- **depth**: both give z-depth (along the optical axis, metres, 0 where nothing was hit); the camera
  sits ``sensor_height`` above the feet, so on habitat it sees the floor from as much higher as the feet are;
- **grey levels**: habitat turns in float32 quaternions, so after a full circle the view is a hair
  off: a few pixels on texture edges round to a neighbouring grey level (measured: at most 19 of
  49,152 values, by 1 or 2 levels), depth moves by under a millimetre (:data:`GREY_LEVEL_TOLERANCE`);
- **islands**: habitat's navmesh also covers the tops of furniture; random points come from the
  agent's island, so any two are connected;
- **steps**: ``try_step`` / ``try_step_no_sliding`` are each backend's own motion model, and
  ``step("move_forward")`` ends where ``try_step`` says.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import HOUSE_ID
from scene_fixtures import BLOCK_CENTER, BLOCK_SIZE, ROOM_HALF
from scipy.spatial import cKDTree

from v4s.envs.scenes.mesh import load_scene_mesh
from v4s.envs.scenes.spec import resolve_scene
from v4s.envs.sim import SIM_ACTIONS, MultiGoalShortestPath, ShortestPath
from v4s.envs.sim.base import heading_vector, quaternion_to_yaw, yaw_to_quaternion
from v4s.envs.sim.navgrid import _sample_triangles

DEPTH_TOLERANCE = 0.02  # metres
#: habitat's navmesh heights are quantised to its cell height (recast voxels; 1 cm in the habitat backend)
FEET_HEIGHT_TOLERANCE = 0.015  # metres
#: habitat accumulates turns in float32: after 360 degrees an edge pixel may be a grey level or two off...
GREY_LEVEL_TOLERANCE = 2
#: ... in a handful of the values at most
GREY_LEVEL_SHARE = 1e-3


def _pixel_rays(width: int, height: int, hfov: float) -> np.ndarray:
    """Camera-frame direction (H, W, 3) of each pixel centre, scaled so that z = -1."""
    fx = 1.0 / math.tan(math.radians(hfov) / 2.0)
    fy = fx * width / height
    xs = (2.0 * (np.arange(width) + 0.5) / width - 1.0) / fx
    ys = (1.0 - 2.0 * (np.arange(height) + 0.5) / height) / fy
    x, y = np.meshgrid(xs, ys)
    return np.stack([x, y, -np.ones_like(x)], axis=-1)


def _world_points(depth: np.ndarray, eye: np.ndarray, yaw: float, hfov: float) -> np.ndarray:
    """Back-project z-depth (H, W, 1) seen from ``eye`` with ``yaw`` to world points (H, W, 3)."""
    h, w = depth.shape[:2]
    cam = _pixel_rays(w, h, hfov) * depth
    c, s = math.cos(yaw), math.sin(yaw)
    x = c * cam[..., 0] + s * cam[..., 2]
    z = -s * cam[..., 0] + c * cam[..., 2]
    return np.stack([x + eye[0], cam[..., 1] + eye[1], z + eye[2]], axis=-1)


# ---------------------------------------------------------------- depth against known geometry
def test_depth_of_a_wall_at_known_distance(sim_factory, box_room):
    sim = sim_factory()
    sim.load_scene(box_room)
    # facing +z (yaw = pi) from the centre: the wall's inner face is ROOM_HALF away, and z-depth (the
    # convention of both backends, not the distance along each ray) is the same along the whole horizon row
    sim.set_agent_state([0.0, 0.0, 0.0], yaw_to_quaternion(math.pi))
    depth = sim.observe()["depth"]
    assert depth.shape == (128, 128, 1) and depth.dtype == np.float32
    horizon = depth[63:65, :, 0]
    np.testing.assert_allclose(horizon, ROOM_HALF, atol=DEPTH_TOLERANCE)
    # the bottom row sees the floor, sensor_height below the camera (which stands on the navmesh's height)
    fy = 1.0 / math.tan(math.radians(sim.config.hfov) / 2.0)
    y_ndc = 1.0 - 2.0 * (127 + 0.5) / 128
    expected = (sim.config.sensor_height + sim.agent_state.position[1]) * fy / -y_ndc
    assert abs(sim.agent_state.position[1]) <= FEET_HEIGHT_TOLERANCE
    np.testing.assert_allclose(depth[127, :, 0], expected, atol=DEPTH_TOLERANCE)


def test_depth_back_projects_onto_the_mesh(sim_factory):
    sim = sim_factory()
    sim.load_scene(HOUSE_ID)
    mesh = load_scene_mesh(resolve_scene(HOUSE_ID))
    surface = cKDTree(_sample_triangles(mesh.positions[mesh.faces.astype(np.int64)].astype(np.float64), 0.01))
    sim.pathfinder.seed(3)
    rng = np.random.default_rng(3)
    for _ in range(5):
        p = sim.pathfinder.get_random_navigable_point()
        yaw = float(rng.uniform(-math.pi, math.pi))
        sim.set_agent_state(p, yaw_to_quaternion(yaw))
        depth = sim.observe()["depth"]
        hit = depth[..., 0] > 0
        points = _world_points(depth, p + [0, sim.config.sensor_height, 0], yaw, sim.config.hfov)[hit]
        distance, _ = surface.query(points)
        assert np.percentile(distance, 99) < DEPTH_TOLERANCE


# ---------------------------------------------------------------- semantics
def test_semantic_ids_match_objects_in_the_box_room(sim_factory, box_room):
    sim = sim_factory()
    sim.load_scene(box_room)
    assert [(o.id, o.category) for o in sim.objects] == [(7, "cabinet")]
    sim.set_agent_state([BLOCK_CENTER[0], 0.0, 0.5], yaw_to_quaternion(0.0))
    obs = sim.observe()
    assert obs["semantic"].dtype == np.int32 and obs["semantic"].shape == (128, 128)
    assert obs["semantic"][64, 64] == 7
    front = BLOCK_CENTER[2] + BLOCK_SIZE[2] / 2
    assert obs["depth"][64, 64, 0] == pytest.approx(0.5 - front, abs=DEPTH_TOLERANCE)
    assert set(np.unique(obs["semantic"])) == {0, 7}


def test_semantic_pixels_fall_inside_their_object(sim_factory):
    sim = sim_factory()
    sim.load_scene(HOUSE_ID)
    objects = {o.id: o for o in sim.objects}
    assert len(objects) >= 5
    checked = 0
    for obj in list(objects.values())[:12]:
        # stand on the navigable point nearest the object and look at its centre
        p = sim.pathfinder.snap_point(obj.center * [1, 0, 1])
        if np.isnan(p[0]):
            continue
        to_obj = obj.center - p
        yaw = math.atan2(-to_obj[0], -to_obj[2])
        sim.set_agent_state(p, yaw_to_quaternion(yaw))
        obs = sim.observe()
        ids = set(np.unique(obs["semantic"]).tolist())
        assert ids <= {0, *objects}
        mask = obs["semantic"] == obj.id
        if mask.sum() < 20:
            continue
        points = _world_points(obs["depth"], p + [0, sim.config.sensor_height, 0], yaw, sim.config.hfov)[mask]
        lo, hi = np.asarray(obj.aabb[0]) - 0.03, np.asarray(obj.aabb[1]) + 0.03
        inside = np.all((points >= lo) & (points <= hi), axis=1)
        assert inside.mean() > 0.99, f"{obj.category} {obj.id}: {inside.mean():.3f} of its pixels outside its AABB"
        checked += 1
    assert checked >= 3


# ---------------------------------------------------------------- motion
@pytest.mark.parametrize("scene", ["box", HOUSE_ID])
def test_no_step_ends_inside_a_wall(sim_factory, box_room, scene):
    sim = sim_factory()
    spec = resolve_scene(box_room if scene == "box" else scene)
    sim.load_scene(spec)
    mesh = load_scene_mesh(spec)
    c = sim.config
    points = _sample_triangles(mesh.positions[mesh.faces.astype(np.int64)].astype(np.float64), 0.02)
    body = points[(points[:, 1] > c.max_climb + 0.01) & (points[:, 1] < c.agent_height - 0.01)]
    walls = cKDTree(body[:, [0, 2]])
    rng = np.random.default_rng(0)
    actions = rng.choice(SIM_ACTIONS, size=400, p=[0.6, 0.2, 0.2])
    collisions = 0
    for action in actions:
        obs = sim.step(str(action))
        collisions += bool(obs["collided"])
        pos = sim.agent_state.position
        assert sim.pathfinder.is_navigable(pos)
        clearance, _ = walls.query(pos[[0, 2]])
        assert clearance >= c.agent_radius - c.nav_cell_size, f"agent at {pos} is {clearance:.3f} m from geometry"
    assert collisions > 0  # the walk did hit walls, so sliding was exercised


def test_forward_moves_a_quarter_metre_and_slides_along_walls(sim_factory, box_room):
    sim = sim_factory()
    sim.load_scene(box_room)
    sim.set_agent_state([-1.0, 0.0, 1.0], yaw_to_quaternion(0.0))
    start = sim.agent_state.position
    obs = sim.step("move_forward")
    assert not obs["collided"] and not sim.previous_step_collided
    end = sim.agent_state.position
    np.testing.assert_allclose(end[[0, 2]], [-1.0, 0.75], atol=1e-6)
    assert abs(end[1]) <= FEET_HEIGHT_TOLERANCE  # on the floor, to the navmesh's height quantum
    np.testing.assert_allclose(end, sim.pathfinder.try_step(start, start + [0.0, 0.0, -0.25]), atol=1e-5)
    # walk diagonally into the -z wall: blocked along z, the agent keeps sliding along -x
    sim.set_agent_state([0.0, 0.0, -1.6], yaw_to_quaternion(math.radians(45)))
    before = sim.agent_state.position
    for _ in range(3):
        obs = sim.step("move_forward")
    after = sim.agent_state.position
    assert obs["collided"] and sim.previous_step_collided
    assert after[0] < before[0] - 0.2  # slid along the wall
    assert after[2] >= -ROOM_HALF + sim.config.agent_radius - sim.config.nav_cell_size


def test_full_turn_returns_the_same_frame(sim_factory):
    sim = sim_factory()
    sim.load_scene(HOUSE_ID)
    sim.pathfinder.seed(1)
    sim.set_agent_state(sim.pathfinder.get_random_navigable_point(), yaw_to_quaternion(0.3))
    first = sim.observe()
    turns = round(360 / sim.config.turn_angle)
    for action in ("turn_left", "turn_right"):
        for _ in range(turns):
            obs = sim.step(action)
        off = np.abs(obs["rgb"].astype(np.int16) - first["rgb"])
        assert off.max() <= GREY_LEVEL_TOLERANCE and (off > 0).mean() <= GREY_LEVEL_SHARE
        np.testing.assert_allclose(obs["depth"], first["depth"], atol=1e-3)
        assert (obs["semantic"] != first["semantic"]).mean() <= GREY_LEVEL_SHARE
    assert quaternion_to_yaw(sim.agent_state.rotation) == pytest.approx(0.3, abs=1e-5)  # habitat keeps float32


def test_turns_follow_habitat_conventions(sim_factory, box_room):
    sim = sim_factory(turn_angle=90.0)
    sim.load_scene(box_room)
    sim.set_agent_state([0.0, 0.0, 0.0], yaw_to_quaternion(0.0))
    sim.step("turn_left")  # counter-clockwise seen from above: now looking down -x
    np.testing.assert_allclose(heading_vector(quaternion_to_yaw(sim.agent_state.rotation)), [-1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(sim.agent_state.rotation, [0, math.sin(math.pi / 4), 0, math.cos(math.pi / 4)],
                               atol=1e-9)


# ---------------------------------------------------------------- path finding
def test_geodesic_is_at_least_euclidean_and_paths_are_navigable(sim_factory):
    sim = sim_factory()
    sim.load_scene(HOUSE_ID)
    pf = sim.pathfinder
    pf.seed(7)
    detours = 0
    for _ in range(30):
        a, b = pf.get_random_navigable_point(), pf.get_random_navigable_point()
        path = ShortestPath(requested_start=a, requested_end=b)
        assert pf.find_path(path)
        euclid = float(np.linalg.norm(b - a))
        assert path.geodesic_distance >= euclid - 1e-6
        assert pf.geodesic_distance(a, b) == pytest.approx(path.geodesic_distance)
        np.testing.assert_allclose(path.points[0], a, atol=1e-6)
        np.testing.assert_allclose(path.points[-1], b, atol=1e-6)
        for point in path.points:
            assert pf.is_navigable(point)
        length = sum(np.linalg.norm(q - p) for p, q in zip(path.points[:-1], path.points[1:]))
        assert length == pytest.approx(path.geodesic_distance, rel=1e-6)
        detours += path.geodesic_distance > euclid * 1.05
    assert detours > 0  # some pairs needed to go round walls


def test_random_points_come_from_the_agents_island(sim_factory):
    sim = sim_factory()
    sim.load_scene(HOUSE_ID)
    pf = sim.pathfinder
    start = sim.agent_state.position  # where load_scene put the agent
    island = pf.island_radius(start)
    assert island >= 1.5  # habitat-lab's ISLAND_RADIUS_LIMIT for episode starts
    pf.seed(2)
    for _ in range(40):
        p = pf.get_random_navigable_point()
        assert pf.island_radius(p) == pytest.approx(island, abs=1e-4)
        assert math.isfinite(pf.geodesic_distance(start, p))


def test_geodesic_is_euclidean_on_open_floor(sim_factory, box_room):
    sim = sim_factory()
    sim.load_scene(box_room)
    pf = sim.pathfinder
    # any direction, not just the grid's axes and diagonals
    for angle in np.linspace(0.0, math.pi, 13):
        a = np.array([-1.2, 0.0, 1.2])
        b = a + 1.6 * np.array([math.cos(angle) * 0.5, 0.0, -math.sin(angle)])
        if not pf.is_navigable(b):
            continue
        assert pf.geodesic_distance(a, b) == pytest.approx(float(np.linalg.norm(b - a)), abs=1e-6)
    # round the block: longer than straight, shorter than via the block's inflated corners
    a, b = np.array([1.0, 0.0, 0.2]), np.array([1.0, 0.0, -1.75])
    r = sim.config.agent_radius
    half = BLOCK_SIZE[0] / 2 + r
    corner_route = math.hypot(half, a[2] - (BLOCK_CENTER[2] + half)) + 2 * half + math.hypot(
        half, (BLOCK_CENTER[2] - half) - b[2])
    assert float(np.linalg.norm(b - a)) * 1.02 < pf.geodesic_distance(a, b) <= corner_route + 0.1


def test_multi_goal_and_unreachable(sim_factory, box_room):
    sim = sim_factory()
    sim.load_scene(box_room)
    pf = sim.pathfinder
    start = np.array([-1.0, 0.0, 1.0])
    ends = [np.array([1.5, 0.0, 1.5]), np.array([-1.0, 0.0, 0.0])]
    path = MultiGoalShortestPath(requested_start=start, requested_ends=ends)
    assert pf.find_path(path)
    assert path.closest_end_point_index == 1
    assert path.geodesic_distance == pytest.approx(1.0, abs=1e-6)
    assert pf.geodesic_distance(start, ends) == pytest.approx(1.0, abs=1e-6)
    assert math.isinf(pf.geodesic_distance(start, [30.0, 0.0, 30.0]))  # outside the house
    assert not pf.is_navigable([0.0, 0.0, -ROOM_HALF])  # inside the wall
    assert not pf.is_navigable([0.0, 1.5, 0.0])  # in mid-air


def test_random_points_and_snapping(sim_factory):
    sim = sim_factory()
    sim.load_scene(HOUSE_ID)
    pf = sim.pathfinder
    lo, hi = pf.get_bounds()
    pf.seed(11)
    first = [pf.get_random_navigable_point() for _ in range(20)]
    pf.seed(11)
    np.testing.assert_array_equal(first, [pf.get_random_navigable_point() for _ in range(20)])
    for p in first:
        assert pf.is_navigable(p) and np.all(p >= lo - 1e-6) and np.all(p <= hi + 1e-6)
        off = p + [0.0, 0.0, 0.0]
        assert np.allclose(pf.snap_point(off), p)
    assert pf.navigable_area > 5.0


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_the_same_frames(backend, tmp_path):
    from v4s.envs.scenes.procedural import write_house
    from v4s.envs.sim import make_sim

    frames = []
    for copy in ("a", "b"):
        glb, _ = write_house(100003, tmp_path / copy)
        sim = make_sim(backend)
        try:
            sim.load_scene(glb)
            sim.pathfinder.seed(5)
            sim.set_agent_state(sim.pathfinder.get_random_navigable_point(), yaw_to_quaternion(1.0))
            frames.append([sim.step(a) for a in ("move_forward", "turn_left", "move_forward")])
        finally:
            sim.close()
    for a, b in zip(*frames):
        for key in ("rgb", "depth", "semantic", "collided"):
            np.testing.assert_array_equal(a[key], b[key])
