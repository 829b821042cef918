"""RandomAgent: uniform over the four actions, seeded per episode."""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np

from v4s.agent.base import EpisodeBrief


class RandomAgent:
    """Draws each action uniformly from stop, move_forward, turn_left, turn_right.

    The stream of an episode depends only on ``seed`` and its episode id, so results do not
    depend on which worker runs the episode or in which order."""

    privileged = False

    def __init__(self, seed: int = 0, num_actions: int = 4):
        self.seed = seed
        self.num_actions = num_actions
        self._rng = np.random.default_rng(seed)

    def reset(self, brief: EpisodeBrief) -> None:
        episode = brief.episode_id
        self._rng = np.random.default_rng([self.seed, zlib.crc32(episode.encode())])

    def act(self, obs: Mapping[str, np.ndarray]) -> int:
        return int(self._rng.integers(self.num_actions))
