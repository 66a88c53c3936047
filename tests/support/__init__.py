"""Builders for test records."""
