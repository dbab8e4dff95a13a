"""Where the read-only reference data lives (the OSM outline, the 43 communities).

The repository never holds a copy of it (see data/README.md); tests and tools
read it from the ``shared/`` folder beside the checkout. ``REDGRID_SHARED_DIR``
overrides the search, for checkouts kept elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The shared reference folder; fails loudly rather than skipping when it is missing."""
    candidates = []
    if os.environ.get("REDGRID_SHARED_DIR"):
        candidates.append(Path(os.environ["REDGRID_SHARED_DIR"]))
    candidates += [REPO_ROOT.parent / "shared", Path("/work/shared")]
    for path in candidates:
        if (path / "data" / "dali_communities.csv").is_file():
            return path
    raise FileNotFoundError(
        "shared reference data not found; looked in "
        + ", ".join(str(p) for p in candidates)
        + " (set REDGRID_SHARED_DIR to the folder holding data/dali_communities.csv)"
    )


def shared_file(relative: str) -> Path:
    """A file under the shared folder, e.g. ``data/dali_town_boundary.geojson``."""
    path = shared_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(f"shared reference file missing: {path}")
    return path
