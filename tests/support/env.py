"""Where the tests find the repository and the data, and the CLI run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]


DATA = (REPO / os.environ.get("XLTUI_DATA", "../shared/data")).resolve()


TINY_GRID = """\
study: {study}
task: ner
source: en
targets: [swa, yor]
data:
  ner: masakhaner
models:
  - {{name: tiny, model: tiny, method: full, lr: 1.0e-3}}
settings: [zero-shot]
seeds: {seeds}
train: {{batch_size: 8, max_length: 48, epochs: {epochs}, patience: {patience}, max_train_sentences: {train}, max_eval_sentences: {eval}}}
"""


def xltui(*args: str, cwd: Path | None = None, timeout: float = 300, check: bool = False,
          env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter, exactly as a user's shell would."""
    proc = subprocess.run([sys.executable, "-m", "xltui.cli", *args], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"xltui {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def xltui_here(*args: str, env: dict | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """The CLI in this process (Typer's runner), for what a fresh interpreter proves nothing about:
    flag and input errors that end before any worker starts. An exception the CLI did not turn into
    a message shows as its traceback in ``stderr``, as a user's shell would show it."""
    import traceback

    from typer.testing import CliRunner

    from xltui.cli import app

    result = CliRunner().invoke(app, list(args), env=env, prog_name="xltui")
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(result.exception))
    if check and result.exit_code != 0:
        raise AssertionError(f"xltui {' '.join(args)} exited {result.exit_code}:\n{result.stdout}\n{stderr}")
    return subprocess.CompletedProcess(["xltui", *args], result.exit_code, result.stdout, stderr)


def xltui_bg(*args: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    """Start the CLI in the background (a worker), its output going to ``log``."""
    fh = open(log, "wb")
    return subprocess.Popen([sys.executable, "-m", "xltui.cli", *args], cwd=REPO, stdout=fh,
                            stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def wait_for(predicate: Callable[[], object], timeout: float = 120, every: float = 0.2, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


def make_conll(folder: Path, splits: tuple[str, ...] = ("train", "dev", "test")) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split in splits:
        (folder / f"{split}.txt").write_text("Obama B-PER\nsays O\n\nAbuja B-LOC\n", encoding="utf-8")


def run_study(folder: Path, grid: str, cache: Path, **env: str) -> str:
    """``xltui run`` of ``grid`` in ``folder`` (its own database and artifacts); the database."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grid.yaml").write_text(grid)
    db = str(folder / "experiments.db")
    out = xltui("run", "--grid", str(folder / "grid.yaml"), "--db", db, "--cpu", cwd=folder, timeout=600,
                env={"XLTUI_DATA": str(DATA), "XLTUI_CACHE": str(cache), "XLTUI_CPU_SLOTS": "1", **env})
    assert out.returncode == 0, out.stdout + out.stderr
    return db
