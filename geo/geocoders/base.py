"""What every geocoder promises, the errors online providers raise, and their one HTTP helper.

Online geocoders (Amap, Tianditu) are optional: a deployment that has keys may
use them behind the local gazetteer. They fail in ways a dispatcher's screen must
tell apart: a wrong key (fix the configuration), a daily quota used up (wait until
tomorrow, or switch provider), a per-second rate limit (retry in a moment), and the
service being down. Each is its own exception class naming the provider and the
provider's own message, so none is mistaken for "address not found".

API keys travel in query strings. They are never logged and never appear in an
exception: every URL that is logged or quoted goes through ``redact``.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from typing import TypedDict
from typing import Unpack
from typing import runtime_checkable

from geo.errors import GeoError
from geo.geocode import GeocodeResult

__all__ = [
    "Geocoder",
    "HttpReply",
    "ProviderAuthError",
    "ProviderError",
    "ProviderQuotaError",
    "ProviderRateLimited",
    "ProviderUnavailable",
    "http_get_json",
    "redact",
]

log = logging.getLogger("geo.geocoders")

USER_AGENT = "redgrid-geocoder/0.1 (+server)"
DEFAULT_TIMEOUT_S = 5.0


@runtime_checkable
class Geocoder(Protocol):
    """Anything that turns typed text into a ``GeocodeResult`` with WGS84 points."""

    name: str

    def geocode(self, text: str) -> GeocodeResult: ...


class ProviderDetail(TypedDict, total=False):
    """What a provider said about a failure, as ``ProviderError`` keeps it."""

    info: str | None
    infocode: str | None
    http_status: int | None


class ProviderError(GeoError):
    """An online geocoder refused or failed; ``provider``, ``info`` and ``infocode`` say how."""

    code = "geocoder_provider_error"

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        info: str | None = None,
        infocode: str | None = None,
        http_status: int | None = None,
    ) -> None:
        detail = ", ".join(
            f"{k}={v}"
            for k, v in (("info", info), ("infocode", infocode), ("http", http_status))
            if v not in (None, "")
        )
        super().__init__(f"{provider}: {message}" + (f" ({detail})" if detail else ""))
        self.provider = provider
        self.info = info
        self.infocode = infocode
        self.http_status = http_status


class ProviderAuthError(ProviderError):
    """The key is wrong, expired, deleted, bound to another platform or IP: fix the configuration."""

    code = "geocoder_auth"


class ProviderQuotaError(ProviderError):
    """The daily (or total) quota is used up: no retry helps until the provider resets it."""

    code = "geocoder_quota"


class ProviderRateLimited(ProviderError):
    """Too many requests per second or minute: retrying after ``retry_after_s`` should work."""

    code = "geocoder_rate_limited"

    def __init__(
        self, provider: str, message: str, *, retry_after_s: float | None = None, **kw: Unpack[ProviderDetail]
    ) -> None:
        super().__init__(provider, message, **kw)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(ProviderError):
    """Network failure, timeout, a 5xx, or an answer that is not the documented JSON."""

    code = "geocoder_unavailable"


@dataclass(frozen=True)
class HttpReply:
    status: int
    payload: object | None  # parsed JSON, None when the body is not JSON
    text: str
    retry_after_s: float | None = None


def redact(url: str, secret_params: Sequence[str]) -> str:
    """The URL with the values of ``secret_params`` replaced, fit for logs and messages."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, "***" if k in secret_params else v) for k, v in urllib.parse.parse_qsl(parts.query)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def http_get_json(
    url: str,
    params: Mapping[str, str],
    *,
    provider: str,
    secret_params: Sequence[str],
    timeout: float = DEFAULT_TIMEOUT_S,
    headers: Mapping[str, str] | None = None,
) -> HttpReply:
    """GET ``url?params`` and parse JSON, turning transport failures into ``ProviderUnavailable``.

    HTTP error statuses are *returned* (with their body) rather than raised, because
    providers put their reason in the body and only the provider module knows how
    to read it (Tianditu answers a bad key with 403 and a JSON message).
    """
    full = f"{url}?{urllib.parse.urlencode(params)}"
    shown = redact(full, secret_params)
    request = urllib.request.Request(
        full, headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
    )
    log.debug("%s: GET %s", provider, shown)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status, body, retry = resp.status, resp.read(), resp.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        retry = exc.headers.get("Retry-After") if exc.headers else None
        status, body = exc.code, exc.read() or b""
        exc.close()
    except TimeoutError as exc:
        raise ProviderUnavailable(provider, f"no answer within {timeout:g} s from {_host(url)}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            raise ProviderUnavailable(provider, f"no answer within {timeout:g} s from {_host(url)}") from exc
        raise ProviderUnavailable(provider, f"cannot reach {_host(url)}: {reason}") from exc
    except OSError as exc:
        raise ProviderUnavailable(provider, f"connection to {_host(url)} failed: {exc}") from exc
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        payload = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        payload = None
    log.debug("%s: HTTP %s, %d bytes", provider, status, len(body))
    return HttpReply(status=status, payload=payload, text=text[:300], retry_after_s=_seconds(retry))


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
