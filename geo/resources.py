"""Where RedGrid's bundled data is: the catalogue, the demo shapes, roster and gazetteer.

The repository's ``data/`` folder is installed as the package ``redgrid_data`` (see
``pyproject.toml``), so the same files are found from a wheel, an editable install or a
plain checkout. Every reader asks here rather than building a path from its own
``__file__``, which only works in a checkout::

    from geo.resources import data_path

    Catalog.load(data_path("catalog"))
    gpd.read_file(data_path("shapes", "dali-demo-grids.geojson"))
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

DATA_PACKAGE = "redgrid_data"

#: ``data/`` next to ``geo/`` in a source checkout not installed as a package.
CHECKOUT_DATA = Path(__file__).resolve().parents[1] / "data"


def data_root() -> Path:
    """The folder holding the bundled data (``data/`` of the repository)."""
    try:
        root = importlib.resources.files(DATA_PACKAGE)
    except ModuleNotFoundError:
        return CHECKOUT_DATA
    if not isinstance(root, Path):  # a zip import: readers need real files (GDAL, pyogrio)
        raise RuntimeError(
            f"{DATA_PACKAGE} is installed as {root!r}, not as a folder; "
            "install RedGrid unzipped (pip install does)"
        )
    return root


def data_path(*parts: str) -> Path:
    """A bundled file or folder, e.g. ``data_path("catalog")`` or
    ``data_path("gazetteer", "dali-demo-addresses.csv")``.

    Raises ``FileNotFoundError`` naming the full path when it is not there, which in an
    installed copy means the wheel was built without it (``package-data`` in pyproject).
    """
    path = data_root().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"bundled data {'/'.join(parts)!r} not found: {path} does not exist")
    return path
