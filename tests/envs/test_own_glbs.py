"""Third-party GLBs: floor levels by area, storeys, island-aware spawns, vertex colours, lighting, compressed
files, and HM3D semantics (read back from v4s's own habitat export, and in HM3D v0.2's textured form)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import own_rooms as rooms
import pytest

from v4s.agent.base import EpisodeBrief
from v4s.agent.oracle import OracleAgent
from v4s.envs.nav_env import NavEnv
from v4s.envs.scenes import hm3d
from v4s.envs.scenes.mesh import SceneFileError, load_scene_mesh
from v4s.envs.scenes.semantic import SemanticFileError
from v4s.envs.scenes.spec import resolve_scene
from v4s.envs.sim import SimConfig, make_sim
from v4s.envs.sim.base import NotNavigableError, yaw_to_quaternion
from v4s.envs.sim.embedded import load_scene_assets
from v4s.envs.sim.navgrid import ISLAND_RADIUS_LIMIT
from v4s.envs.tasks import objectnav
from v4s.envs.tasks.config import ObjectNavConfig, task_config
from v4s.envs.tasks.dataset import generate_scene_dataset
from v4s.envs.tasks.episodes import EpisodeDataset, NavigationEpisode, PoseGoal
from v4s.envs.topdown import FLOOR, TopDownMap

HAS_DRACOPY = importlib.util.find_spec("DracoPy") is not None
CONFIG = SimConfig()


def _grid(glb):
    return load_scene_assets(resolve_scene(glb), CONFIG)[1]


@pytest.fixture
def camera():
    """A simulator whose camera, at 1.3 m, sees a wall 2 m ahead across the middle of its 64 x 64 frame."""
    sim = make_sim("embedded", SimConfig(width=64, height=64, hfov=90.0, sensor_height=1.3, lighting="off"))
    yield sim
    sim.close()


# ---------------------------------------------------------------- floor levels
def test_the_floor_level_is_chosen_by_area_not_triangle_count(tmp_path):
    glb = rooms.write_cluttered_room(tmp_path)
    mesh = load_scene_mesh(resolve_scene(glb))
    floor_triangles = 2
    assert mesh.num_triangles - floor_triangles > 5000  # the furniture outnumbers the floor's triangles
    grid = _grid(glb)
    np.testing.assert_allclose(grid.levels, [0.0], atol=1e-6)
    # the 5 x 5 m floor less the 0.18 m margins (21.5 m^2), the desk's footprint with its margin (1.9 m^2) and the
    # partition's (1.5 m^2)
    assert 16.5 < grid.navigable_area < 19.0
    assert grid.is_navigable([1.0, 0.0, 1.0])
    assert not grid.is_navigable([rooms.DESK_CENTER[0], 0.0, rooms.DESK_CENTER[2]])  # the desk is below head height


def test_subdividing_the_mesh_leaves_the_navigable_area_alone(tmp_path):
    plain = _grid(rooms.write_cluttered_room(tmp_path / "plain"))
    fine = _grid(rooms.write_cluttered_room(tmp_path / "fine", subdivide=0.3))
    assert abs(int(fine.navigable.sum()) - int(plain.navigable.sum())) <= 0.005 * plain.navigable.sum()


def test_each_storey_is_a_level_of_its_own(tmp_path):
    grid = _grid(rooms.write_two_storey_building(tmp_path))
    np.testing.assert_allclose(grid.levels, [0.0, rooms.UPPER_FLOOR], atol=1e-6)
    (hx, hz), margin = rooms.BUILDING_HALF, 2 * CONFIG.agent_radius
    full = (2 * hx - margin) * (2 * hz - margin)  # 43.1 m^2 per storey before furniture and partitions
    ground, upper = (float(layer.sum()) * grid.cell_size ** 2 for layer in grid.navigable)
    assert full - 7.0 < ground < full - 3.0 and full - 5.0 < upper < full - 1.5
    # each level has its own obstacles: the partition stands upstairs only, the table downstairs only
    a, b = [-2.0, 0.0, -2.0], [2.0, 0.0, -2.0]
    assert grid.geodesic_distance(a, b) == pytest.approx(4.0, abs=0.01)
    up_a, up_b = [-2.0, rooms.UPPER_FLOOR, -2.0], [2.0, rooms.UPPER_FLOOR, -2.0]
    round_the_end = 2 * np.hypot(2.0, 3.0 + CONFIG.agent_radius)  # the partition ends at z = 1
    assert grid.geodesic_distance(up_a, up_b) == pytest.approx(round_the_end, rel=0.05)
    assert not grid.is_navigable([2.0, 0.0, 1.0]) and grid.is_navigable([2.0, rooms.UPPER_FLOOR, 1.0])
    # no stairs: the storeys are not joined
    assert grid.geodesic_distance(a, up_a) == float("inf")


def test_the_start_position_picks_the_agents_level(tmp_path):
    glb = rooms.write_two_storey_building(tmp_path)
    sim = make_sim("embedded", SimConfig(width=32, height=32))
    try:
        sim.load_scene(glb)
        sim.set_agent_state([-2.0, rooms.UPPER_FLOOR, -2.0], yaw_to_quaternion(0.0))  # facing -z
        assert sim.agent_state.position[1] == pytest.approx(rooms.UPPER_FLOOR)
        for _ in range(8):
            sim.step("move_forward")
        position = sim.agent_state.position
        assert position[1] == pytest.approx(rooms.UPPER_FLOOR)
        assert position[2] == pytest.approx(-(rooms.BUILDING_HALF[1] - CONFIG.agent_radius), abs=0.06)  # at the wall
        with pytest.raises(NotNavigableError, match=r"nearest navigable point"):
            sim.set_agent_state([2.0, 0.0, 1.0])  # inside the ground floor's table
        sim.set_agent_state([2.0, rooms.UPPER_FLOOR, 1.0])  # above it, upstairs
        assert sim.agent_state.position[1] == pytest.approx(rooms.UPPER_FLOOR)
    finally:
        sim.close()


def test_the_default_start_keeps_off_small_islands(tmp_path):
    glb = rooms.write_pen_room(tmp_path)
    grid = _grid(glb)
    lo, hi = grid.get_bounds()
    nearest_centre = grid.snap_point((lo + hi) / 2)
    assert grid.island_radius(nearest_centre) < 0.5  # the centre lies in the pen
    sim = make_sim("embedded", SimConfig(width=32, height=32))
    try:
        sim.load_scene(glb)
        start = sim.agent_state.position
    finally:
        sim.close()
    assert grid.island_radius(start) >= ISLAND_RADIUS_LIMIT
    assert max(abs(start[0]), abs(start[2])) > rooms.PEN_SIDE / 2  # outside the pen
    assert np.linalg.norm(start - nearest_centre) < 1.0  # and still near the centre


def test_no_navigable_area_names_the_file_and_suggests_floor_height_and_the_up_axis(tmp_path):
    # the cluttered room read as if modelled in centimetres: 5 cm across, no room for the agent anywhere
    glb = rooms.write_cluttered_room(tmp_path)
    glb.with_name("cluttered_room.stage_config.json").write_text(json.dumps({"scale": [0.01, 0.01, 0.01]}))
    with pytest.raises(SceneFileError, match=r"cluttered_room\.glb: no navigable area .*has no spot 0\.18 m from .*"
                                             r"Check the up axis \(the scene was read with up \[0\.0, 1\.0, 0\.0\].*"
                                             r"and the scale.*floor_height \(metres\) in cluttered_room\.semantic\.json"):
        _grid(glb)


# ---------------------------------------------------------------- colours and light
def test_float_vertex_colours_render_as_they_are(camera, tmp_path):
    glb = rooms.write_float_colour_room(tmp_path)
    mesh = load_scene_mesh(resolve_scene(glb))
    floor = mesh.texture_index >= 0
    np.testing.assert_array_equal(np.unique(mesh.colors[floor], axis=0), [[230, 204, 178, 255]])  # 0.9, 0.8, 0.7
    camera.load_scene(glb)
    camera.set_agent_state([0.0, 0.0, 0.0], yaw_to_quaternion(0.0))
    rgb = camera.observe()["rgb"]
    assert tuple(rgb[32, 32]) == rooms.WALL_RGB  # the wall: float COLOR_0 on a primitive with a material
    assert rgb[60, 32].min() > 60  # the floor: its texture times its float colours, not black


def test_rgb_vertex_colours_on_a_textured_mesh(camera, tmp_path):
    glb = rooms.write_vec3_colour_room(tmp_path)
    mesh = load_scene_mesh(resolve_scene(glb))
    floor = mesh.texture_index >= 0
    np.testing.assert_array_equal(np.unique(mesh.colors[floor], axis=0), [[230, 200, 180, 255]])  # 8-bit RGB
    # the wall's 16-bit RGB, the grey walls' base colour, the floor's: each with an opaque alpha
    assert {tuple(c) for c in mesh.colors} == {(*rooms.WALL_RGB, 255), (178, 178, 178, 255), (230, 200, 180, 255)}
    camera.load_scene(glb)
    camera.set_agent_state([0.0, 0.0, 0.0], yaw_to_quaternion(0.0))
    assert tuple(camera.observe()["rgb"][32, 32]) == rooms.WALL_RGB


def test_16bit_colours_without_a_material_are_refused_by_name(tmp_path):
    wall = rooms._quad("wall", [[-1, 0, -1], [1, 0, -1], [1, 2, -1], [-1, 2, -1]],
                       colors=np.full((4, 3), 30000, np.uint16), material=False)
    glb = rooms.write_glb(tmp_path / "wide.glb", [rooms._floor("floor", 2, 2), wall])
    with pytest.raises(SceneFileError, match=r"wide\.glb: meshes\[1\]\.primitives\[0\]: 16-bit COLOR_0 on a "
                                             r"primitive without a material"):
        load_scene_mesh(resolve_scene(glb))


def test_an_untextured_room_is_lit_by_default(tmp_path):
    glb = rooms.write_cluttered_room(tmp_path)  # one grey material, no texture, no vertex colours
    frames = {}
    for lighting in ("auto", "off"):
        sim = make_sim("embedded", SimConfig(width=64, height=64, hfov=90.0, sensor_height=1.3, lighting=lighting))
        sim.load_scene(glb)
        sim.set_agent_state([1.5, 0.0, 1.5], yaw_to_quaternion(np.pi / 4))  # towards the desk's corner
        frames[lighting] = sim.observe()["rgb"]
        sim.close()
    assert len(np.unique(frames["off"].reshape(-1, 3), axis=0)) == 1  # unlit: one flat grey
    assert len(np.unique(frames["auto"].reshape(-1, 3), axis=0)) >= 3  # lit: walls, floor, desk differ


def test_vertex_coloured_and_textured_surfaces_keep_their_colours_under_auto_lighting(tmp_path):
    sim = make_sim("embedded", SimConfig(width=64, height=64, hfov=90.0, sensor_height=1.3))
    try:
        sim.load_scene(rooms.write_float_colour_room(tmp_path))
        sim.set_agent_state([0.0, 0.0, 0.0], yaw_to_quaternion(0.0))
        assert tuple(sim.observe()["rgb"][32, 32]) == rooms.WALL_RGB
    finally:
        sim.close()


# ---------------------------------------------------------------- compressed GLBs
@pytest.mark.skipif(not HAS_DRACOPY, reason="DracoPy is not installed (pip install 'v4s[draco]'); it writes and "
                                            "decodes the Draco fixture")
def test_a_draco_compressed_glb_loads(camera, tmp_path):
    glb = rooms.write_draco_room(tmp_path)
    data = glb.read_bytes()
    gltf = json.loads(data[20:20 + int.from_bytes(data[12:16], "little")])  # the GLB's JSON chunk
    assert "KHR_draco_mesh_compression" in gltf["extensionsRequired"]
    plain = load_scene_mesh(resolve_scene(glb.with_name("plain_room.glb")))
    mesh = load_scene_mesh(resolve_scene(glb))
    assert mesh.num_triangles == plain.num_triangles
    np.testing.assert_allclose(mesh.positions, plain.positions, atol=1e-3)  # Draco quantises positions
    np.testing.assert_array_equal(mesh.colors, plain.colors)
    camera.load_scene(glb)
    camera.set_agent_state([0.0, 0.0, 0.0], yaw_to_quaternion(0.0))
    assert tuple(camera.observe()["rgb"][32, 32]) == rooms.WALL_RGB


@pytest.mark.skipif(HAS_DRACOPY, reason="DracoPy is installed, so a Draco file decodes; this checks the error "
                                        "without it")
def test_draco_without_a_decoder_names_the_extension_and_the_extra(tmp_path):
    glb = rooms.write_extension_tagged_room(tmp_path, "KHR_draco_mesh_compression")
    with pytest.raises(SceneFileError, match=r"draco_tagged\.glb: its meshes are compressed with "
                                             r"KHR_draco_mesh_compression \(Draco\).*pip install 'v4s\[draco\]'"):
        load_scene_mesh(resolve_scene(glb))


def test_meshopt_names_the_extension_and_how_to_decompress(tmp_path):
    glb = rooms.write_extension_tagged_room(tmp_path, "EXT_meshopt_compression")
    with pytest.raises(SceneFileError, match=r"meshopt_tagged\.glb: its buffers are compressed with "
                                             r"EXT_meshopt_compression \(meshopt\).*gltf-transform copy "
                                             r"meshopt_tagged\.glb.*gltfpack"):
        load_scene_mesh(resolve_scene(glb))


# ---------------------------------------------------------------- HM3D semantics
def _views(sim, glb, poses):
    sim.load_scene(resolve_scene(glb))
    frames = []
    for x, z, yaw in poses:
        sim.set_agent_state([x, 0.0, z], yaw_to_quaternion(yaw))
        frames.append(sim.observe()["semantic"])
    return frames


def test_hm3d_semantics_round_trip_through_the_habitat_export(tmp_path):
    labelled = rooms.write_labelled_room(tmp_path / "native")
    scan = rooms.write_hm3d_exported_room(tmp_path / "export")
    assert resolve_scene(scan).semantic is None  # no .semantic.json: the HM3D pair is all it has
    native, read = load_scene_mesh(resolve_scene(labelled)), load_scene_mesh(resolve_scene(scan))
    assert read.semantic_mesh is not None and not read.object_ids.any()  # ids live on the semantic mesh
    assert [(o.id, o.category) for o in read.metadata.objects] == [(o.id, o.category) for o in native.metadata.objects]
    for ours, theirs in zip(read.metadata.objects, native.metadata.objects):
        np.testing.assert_allclose(ours.aabb, theirs.aabb, atol=1e-5)
    sim = make_sim("embedded", SimConfig(width=64, height=64))
    try:
        poses = [(x, z, yaw) for x, z in ((0.0, 0.0), (1.5, -0.3)) for yaw in np.arange(0, 2 * np.pi, np.pi / 3)]
        for a, b in zip(_views(sim, labelled, poses), _views(sim, scan, poses)):
            np.testing.assert_array_equal(a, b)
        assert set(np.unique(np.concatenate(_views(sim, scan, poses)))) == {0, 1, 2, 3, 4}
        # ObjectNav's goals, view points included, are the same whichever file the semantics came from
        config = ObjectNavConfig()
        sim.load_scene(resolve_scene(labelled))
        native_goals = objectnav.scene_goals(sim, config)
        sim.load_scene(resolve_scene(scan))
        read_goals = objectnav.scene_goals(sim, config)
    finally:
        sim.close()
    assert sorted(read_goals) == sorted(native_goals) == ["chair", "plant", "sofa"]
    for category, goals in native_goals.items():
        (native_goal,), (read_goal,) = goals, read_goals[category]
        assert read_goal.object_id == native_goal.object_id
        np.testing.assert_allclose(read_goal.position, native_goal.position, atol=1e-5)
        assert len(read_goal.view_points) == len(native_goal.view_points) > 0
        for ours, theirs in zip(read_goal.view_points, native_goal.view_points):
            np.testing.assert_allclose(ours.position, theirs.position, atol=1e-5)
            assert ours.iou == theirs.iou


def test_hm3d_textured_semantics_map_hm3d_names(tmp_path):
    glb = rooms.write_hm3d_textured_room(tmp_path)
    objects = load_scene_mesh(resolve_scene(glb)).metadata.objects
    assert [(o.id, o.category) for o in objects] == [
        (1, "chair"), (2, "sofa"), (3, "plant"), (4, "cabinet"), (5, "wall"), (6, "floor")]
    for obj, (_, _, centre, size) in zip(objects, rooms.HM3D_OBJECTS):
        np.testing.assert_allclose(obj.center, centre, atol=1e-5)
        np.testing.assert_allclose(obj.size, size, atol=1e-5)
    sim = make_sim("embedded", SimConfig(width=64, height=64, hfov=60.0))
    try:
        couch_x = rooms.HM3D_OBJECTS[1][2][0]
        facing_north, facing_couch = _views(sim, glb, [(0.0, 0.0, 0.0), (couch_x, 0.0, np.pi)])
    finally:
        sim.close()
    assert facing_north[32, 32] == 5  # the far wall
    assert facing_couch[40, 32] == 2  # the couch, a little below the eye's height


def test_the_hm3d_category_table_can_be_overridden(tmp_path, monkeypatch):
    glb = rooms.write_hm3d_textured_room(tmp_path)
    table = tmp_path / "categories.json"
    table.write_text(json.dumps({"Cabinet": "tv_monitor", "couch": "bed"}))
    monkeypatch.setenv(hm3d.CATEGORY_TABLE_ENV, str(table))
    objects = load_scene_mesh(resolve_scene(glb)).metadata.objects
    assert {o.id: o.category for o in objects} == {1: "chair", 2: "bed", 3: "plant", 4: "tv_monitor", 5: "wall",
                                                   6: "floor"}
    table.write_text(json.dumps(["not", "a", "table"]))
    with pytest.raises(SemanticFileError, match=r"categories\.json \(named by \$V4S_HM3D_CATEGORIES\): expected a "
                                                r"json object of HM3D names to categories"):
        load_scene_mesh(resolve_scene(glb))


def test_a_bad_hm3d_descriptor_line_names_the_file_and_line(tmp_path):
    glb = rooms.write_hm3d_textured_room(tmp_path)
    descriptor = glb.with_name("scan.semantic.txt")
    lines = descriptor.read_text().splitlines()
    descriptor.write_text("\n".join([*lines[:3], "7,not-hex,\"lamp\",0", *lines[3:]]) + "\n")
    with pytest.raises(SemanticFileError, match=r"scan\.semantic\.txt: line 4: expected "
                                                r"<id>,<RRGGBB>,\"<category>\",<region>, got '7,not-hex,lamp,0'"):
        load_scene_mesh(resolve_scene(glb))


def test_objectnav_runs_on_an_hm3d_scan(tmp_path):
    """Episodes sampled on the HM3D v0.2-style room (raw HM3D names, semantics from the texture) run to success
    with the oracle in NavEnv."""
    glb = rooms.write_hm3d_textured_room(tmp_path)
    small = {"width": 64, "height": 64}
    task = task_config({"name": "objectnav", "context_frames": 4})
    dataset = generate_scene_dataset(task, [str(glb)], 3, sim_overrides=small, progress=False)
    assert {e.object_category for e in dataset.episodes} <= {"chair", "sofa", "plant"}
    env = NavEnv(task, dataset=dataset.save(tmp_path / "objectnav.json.gz"), sim=small)
    agent = OracleAgent.for_env(env)
    successes = []
    try:
        for episode in dataset.episodes:
            obs, info = env.reset(options={"episode_id": episode.episode_id})
            agent.reset(EpisodeBrief.from_info(info, "objectnav", privileged=True))
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(agent.act(obs))
                done = terminated or truncated
            successes.append(info["success"])
    finally:
        env.close()
    assert successes == [1.0] * len(dataset.episodes) and len(successes) == 3


def test_the_top_down_map_shows_the_floor_the_episode_starts_on(tmp_path):
    glb = rooms.write_two_storey_building(tmp_path)
    episodes = [NavigationEpisode(episode_id=name, scene_id=str(glb), start_position=[-2.0, y, -2.0],
                                  start_rotation=yaw_to_quaternion(0.0).tolist(),
                                  goals=[PoseGoal(position=[-2.0, y, -1.0])], info={"geodesic_distance": 1.0},
                                  instruction={"instruction_text": "Move 1.0 m forward."})
                for name, y in (("ground", 0.0), ("upper", rooms.UPPER_FLOOR))]
    path = EpisodeDataset(task="posenav", episodes=episodes).save(tmp_path / "val.json.gz")
    env = NavEnv("posenav", dataset=path, sim={"width": 32, "height": 32}, topdown=True)
    try:
        maps = {name: TopDownMap.from_dict(env.reset(options={"episode_id": name})[1]["topdown"])
                for name in ("ground", "upper")}
    finally:
        env.close()

    def floor(topdown: TopDownMap, x: float, z: float) -> bool:
        r, c = topdown.pixel([x, 0.0, z])
        return tuple(topdown.image[int(r), int(c)]) == FLOOR

    # the table stands downstairs only, the partition at x = 0 upstairs only
    assert not floor(maps["ground"], 2.0, 1.0) and floor(maps["upper"], 2.0, 1.0)
    assert floor(maps["ground"], 0.0, -1.0) and not floor(maps["upper"], 0.0, -1.0)
