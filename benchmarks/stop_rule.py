"""ObjectNav's STOP rule, tuned on val by replay: which rule would have stopped the video agent at its goals?

The video agent stops on ObjectNav when its imagined frames show the target's red box centred and large
(``ObjectGoal.stop_after``). A looser rule stops earlier on the same route, so its outcome follows from one
run that never stops:

- ``trace``: runs the shipped video agent (or ``--checkpoint``) on ObjectNav episodes of ``--split`` with
  STOP switched off, each episode to its step limit, and appends one JSON line per episode to ``--out``:
  the distance to the goal and the position after every step, and at every plan the boxes the detector
  finds in each candidate's imagined frames, the actions and confidences read from them, and which
  candidate the planner chose. A rerun skips the episodes already there (``--start`` and ``--episodes``
  pick a slice of the split's dataset, so two processes can share the work).
- ``rules``: replays every rule of a grid (least box area, frames that must show it, votes of the K
  candidates; the still-while-boxed rule always on) over the traces, with the objective's own
  ``ObjectGoal.stop_from_boxes``: an episode ends at the first
  plan where the rule fires, a success when the agent stood within the success distance there, its SPL
  from the path walked so far. Prints one JSON line per rule, best success first (ties: SPL), plus the
  shipped rule's line, after the oracle success of the traced routes, the success of a STOP at a plan
  drawn at random (the score of a rule that knows nothing of the goal) and how often a candidate's first
  imagined frame holds a box, by the distance to the goal.

The replay is exact for the routes: until its first STOP the agent acts as in the trace (a rule only
decides whether a plan is STOP). The distances are the env's own (``distance_to_goal``). Tune on val only.

Usage:
    python benchmarks/stop_rule.py trace --split val --start 0 --episodes 10 --pool 20 --out runs/stop/val-a.jsonl --threads 1
    python benchmarks/stop_rule.py rules runs/stop/val-*.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from v4s.agent.base import EpisodeBrief
from v4s.agent.video import VideoAgent
from v4s.envs.nav_env import NavEnv
from v4s.envs.tasks.config import task_config
from v4s.envs.tasks.dataset import ensure_dataset, task_sim_config
from v4s.envs.tasks.episodes import load_dataset
from v4s.experiments.records import EpisodeLog
from v4s.model.boxes import detect_box
from v4s.planner.objectives import OBJECT_STOP, ObjectGoal


class TracingGoal(ObjectGoal):
    """ObjectNav's objective that never stops and keeps what every STOP rule would look at."""

    def __init__(self, center_region: float):
        super().__init__(center_region=center_region)
        self.plans: list[dict] = []
        self.step = 0  #: the episode's steps before the plan being made (set by the driver)

    def stop_after(self, request, videos, actions, confidence, best) -> bool:
        self.plans.append({"step": self.step, "best": int(best),
                           "boxes": [[detect_box(frame) for frame in video[1:]] for video in videos],
                           "actions": np.asarray(actions).tolist(),
                           "confidence": np.round(np.asarray(confidence, np.float64), 3).tolist()})
        return False


def _step(info: dict) -> list:
    """[distance to the goal, x, y, z] after a step; the distance None where no path leads to the goal from there."""
    distance = float(info["distance_to_goal"])
    return [distance if np.isfinite(distance) else None, *np.round(info["position"].astype(float), 4).tolist()]


def trace(args: argparse.Namespace) -> None:
    task = task_config("objectnav")
    sim = task_sim_config(task)
    if args.start + args.episodes > args.pool:
        raise SystemExit(f"--start {args.start} + --episodes {args.episodes} is past the --pool of {args.pool}")
    # the same dataset file as `v4s-bench split=<split> num_episodes=<pool>`, whatever the slice
    dataset = ensure_dataset(task, args.split, args.pool, sim, progress=False)
    episodes = load_dataset(dataset, task.name, sim.scenes_dir).episodes[args.start: args.start + args.episodes]
    log = EpisodeLog(Path(args.out))
    agent = VideoAgent(sim, task, checkpoint=args.checkpoint, threads=args.threads)
    tracer = TracingGoal(task.center_region)
    agent.objective = agent.planner.objective = tracer
    env = NavEnv(task=task, split=args.split, dataset=dataset, sim=sim)
    try:
        for episode in episodes:
            if episode.episode_id in log:
                continue
            obs, info = env.reset(options={"episode_id": episode.episode_id})
            agent.reset(0, EpisodeBrief.from_info(info, task.name, privileged=False))
            tracer.plans = []
            steps = [_step(info)]
            over = False
            while not over:
                tracer.step = len(steps) - 1
                action = agent.act({k: np.asarray(v)[None] for k, v in obs.items()}, np.ones(1, bool))[0]
                obs, _, terminated, truncated, info = env.step(int(action))
                steps.append(_step(info))
                over = terminated or truncated
            log.append({"episode_id": episode.episode_id, "scene_id": episode.scene_id,
                        "instruction": episode.instruction_text, "success_distance": task.success_distance,
                        "frame_size": agent.resolution, "steps": steps, "plans": tracer.plans})
            end = "with no path to the goal" if steps[-1][0] is None else f"{steps[-1][0]:.2f} m from the goal"
            print(f"{episode.episode_id}: {len(steps) - 1} steps, {len(tracer.plans)} plans, ended {end}", flush=True)
    finally:
        env.close()


