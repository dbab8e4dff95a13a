"""The settings the services run with, read once from a mapping (the Flask config, the environment).

The same upper-case names serve the web app (``app.config``), the command line and the
environment (with the ``REDGRID_`` prefix), so one deployment is configured one way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.lookup import DEFAULT_NEAR_M

ENV_PREFIX = "REDGRID_"


def default_instance() -> Path:
    """The instance folder (database, secret key, caches, photos): ``./instance`` unless
    ``REDGRID_INSTANCE_PATH`` names another. The web app and the CLI use the same one."""
    return Path(os.environ.get(f"{ENV_PREFIX}INSTANCE_PATH") or Path.cwd() / "instance").resolve()


@dataclass(frozen=True)
class Config:
    database_url: str
    cache_dir: Path | None = None
    near_m: float = DEFAULT_NEAR_M
    use_lut: bool = True
    #: seconds a process trusts its idea of the active version before asking the store again
    active_ttl_s: float = 2.0
    gazetteer_path: Path | None = None
    amap_key: str | None = None
    tianditu_key: str | None = None
    photo_dir: Path | None = None
    catalog_dir: Path | None = None
    auto_migrate: bool = True
    #: notifications (``services.senders``): the SMS gateway, SMTP, and the delivery worker
    sms_url: str | None = None
    sms_key: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "redgrid@localhost"
    smtp_starttls: bool = False
    wecom_enabled: bool = True
    notify_timeout_s: float = 10.0
    notify_max_attempts: int = 6
    notify_backoff_s: float = 60.0
    notify_lease_s: float = 300.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, instance: Path | None = None) -> Config:
        """From upper-case settings (``DATABASE_URL``, ``NEAR_M``, ...); ``instance`` holds the defaults."""
        instance = Path(instance or default_instance())

        def path(name: str, default: Path | None = None) -> Path | None:
            value = values.get(name)
            return Path(value) if value else default

        return cls(
            database_url=values.get("DATABASE_URL") or f"sqlite:///{instance / 'redgrid.db'}",
            cache_dir=path("CACHE_DIR", instance / "cache"),
            near_m=float(values.get("NEAR_M", DEFAULT_NEAR_M)),
            use_lut=_flag(values.get("USE_LUT", True)),
            active_ttl_s=float(values.get("ACTIVE_TTL_S", 2.0)),
            gazetteer_path=path("GAZETTEER_PATH"),
            amap_key=values.get("AMAP_KEY") or None,
            tianditu_key=values.get("TIANDITU_KEY") or None,
            photo_dir=path("PHOTO_DIR", instance / "photos"),
            catalog_dir=path("CATALOG_DIR"),
            auto_migrate=_flag(values.get("AUTO_MIGRATE", True)),
            sms_url=values.get("SMS_URL") or None,
            sms_key=values.get("SMS_KEY") or None,
            smtp_host=values.get("SMTP_HOST") or None,
            smtp_port=int(values.get("SMTP_PORT", 25)),
            smtp_user=values.get("SMTP_USER") or None,
            smtp_password=values.get("SMTP_PASSWORD") or None,
            smtp_from=str(values.get("SMTP_FROM") or "redgrid@localhost"),
            smtp_starttls=_flag(values.get("SMTP_STARTTLS", False)),
            wecom_enabled=_flag(values.get("WECOM_ENABLED", True)),
            notify_timeout_s=float(values.get("NOTIFY_TIMEOUT_S", 10.0)),
            notify_max_attempts=int(values.get("NOTIFY_MAX_ATTEMPTS", 6)),
            notify_backoff_s=float(values.get("NOTIFY_BACKOFF_S", 60.0)),
            notify_lease_s=float(values.get("NOTIFY_LEASE_S", 300.0)),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, instance: Path | None = None) -> Config:
        environ = os.environ if environ is None else environ
        values = {k[len(ENV_PREFIX) :]: _env_value(v) for k, v in environ.items() if k.startswith(ENV_PREFIX)}
        return cls.from_mapping(values, instance=instance)


def _env_value(text: str) -> Any:
    """Like Flask's ``from_prefixed_env``: JSON where it parses (numbers, booleans), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)
