"""Helpers the test suites share: real processes, real ports, real Valkey.

Nothing here fakes a component; it only starts, waits for and stops real ones.
"""
