"""Write the README's screenshots (SVG) of the main screens from the demo database.

    python scripts/screenshots.py [--out docs] [--size 120x40]

Uses Textual's own screenshot feature (``App.save_screenshot``) on a headless app
(``App.run_test``) over ``xltui.tui.demo`` (fixed data and clock), so the pictures are
reproducible. No GPU, no network, no training.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.store.db import open_db
from xltui.app import XltuiApp
from xltui.tui.demo import T0, build_demo, demo_gpus


async def shoot(db: str, ids: dict[str, int], out: Path, size: tuple[int, int]) -> list[Path]:
    app = XltuiApp(db, clock=lambda: T0, gpu_probe=demo_gpus)
    written: list[Path] = []

    def save(name: str) -> None:
        written.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(out))))

    async with app.run_test(size=size) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        save("queue")
        app.open_run(ids["running"])
        await pilot.pause(1.0)
        save("run-training")
        await pilot.press("y")
        await pilot.pause(0.3)
        save("run-system")
        await pilot.press("escape")
        app.open_run(ids["succeeded"])
        await pilot.pause(1.0)
        await pilot.press("s")
        await pilot.pause(0.3)
        save("run-scores")
        await pilot.press("escape")
        app.open_run(ids["failed"])
        await pilot.pause(1.0)
        save("run-failed")
        await pilot.press("escape", "4")
        await pilot.pause(0.5)
        save("workers")
        for key, name in (("2", "composer"), ("3", "results")):
            await pilot.press(key)
            await pilot.pause(0.8)
            save(name)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs"))
    p.add_argument("--size", default="120x40", help="terminal WIDTHxHEIGHT")
    args = p.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.gettempdir()) / "xltui-demo"  # shown in the header: keep it short and fixed
    shutil.rmtree(root, ignore_errors=True)
    try:
        db = str(root / "experiments.db")
        ids = build_demo(open_db(db), root)
        for path in asyncio.run(shoot(db, ids, args.out.resolve(), (width, height))):
            print(path)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
