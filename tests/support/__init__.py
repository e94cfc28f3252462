"""Helpers the tests share; no test file imports from another test file."""
