"""Safety of efficient reasoning: does a method that cuts thinking also cut refusals?

The public face of Brevity's refusal judging. `judge_refusal(answer)` labels the answer after thinking as
`full_compliance`, `full_refusal` or `partial_refusal` (XSTest's three classes, by rules: `tasks/refusal.py`);
`thinking_refusal(thinking)` says whether the thinking already decided to refuse; `xstest_strmatch(answer)` is
XSTest's published string match, the baseline. The bench's safety column (`bench/safety.py`) uses the same
judge through the task's scoring.
"""

from brevity.tasks.refusal import LABELS, judge_refusal, thinking_refusal
from brevity.tasks.xstest_judges import strmatch_label as xstest_strmatch

__all__ = ["LABELS", "judge_refusal", "thinking_refusal", "xstest_strmatch"]
