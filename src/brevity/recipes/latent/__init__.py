"""Recipes of the implicit family: reasoning moved from tokens into hidden states."""
