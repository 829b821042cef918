"""Simulator throughput on a generated house; prints one JSON line.

- ``steps_per_s``: ``EmbeddedSim.step`` with random actions, 128x128 RGB + depth.
- ``render_ms``: one ``observe()`` (draw + readback through the renderer).
- ``overhead_ratio``: step time over the raw moderngl draw and readback of the same mesh
  from the same poses (the renderer's program, buffers and framebuffer driven directly,
  with view matrices computed beforehand), measured in the same run, interleaved.
- ``house_generate_s`` / ``navgrid_build_s``: generating one house, building its grid.

Usage: python benchmarks/sim_fps.py [--steps 2000] [--scene house-100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import moderngl
import numpy as np

from v4s.envs.scenes.mesh import load_scene_mesh
from v4s.envs.scenes.procedural import write_house
from v4s.envs.scenes.spec import SceneSpec, house_seed
from v4s.envs.sim import SIM_ACTIONS, SimConfig, gl
from v4s.envs.sim.base import quaternion_to_yaw
from v4s.envs.sim.embedded import EmbeddedSim, nav_settings
from v4s.envs.sim.navgrid import NavGrid
from v4s.envs.sim.renderer import view_matrix


def _time_steps(sim: EmbeddedSim, actions: list[str]) -> float:
    """Seconds per ``sim.step``."""
    start = time.perf_counter()
    for action in actions:
        sim.step(action)
    return (time.perf_counter() - start) / len(actions)


def _raw_loop(sim: EmbeddedSim, views: list[bytes]) -> float:
    """Seconds per frame of the bare moderngl calls: clear, upload view, draw, read rgb and depth."""
    r = sim._renderer
    fbo, vao, textures, uniform, ctx = r.fbo, r.vao, r.textures, r.program["u_view"], r.ctx
    h, w = r.height, r.width
    rgb = np.empty((h, w, 3), np.uint8)
    depth = np.empty((h, w, 1), np.float32)
    start = time.perf_counter()
    for view in views:
        fbo.use()
        ctx.enable_only(moderngl.DEPTH_TEST)
        fbo.clear(0.0, 0.0, 0.0, 0.0)
        textures.use(0)
        uniform.write(view)
        vao.render()
        fbo.read_into(rgb, components=3, attachment=0)
        fbo.read_into(depth, components=1, attachment=1, dtype="f4")
    return (time.perf_counter() - start) / len(views)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", default="house-100000")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        seed = house_seed(args.scene)
        generate_s = []
        for i in range(3):
            start = time.perf_counter()
            glb, semantic = write_house(seed, Path(tmp) / str(i), scene_id=args.scene)
            generate_s.append(time.perf_counter() - start)
        spec = SceneSpec(scene_id=args.scene, glb=glb, semantic=semantic)
        config = SimConfig(width=args.size, height=args.size, sensors=("rgb", "depth"))
        mesh = load_scene_mesh(spec)
        settings = nav_settings(config)
        settings.floor_height = mesh.metadata.floor_height
        build_s = []
        for _ in range(3):
            start = time.perf_counter()
            NavGrid.from_mesh(mesh.positions, mesh.faces.astype(np.int64), settings)
            build_s.append(time.perf_counter() - start)

        sim = EmbeddedSim(config)
        sim.load_scene(spec)
        rng = np.random.default_rng(0)
        sim.pathfinder.seed(0)
        start_position = sim.pathfinder.get_random_navigable_point()
        sim.set_agent_state(start_position)
        actions = [str(a) for a in rng.choice(SIM_ACTIONS, size=args.steps, p=[0.5, 0.25, 0.25])]
        # the poses the run visits, so the raw loop draws exactly the same frames
        views = []
        for action in actions:
            sim.step(action)
            state = sim.agent_state
            eye = state.position + [0.0, config.sensor_height, 0.0]
            views.append(view_matrix(eye, quaternion_to_yaw(state.rotation)).T.astype(np.float32).tobytes())
        views = views[-1:] + views[:-1]  # view i is the pose after step i-1, i.e. what step i starts from

        step_s, raw_s, render_s = [], [], []
        for _ in range(args.rounds):
            sim.set_agent_state(start_position, [0.0, 0.0, 0.0, 1.0])  # replay the recorded poses
            step_s.append(_time_steps(sim, actions))
            raw_s.append(_raw_loop(sim, views))
            start = time.perf_counter()
            for _ in range(200):
                sim.observe()
            render_s.append((time.perf_counter() - start) / 200)
        renderer_name = gl.get_context().info["GL_RENDERER"]
        sim.close()

    step, raw = statistics.median(step_s), statistics.median(raw_s)
    print(json.dumps({
        "benchmark": "sim_fps",
        "scene": args.scene,
        "resolution": [args.size, args.size],
        "sensors": ["rgb", "depth"],
        "triangles": int(mesh.num_triangles),
        "steps": args.steps,
        "rounds": args.rounds,
        "steps_per_s": round(1.0 / step, 1),
        "step_ms": round(step * 1e3, 4),
        "render_ms": round(statistics.median(render_s) * 1e3, 4),
        "raw_draw_readback_ms": round(raw * 1e3, 4),
        "overhead_ratio": round(step / raw, 3),
        "house_generate_s": round(statistics.median(generate_s), 3),
        "navgrid_build_s": round(statistics.median(build_s), 3),
        "gl_renderer": renderer_name,
    }))


if __name__ == "__main__":
    main()
