"""Pluggable geocoders: the local gazetteer, online providers for deployments with keys, a chain.

Every geocoder satisfies ``Geocoder`` (``geocode(text) -> GeocodeResult``) and returns
WGS84 points whatever datum its source uses, so callers never convert.
"""

from geo.geocoders.amap import AmapGeocoder
from geo.geocoders.base import Geocoder
from geo.geocoders.base import ProviderAuthError
from geo.geocoders.base import ProviderError
from geo.geocoders.base import ProviderQuotaError
from geo.geocoders.base import ProviderRateLimited
from geo.geocoders.base import ProviderUnavailable
from geo.geocoders.chain import ChainGeocoder
from geo.geocoders.tianditu import TiandituGeocoder

__all__ = [
    "AmapGeocoder",
    "ChainGeocoder",
    "Geocoder",
    "ProviderAuthError",
    "ProviderError",
    "ProviderQuotaError",
    "ProviderRateLimited",
    "ProviderUnavailable",
    "TiandituGeocoder",
]
