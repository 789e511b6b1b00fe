"""pytest setup for bench/: the ratio table printed at the end of a benchmark session (see report.py)."""

from report import pytest_terminal_summary

__all__ = ["pytest_terminal_summary"]
