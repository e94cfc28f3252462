"""How soon does `xltui` paint, and show data, next to a bare Textual app? In a real terminal.

Each app is started in a fresh tmux session (80×24 by default) and the pane is read
every few milliseconds (``tmux capture-pane``) until (1) its frame is painted — the
title and the footer's keys are on screen — and (2) for xltui, its data: the study of
a --runs-run database in the studies table. The baseline is a bare Textual app with a
header, a static text and a footer showing the same title and the same six keys
(each its own action: a footer shows one key per action), started the same way in the
same run, the two interleaved. Medians over --repeats starts of each; the ratios are
what to read (seconds drift on shared machines): the ratio of the medians and the
median of the ratios of each xltui start to the bare start just before it. No timing is
asserted anywhere.

``python bench/tui_start.py [--repeats 7] [--runs 10000] [--size 80x24]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from fixtures import REPO, build_big_db  # bench/ is sys.path[0] when run as a script
from rich.console import Console
from rich.table import Table

STUDY = "madx-start-bench"
# the command as a user types it (its console script), else the same entry point through python -m
XLTUI = [shutil.which("xltui")] if shutil.which("xltui") else [sys.executable, "-m", "xltui"]
BARE = '''
from textual.app import App
from textual.binding import Binding
from textual.widgets import Footer, Header, Static

class Bare(App):
    TITLE = "xltui"
    BINDINGS = [Binding("1", "key('queue')", "Queue"), Binding("2", "key('compose')", "Compose"),
                Binding("3", "key('results')", "Results"), Binding("4", "key('workers')", "Workers"),
                Binding("question_mark", "key('help')", "Help", key_display="?"), Binding("q", "quit", "Quit")]

    def compose(self):
        yield Header()
        yield Static("loading studies and runs…")
        yield Footer()

    def action_key(self, name):
        self.bell()

Bare().run()
'''
BARE_NAME = "bare Textual app (header, static text, footer)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--size", default="80x24")
    return p.parse_args(argv)


def pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def start_and_watch(cmd: list[str], marks: dict[str, tuple[str, ...]], size: str, timeout_s: float = 60) -> dict:
    """Seconds from starting ``cmd`` in a new tmux session until each mark's texts are all on screen."""
    session = f"xltui-bench-{os.getpid()}-{time.monotonic_ns()}"
    w, h = size.split("x")
    env_cmd = " ".join(["env", f"XLTUI_DATA={os.environ.get('XLTUI_DATA', '')}", *map(_quote, cmd)])
    started = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", w, "-y", h, env_cmd], check=True)
    seen: dict[str, float] = {}
    try:
        while len(seen) < len(marks) and time.perf_counter() - started < timeout_s:
            text = pane(session)
            now = time.perf_counter() - started
            for name, needles in marks.items():
                if name not in seen and all(n in text for n in needles):
                    seen[name] = now
            time.sleep(0.005)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    missing = set(marks) - set(seen)
    if missing:
        raise SystemExit(f"{' '.join(cmd)}: never showed {missing} within {timeout_s}s; last screen:\n{text}")
    return seen


@contextlib.contextmanager
def tmux_server() -> Iterator[None]:
    """One idle session for the whole benchmark: the server stays up between the measured
    sessions (a session started while the last one's server is exiting fails to start)."""
    anchor = f"xltui-bench-anchor-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", anchor, "sleep 86400"], check=True)
    try:
        yield
    finally:
        subprocess.run(["tmux", "kill-session", "-t", anchor], capture_output=True)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is not installed (apt-get install tmux): the benchmark needs a real terminal")
    console = Console()
    with tempfile.TemporaryDirectory(prefix="xltui-bench-tui-") as tmp:
        db = Path(tmp) / "experiments.db"
        build_big_db(db, args.runs, study=STUDY)
        bare_py = Path(tmp) / "bare.py"
        bare_py.write_text(BARE)
        frame = ("xltui", "Quit")
        rows: dict[str, list[dict]] = {BARE_NAME: [], "xltui": []}
        with tmux_server():
            measure(rows, args, bare_py, db, frame)
    report(console, rows, args)


def measure(rows: dict[str, list[dict]], args: argparse.Namespace, bare_py: Path, db: Path,
            frame: tuple[str, ...]) -> None:
    """Both apps, interleaved, so drift hits both alike."""
    for _ in range(args.repeats):
        rows[BARE_NAME].append(
            start_and_watch([sys.executable, str(bare_py)], {"paint": frame}, args.size))
        rows["xltui"].append(start_and_watch([*XLTUI, "--db", str(db)],
                                             {"paint": frame, "data": (STUDY,)}, args.size))


def report(console: Console, rows: dict[str, list[dict]], args: argparse.Namespace) -> None:
    bare = rows[BARE_NAME]
    base = statistics.median(r["paint"] for r in bare)
    table = Table(title=f"First paint and first data in tmux {args.size}, median of {args.repeats} starts each, "
                        f"interleaved ({args.runs:,}-run database)", title_justify="left")
    for col in ("app", "first paint s", "× bare", "× bare, paired", "fastest paint s", "data on screen s"):
        table.add_column(col, justify="left" if col == "app" else "right")
    for name, marks in rows.items():
        paint = statistics.median(m["paint"] for m in marks)
        paired = statistics.median(m["paint"] / b["paint"] for m, b in zip(marks, bare))
        data = statistics.median(m["data"] for m in marks) if "data" in marks[0] else None
        table.add_row(name, f"{paint:.3f}", f"{paint / base:.2f}", f"{paired:.2f}",
                      f"{min(m['paint'] for m in marks):.3f}", "—" if data is None else f"{data:.2f}")
    console.print(table)
    console.print("× bare: the ratio of the medians; paired: the median of each xltui start's paint over the "
                  "bare start's just before it")
    console.print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
                  f"{os.getloadavg()[0]:.2f} at the end; repo {REPO}")


if __name__ == "__main__":
    main()
