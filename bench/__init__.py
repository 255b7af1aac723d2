"""Benchmarks: each module measures one component against a baseline in the same run."""
