"""Problem sets and grading: generated tasks (arith, mult, graph), GSM8K, MATH-500 and a user's own JSONL."""

from brevity.tasks.base import Problem, TaskSpec, describe_task, load_problems, task_names
from brevity.tasks.grading import extract_answer, grade

__all__ = ["Problem", "TaskSpec", "describe_task", "extract_answer", "grade", "load_problems", "task_names"]
