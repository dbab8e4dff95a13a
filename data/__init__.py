"""RedGrid's bundled demo data, installed as the package ``redgrid_data``.

This folder is data, not code: read it through ``geo.resources.data_path`` (which finds
it in an installed wheel and in a checkout alike), never by a path relative to a module.
"""
