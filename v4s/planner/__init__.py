"""Imagined frames -> actions: extractors (inverse dynamics, geometry), task objectives, the receding-horizon
planner. The planner knows arrays and the pipeline, never the simulator."""

from v4s.planner.extractors import ActionExtractor, GeometricExtractor, InverseDynamicsModel, load_idm, make_extractor
from v4s.planner.objectives import ObjectGoal, PlanRequest, PoseGoal, objective_for
from v4s.planner.receding import Plan, RecedingHorizonPlanner

__all__ = ["ActionExtractor", "GeometricExtractor", "InverseDynamicsModel", "ObjectGoal", "Plan", "PlanRequest",
           "PoseGoal", "RecedingHorizonPlanner", "load_idm", "make_extractor", "objective_for"]
