"""Every example of README.md, run as a user would: each Python block in a
fresh interpreter, in order, in one directory, against the suite's hyped
(HYPE_API_BASE, HYPE_API_KEY). A block followed by ``<!-- output: RE -->``
must print something RE matches; a block followed by ``<!-- file: NAME -->``
is written to NAME. The placeholder XCP-ng URL is the test XAPI server's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

from conftest import SDK, Hyped, Xapi

PLACEHOLDER = "https://xcp-pool.example.com"
BLOCK = re.compile(r"```(\w+)\n(.*?)```\n(?:<!-- (output|file): (.*?) -->)?", re.S)


def blocks(readme: Path) -> List[Tuple[str, str, Optional[str], Optional[str]]]:
    return [(m[1], m[2], m[3], m[4]) for m in BLOCK.finditer(readme.read_text())]


def test_readme_has_examples() -> None:
    langs = [b[0] for b in blocks(SDK / "README.md")]
    assert langs.count("python") >= 6, langs


@pytest.mark.browser
def test_readme_examples_run(networked: Hyped, xapi: Xapi, tmp_path: Path) -> None:
    env = dict(os.environ, **networked.env(), PYTHONPATH=str(SDK / "src"))
    for i, (lang, code, kind, arg) in enumerate(blocks(SDK / "README.md")):
        code = code.replace(PLACEHOLDER, xapi.url)
        if kind == "file":
            (tmp_path / str(arg)).write_text(code)
            continue
        if lang != "python":
            continue
        r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=600)
        where = f"README example {i}:\n{code}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
        assert r.returncode == 0, where
        if kind == "output":
            assert re.search(str(arg), r.stdout), where
        assert networked.api_key not in r.stdout + r.stderr
    assert (tmp_path / "page.png").read_bytes().startswith(b"\x89PNG")
