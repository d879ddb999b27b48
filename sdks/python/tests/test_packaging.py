"""The package as users get it: `python -m build` makes a wheel and an
sdist; the wheel installs into a clean virtual environment (offline, from
the locked wheelhouse scripts/install-deps.sh fills) and imports there,
without Playwright; and the code keeps to Python 3.9."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from conftest import SDK

WHEELHOUSE = Path(os.environ.get("HYPE_SDK_WHEELHOUSE", "/var/cache/hype/wheels-sdk"))


def run(*args: str, **kw: object) -> str:
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]
    assert r.returncode == 0, f"{args}:\n{r.stdout}\n{r.stderr}"
    return str(r.stdout)


def test_build_install_import(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(SDK))
    (wheel,) = dist.glob("hype_sdk-*-py3-none-any.whl")
    (sdist,) = dist.glob("hype_sdk-*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hype/__init__.py" in names and "hype/py.typed" in names
    assert not any(n.startswith("tests/") for n in names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert any("httpx" in r for r in requires)
    assert all("extra ==" in r for r in requires if "playwright" in r), requires  # optional only
    with tarfile.open(sdist) as t:
        members = t.getnames()
    assert any(m.endswith("/README.md") for m in members) and any(m.endswith("/hype/_client.py") for m in members)

    assert WHEELHOUSE.is_dir(), f"no {WHEELHOUSE}: run scripts/install-deps.sh"
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    py = venv / "bin" / "python"
    run(str(py), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(WHEELHOUSE),
        "--disable-pip-version-check", str(wheel))
    out = run(str(py), "-c", "import hype, importlib.util; "
              "print(hype.__version__, hype.Hype.__name__, hype.AsyncHype.__name__, hype.HypeError.__name__,"
              " importlib.util.find_spec('playwright') is None, hype.__file__)",
              cwd=str(tmp_path), env={"PATH": os.environ["PATH"]})
    version, *rest = out.split()
    assert rest[:4] == ["Hype", "AsyncHype", "HypeError", "True"], out
    assert rest[4].startswith(str(venv)), out  # the installed copy, not the source tree
    assert f"hype_sdk-{version}-" in wheel.name


def test_code_keeps_to_python_3_9() -> None:
    vermin = Path(sys.executable).parent / "vermin"
    out = run(str(vermin), "--target=3.9-", "--violations", "--no-tips", "--eval-annotations",
              str(SDK / "src" / "hype"))
    assert "Target versions not met" not in out, out


def test_type_hints_check_strictly() -> None:
    """The SDK ships py.typed: its hints must hold under mypy --strict."""
    out = run(sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "hype",
              cwd=str(SDK / "src"), env={**os.environ, "MYPYPATH": str(SDK / "src")})
    assert "Success" in out, out
