"""The root command, the services it runs on, and how it reports progress and errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import NoReturn
from typing import TypeVar

import click

from complaints.errors import ComplaintsError
from geo.errors import GeoError
from services.build import Services
from services.build import build_services
from services.config import Config
from services.errors import DomainError
from webmap.i18n import translate

F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """RedGrid: grids, their officials and point-in-grid lookup for grid governance (党建小红格).

    \b
    Quick start on the bundled Dali demo:
      redgrid demo load        # town, 43 communities, 309 grids, roster, complaints
      redgrid locate 113.1457 23.1110
      redgrid run              # web app and API on http://127.0.0.1:5000
    """
    ctx.ensure_object(dict)


def settings() -> Mapping[str, Any]:
    """Settings given by the caller (tests pass a mapping as ``obj``); else the environment's."""
    obj = click.get_current_context().find_root().obj
    return obj if isinstance(obj, Mapping) else {}


def services() -> Services:
    """The services, built once per command from the settings (or ``REDGRID_*`` variables)."""
    root = click.get_current_context().find_root()
    meta = root.meta
    if "redgrid.services" not in meta:
        given = settings()
        config = Config.from_mapping(given) if given.get("DATABASE_URL") else Config.from_env()
        meta["redgrid.services"] = build_services(config, translate=translate)
    return meta["redgrid.services"]


def progress(stage: str, done: int, total: int) -> None:
    """Progress on stderr: redrawn in place on a terminal, a line per stage in logs."""
    if sys.stderr.isatty():
        end = "\n" if done >= total else "\r"
        click.echo(f"  {stage:<18} {done}/{total}{end}", err=True, nl=False)
    elif done >= total:
        click.echo(f"  {stage:<18} {done}/{total}", err=True)


def fail(message: object, status: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def refusals(fn: F) -> F:
    """Turn the services' and cores' refusals into ``error: …`` and exit status 2, never a traceback."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            fail(exc.message)
        except (GeoError, ComplaintsError) as exc:
            fail(exc.message)

    return wrapped  # type: ignore[return-value]


def sheet_arg(sheet: str | None) -> str | int | None:
    return int(sheet) if sheet and sheet.isdigit() else sheet


def register() -> None:
    from cli import accounts  # noqa: F401  (each module adds its commands to main)
    from cli import audit  # noqa: F401
    from cli import cases  # noqa: F401
    from cli import demo  # noqa: F401
    from cli import grids  # noqa: F401
    from cli import notify  # noqa: F401
    from cli import serve  # noqa: F401
