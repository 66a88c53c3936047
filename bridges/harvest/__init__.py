"""Harvesting the VO: TAP/ObsCore services, RegTAP registries, HiPS lists (docs/harvest.md)."""