def replay(episodes: list[dict], rule: ObjectGoal) -> dict:
    """Success, SPL, and where the episodes stop under one rule (see the module docstring): the objective's own
    :meth:`~v4s.planner.objectives.ObjectGoal.stop_from_boxes` on the traced boxes."""
    success, spl, stopped, stop_distance = [], [], 0, []
    for ep in episodes:
        steps = np.asarray([[np.nan if v is None else v for v in step] for step in ep["steps"]], np.float64)
        travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(steps[:, 1:], axis=0), axis=1))])
        d0, size = steps[0, 0], (ep["frame_size"], ep["frame_size"])
        end = len(steps) - 1  # no STOP: the step limit
        for plan in ep["plans"]:
            if rule.stop_from_boxes(plan["boxes"], np.asarray(plan["actions"]), np.asarray(plan["confidence"]),
                                    plan["best"], size):
                end = plan["step"]
                stopped += 1
                stop_distance.append(steps[end, 0])
                break
        ok = end < len(steps) - 1 and steps[end, 0] <= ep["success_distance"]
        success.append(float(ok))
        spl.append(float(ok) * (d0 / max(d0, travelled[end]) if max(d0, travelled[end]) > 0 else 1.0))
    return {"area": rule.stop_box_area, "frames": rule.stop_frames, "votes": rule.stop_votes,
            "episodes": len(episodes), "success": round(float(np.mean(success)), 3),
            "spl": round(float(np.mean(spl)), 3), "stopped": stopped,
            # where a stop was made (where the goal could be reached from: no path counts as no distance)
            "stop_distance_m": round(float(np.nanmean(stop_distance)), 2) if np.isfinite(stop_distance).any() else None}


def box_rates(episodes: list[dict], edges: tuple[float, ...] = (1.0, 2.0, 4.0)) -> dict[str, dict]:
    """How often a candidate's first imagined frame holds a box, by the agent's distance to the goal at the plan:
    whether the boxes the model draws say anything about where the goal is."""
    bins: dict[str, list[float]] = {}
    for ep in episodes:
        for plan in ep["plans"]:
            d = ep["steps"][plan["step"]][0]
            if d is None:  # no path to the goal from there
                continue
            label = next((f"<= {e:g} m" for e in edges if d <= e), f"> {edges[-1]:g} m")
            bins.setdefault(label, []).extend(float(b[0] is not None) for b in plan["boxes"])
    order = [f"<= {e:g} m" for e in edges] + [f"> {edges[-1]:g} m"]
    return {k: {"candidates": len(bins[k]), "box_rate": round(float(np.mean(bins[k])), 3)} for k in order if k in bins}


def _within(ep: dict, step: int) -> bool:
    """Whether the agent stood within the success distance after ``step`` steps of traced episode ``ep``."""
    d = ep["steps"][step][0]
    return d is not None and d <= ep["success_distance"]


def rules(args: argparse.Namespace) -> None:
    episodes = [json.loads(line) for path in args.traces for line in Path(path).read_text().splitlines()]
    if not episodes:
        raise SystemExit(f"no episodes in {args.traces}")
    oracle = np.mean([any(_within(ep, t) for t in range(len(ep["steps"]))) for ep in episodes])
    # a STOP at one of an episode's plans drawn uniformly: what a rule that knows nothing of the goal scores
    chance = np.mean([np.mean([_within(ep, plan["step"]) for plan in ep["plans"]]) for ep in episodes])
    print(json.dumps({"episodes": len(episodes), "oracle_success": round(float(oracle), 3),
                      "success_of_a_stop_at_a_random_plan": round(float(chance), 3)}))
    print(json.dumps({"box_in_first_frame_by_distance": box_rates(episodes)}))
    region = task_config("objectnav").center_region
    grid = [replay(episodes, ObjectGoal(area, frames, votes, center_region=region))
            for area, frames, votes in itertools.product((0.0, 0.01, 0.02, 0.04, 0.06), (1, 2, 3), (0, 1, 2, 3))]
    grid.sort(key=lambda r: (-r["success"], -r["spl"]))
    for row in grid[: args.top]:
        print(json.dumps(row))
    print(json.dumps({"shipped": replay(episodes, ObjectGoal(**OBJECT_STOP, center_region=region))}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("trace")
    t.add_argument("--split", default="val")
    t.add_argument("--start", type=int, default=0)
    t.add_argument("--episodes", type=int, default=10)
    t.add_argument("--pool", type=int, default=20, help="episodes in the split's dataset that the slice is cut from")
    t.add_argument("--out", required=True)
    t.add_argument("--checkpoint", default=None)
    t.add_argument("--threads", type=int, default=1)
    r = sub.add_parser("rules")
    r.add_argument("traces", nargs="+")
    r.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    if args.command == "trace" and args.split == "test":
        raise SystemExit("--split test: STOP rules are tuned on val (or train), never on the test split")
    trace(args) if args.command == "trace" else rules(args)


if __name__ == "__main__":
    main()
