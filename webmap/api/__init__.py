"""The JSON API at /api/v1: grids and lookups, cases, statistics and geocoding."""
