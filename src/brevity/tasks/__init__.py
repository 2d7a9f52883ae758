"""Problem sets and grading: generated tasks (arith, mult, graph) and GSM8K-format loaders."""

from brevity.tasks.base import Problem, TaskSpec, describe_task, load_problems, task_names
from brevity.tasks.grading import extract_answer, grade

__all__ = ["Problem", "TaskSpec", "describe_task", "extract_answer", "grade", "load_problems", "task_names"]
