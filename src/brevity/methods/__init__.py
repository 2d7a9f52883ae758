"""Registered methods: each turns problems into Solution records using an engine."""

from brevity.methods.base import Method, RunContext, build_method, method_names, register
from brevity.methods.solution import Solution
from brevity.spec import MethodSpec, parse_spec, parse_spec_list

__all__ = ["Method", "MethodSpec", "RunContext", "Solution", "build_method", "method_names", "parse_spec",
           "parse_spec_list", "register"]
