"""RedGrid installed from its wheel works outside the checkout.

The slow test builds the wheel from the working tree, installs it into a fresh virtual
environment and runs the installed ``redgrid`` command in an empty temporary folder:
``demo load`` must find the bundled data (``redgrid_data``, through ``geo.resources``)
and ``locate`` must answer a grid code, with no module imported from the checkout.

Installing ~30 dependencies from an index would take minutes, so the new environment
borrows them from the test environment: a ``.pth`` file names a folder of symlinks to
the test environment's site-packages *without* RedGrid's own entries (its editable
finder, its ``.pth`` and its ``.dist-info``). ``.pth`` files are only run in a site
folder, not in a folder a ``.pth`` adds, so nothing of the editable install is active.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
import setuptools

ROOT = Path(__file__).resolve().parents[1]
# Top-level entries of the checkout that neither go into the wheel nor help build it.
NOT_BUILT = {
    ".git",
    ".venv",
    "venv",
    "instance",
    "build",
    "dist",
    "tests",
    "docs",
    "bench",
    "node_modules",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "redgrid.egg-info",
}
# What the editable install puts into site-packages: it must stay invisible.
EDITABLE = ("__editable__", "redgrid-", "redgrid_data")
OURS = {"geo", "complaints", "store", "services", "webmap", "cli", "redgrid_data"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_code_package_is_listed_in_pyproject():
    """The package list is explicit (the data folder is mapped to ``redgrid_data``), so a new
    code package must be added there or the wheel silently lacks it."""
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = set(
        setuptools.find_packages(
            str(ROOT), include=["geo*", "complaints*", "store*", "services*", "webmap*", "cli*"]
        )
    )
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == {"redgrid_data"}


def test_bundled_data_is_package_data():
    setuptools_config = _pyproject()["tool"]["setuptools"]
    assert setuptools_config["package-dir"]["redgrid_data"] == "data"
    assert (ROOT / "data" / "__init__.py").is_file()


def _copy_source(dest: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        top = Path(folder).resolve() == ROOT
        return {n for n in names if n == "__pycache__" or (top and n in NOT_BUILT)}

    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    return dest


def _run(args: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def _borrowed_site_packages(dest: Path) -> Path:
    """Symlinks to the test environment's installed distributions, RedGrid's own left out."""
    dest.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name.startswith(EDITABLE) or entry.suffix == ".pth" or entry.name == "__pycache__":
            continue
        (dest / entry.name).symlink_to(entry)
    return dest


# Runs the installed console script and reports every imported module's file, so the test
# can tell an installed copy from one imported out of the checkout.
_TRACE = """
import json, runpy, sys
out, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
try:
    runpy.run_path(script, run_name="__main__")
finally:
    with open(out, "w") as fh:
        json.dump({name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}, fh)
"""


@pytest.mark.slow
def test_installed_wheel_runs_outside_the_checkout(tmp_path):
    source = _copy_source(tmp_path / "src")
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--quiet", "-w", wheels])
    (wheel,) = wheels.glob("redgrid-*.whl")

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read("redgrid-0.1.0.dist-info/METADATA").decode()
    for bundled in (
        "catalog/categories.csv",
        "catalog/departments.csv",
        "catalog/whistle_groups.csv",
        "communities.csv",
        "shapes/dali-demo-grids.geojson",
        "shapes/dali-demo-outline.geojson",
        "officials/dali-demo-roster.csv",
        "gazetteer/dali-demo-addresses.csv",
    ):
        assert f"redgrid_data/{bundled}" in names
    assert "License-Expression: AGPL-3.0-or-later" in metadata
    assert "redgrid-0.1.0.dist-info/licenses/LICENSE" in names

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([python, "-c", purelib]).stdout.strip())
    (site / "zz_borrowed.pth").write_text(f"{_borrowed_site_packages(tmp_path / 'borrowed')}\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            wheel,
        ]
    )

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "REDGRID_", "FLASK_"))}
    env.update(
        REDGRID_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        PATH=f"{venv / 'bin'}:/usr/bin:/bin",
        HOME=str(tmp_path),
    )
    redgrid = venv / "bin" / "redgrid"

    loaded = _run([redgrid, "demo", "load", "--complaints", "200"], cwd=work, env=env)
    assert "demo ready" in loaded.stdout

    trace = tmp_path / "modules.json"
    located = _run([python, "-c", _TRACE, trace, redgrid, "locate", "113.1457", "23.1110"], cwd=work, env=env)
    body = json.loads(located.stdout)
    assert re.fullmatch(r"440605125\d{6}", body["grid"]["code"]), body  # a grid of the demo town

    modules = json.loads(trace.read_text())
    ours = {name: file for name, file in modules.items() if name.split(".")[0] in OURS}
    assert {"geo.resources", "complaints.catalog", "redgrid_data"} <= set(ours)
    assert all(file and file.startswith(str(site)) for file in ours.values()), ours
    assert not [f for f in modules.values() if f and f.startswith(str(ROOT))], "imported from the checkout"
