"""Tests of the test suite's own machinery (tests/support: the order files start in)."""
