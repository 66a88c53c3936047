"""Adapters that publish the catalogue to, and harvest it from, the Virtual Observatory."""
