"""Model merging on mergekit: one fast model and its reasoning sibling over their shared base."""

from brevity.merge.merging import MERGE_METHODS, MergePlan, check_mergeable, merge_models

__all__ = ["MERGE_METHODS", "MergePlan", "check_mergeable", "merge_models"]
