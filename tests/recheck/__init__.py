"""Tests for crawler/recheck/."""
