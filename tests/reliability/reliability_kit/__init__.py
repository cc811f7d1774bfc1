"""Shared machinery of the reliability suites: a seeded world, syncs, and comparable outcomes."""
