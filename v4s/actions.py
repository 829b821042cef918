"""The discrete action space, numbered as habitat-lab's navigation tasks number it.

One definition for the env, the agents, the planner and the inverse-dynamics model: ``STOP`` 0,
``FORWARD`` 1 (move_forward), ``LEFT`` 2 (turn_left), ``RIGHT`` 3 (turn_right). An extractor's
"no motion" (two frames that show the same view) shares STOP's id: in a plan it means stand, at the
end of one it means stop.
"""

ACTION_NAMES: tuple[str, ...] = ("stop", "move_forward", "turn_left", "turn_right")
STOP, FORWARD, LEFT, RIGHT = range(len(ACTION_NAMES))
NO_MOTION = STOP

__all__ = ["ACTION_NAMES", "FORWARD", "LEFT", "NO_MOTION", "RIGHT", "STOP"]
