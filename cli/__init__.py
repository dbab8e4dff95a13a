"""The ``redgrid`` command: a thin adapter over the services, like the web app.

Every command works on the database the service is configured with
(``REDGRID_DATABASE_URL``, default SQLite in ./instance). A command parses its
arguments, calls one service method and prints; long work prints progress to stderr
and is safe to re-run. Refusals print ``error: …`` and exit with status 2 (a grid file
refused by validation exits with 1 and its report).
"""

from __future__ import annotations

from cli.app import main
from cli.app import register

register()

__all__ = ["main"]
