"""RedGrid's spatial core: grids, coordinates, validation, lookup and officials.

A plain library over GeoDataFrames and shapely arrays. Nothing here knows about
Flask, HTTP or a database, so the same code serves the web app, the command line,
the benchmarks and the tests.
"""
