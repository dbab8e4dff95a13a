"""Administrators' changes to the complaint catalogue, kept over the bundled CSV files.

The CSV files (``data/catalog``) stay the default a deployment starts from; a change made
on the admin pages (another department, another time limit, an "after" photo required) is
one row per category here, read over the files by ``services.catalogue``.
"""

from __future__ import annotations

from typing import Protocol


class CatalogStore(Protocol):
    """Catalogue overrides: dicts of category_code, department_code, deadline_days,
    requires_after_photo, updated_at (aware UTC) and updated_by."""

    def catalog_overrides(self) -> list[dict]:
        """Every override, by category code."""
        ...

    def put_catalog_override(
        self,
        category_code: str,
        *,
        department_code: str,
        deadline_days: int,
        requires_after_photo: bool,
        by: str,
    ) -> None:
        """Keep the values of one category, replacing its earlier override."""
        ...

    def remove_catalog_override(self, category_code: str) -> int:
        """Drop a category's override (it follows the bundled file again); how many were dropped."""
        ...


__all__ = ["CatalogStore"]
