"""Brevity: make large reasoning models spend fewer tokens for the same answers."""

__version__ = "0.1.0"
