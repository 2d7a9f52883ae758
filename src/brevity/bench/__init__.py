"""The benchmark: running methods over a task's problems, records, summaries, reports and plots."""
