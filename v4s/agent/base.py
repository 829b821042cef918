"""The policy interface every agent implements, as the benchmark drives it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Agent(Protocol):
    """``reset(info)`` with the env's reset info, then ``act(obs)`` once per step.

    ``act`` returns an action index of the env's ``Discrete(4)``: 0 stop, 1 move_forward,
    2 turn_left, 3 turn_right.
    """

    def reset(self, info: Mapping[str, Any]) -> None: ...

    def act(self, obs: Mapping[str, np.ndarray]) -> int: ...
