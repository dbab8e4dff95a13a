"""Fetch the front-end libraries the pages use from the npm registry, so no page needs a CDN.

Run by the install step (``make install``). Each package is pinned to a version and
its tarball checked against the registry's published SHA-512 before anything is
unpacked; the files the pages serve go to ``webmap/static/vendor/<package>/`` with the
package's licence beside them. Re-running is safe: packages already in place with the
same version are skipped. The folium heat-map scripts ship inside the folium wheel
and are copied from it (with folium's licence).

Usage: python scripts/fetch_assets.py [--force]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "webmap" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"

#: package, version, sha512 (npm's dist.integrity), files to keep (paths inside package/)
PACKAGES = [
    (
        "leaflet",
        "1.9.4",
        "nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==",
        [
            "dist/leaflet.js",
            "dist/leaflet.css",
            "dist/images/layers.png",
            "dist/images/layers-2x.png",
            "dist/images/marker-icon.png",
            "dist/images/marker-icon-2x.png",
            "dist/images/marker-shadow.png",
            "LICENSE",
        ],
    ),
    (
        "leaflet-timedimension",
        "1.1.1",
        "ejXldN94veRsWka1vpC+4rbH+2+3d3ztn2xYx4jcXtjYDrKC/sNnoqCmyH2UEYIy51PI2851aI2k8uGdOEbhlw==",
        [
            "dist/leaflet.timedimension.min.js",
            "dist/leaflet.timedimension.control.css",
            "dist/leaflet.timedimension.control.min.css",
            "dist/img/",
        ],
    ),
    (
        "bootstrap",
        "3.4.1",  # only the Glyphicons font, which the time slider's CSS uses
        "yN5oZVmRCwe5aKwzRj6736nSmKDX7pLYwsXiCj/EYmo16hODaBiT4En5btW/jhBF/seV+XMx3aYwukYC3A49DA==",
        ["dist/fonts/", "LICENSE"],
    ),
    (
        "iso8601-js-period",
        "0.2.1",
        "iDyz2TQFBd5WhCZjruOwHj01JkQGu7YbVLCVdpA7lCGEcBzE3ffCPAhLh/M8TAp//kCixPpYN4XU54WHCxvD2Q==",
        ["iso8601.js"],
    ),
    (
        "swagger-ui-dist",
        "5.35.0",  # the API docs page, /api/docs
        "U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        ["swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt", "swagger-ui.css", "LICENSE", "NOTICE"],
    ),
]
#: CSS files that point at a CDN, and where the same file now lives locally
LOCAL_URLS = {
    "leaflet-timedimension/dist/leaflet.timedimension.control.min.css": (
        "//netdna.bootstrapcdn.com/bootstrap/3.0.0/fonts/",
        "../../bootstrap/dist/fonts/",
    ),
    "leaflet-timedimension/dist/leaflet.timedimension.control.css": (
        "//netdna.bootstrapcdn.com/bootstrap/3.0.0/fonts/",
        "../../bootstrap/dist/fonts/",
    ),
}
FOLIUM_FILES = ["leaflet_heat.min.js", "pa7_hm.min.js", "pa7_leaflet_hm.min.js"]


def fetch(name: str, version: str, integrity: str, keep: list[str], force: bool) -> str:
    target = VENDOR / name
    stamp = target / ".version"
    if not force and stamp.exists() and stamp.read_text().strip() == version:
        return f"{name}@{version}: present"
    url = f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != integrity:
        raise SystemExit(f"{name}@{version}: checksum mismatch (got sha512-{digest}); refusing to unpack")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        meta = json.loads(tar.extractfile("package/package.json").read())
        for member in tar.getmembers():
            inner = member.name.split("/", 1)[1] if "/" in member.name else member.name
            wanted = any(inner == k or (k.endswith("/") and inner.startswith(k)) for k in keep)
            if not member.isfile() or not wanted or ".." in Path(inner).parts:
                continue
            dest = target / inner
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(tar.extractfile(member).read())
    if not any(target.glob("LICEN[CS]E*")):  # some packages declare their licence only in package.json
        author = meta.get("author")
        author = author.get("name") if isinstance(author, dict) else author
        (target / "LICENSE.txt").write_text(
            f"{name} {version}: licence {meta.get('license')} (declared in its package.json)\n"
            f"author: {author}\nhomepage: {meta.get('homepage')}\n"
        )
    missing = [k for k in keep if not k.endswith("/") and not (target / k).exists()]
    if missing:
        raise SystemExit(f"{name}@{version}: the tarball lacks {', '.join(missing)}")
    stamp.write_text(version)
    return f"{name}@{version}: fetched ({len(data) // 1024} KB, sha512 verified)"


def copy_folium() -> str:
    import folium

    source = Path(folium.__file__).parent / "templates"
    target = VENDOR / "folium"
    target.mkdir(parents=True, exist_ok=True)
    for name in FOLIUM_FILES:
        shutil.copyfile(source / name, target / name)
    site = Path(folium.__file__).parents[1]
    licence = next(iter(site.glob("folium-*.dist-info/licenses/*")), None) or next(
        iter(site.glob("folium-*.dist-info/LICENSE*")), None
    )
    if licence is not None:
        shutil.copyfile(licence, target / "LICENSE")
    (target / ".version").write_text(folium.__version__)
    return f"folium {folium.__version__} plugin scripts: copied"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--force", action="store_true", help="fetch again even if present")
    args = parser.parse_args(argv)
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name, version, integrity, keep in PACKAGES:
        print(fetch(name, version, f"{integrity}", keep, args.force))
    print(copy_folium())
    for relative, (remote, local) in LOCAL_URLS.items():
        path = VENDOR / relative
        path.write_text(path.read_text().replace(remote, local))
    (VENDOR / "manifest.json").write_text(
        json.dumps({name: version for name, version, _, _ in PACKAGES}, indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
