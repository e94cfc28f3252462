"""Line charts (textual-plotext) that redraw only when their data changed."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

Line = tuple[str, list[float], list[float]]  # label, xs, ys (already downsampled)
MIB = 1024 * 1024


class Chart(PlotextPlot):
    """One chart; ``show`` with the same ``key`` as last time does nothing."""

    def __init__(self, title: str, xlabel: str = "step", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title, self.xlabel = title, xlabel
        self._key: object = None

    def on_mount(self) -> None:
        super().on_mount()
        self.show([], key="empty")

    def show(self, lines: list[Line], key: object, *, ylim: tuple[float, float] | None = None,
             note: str = "", marks: Sequence[float] = ()) -> None:
        """Draw ``lines``; ``marks``: x positions drawn as vertical lines (where a run resumed)."""
        if key == self._key:
            return
        self._key = key
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        drawn = [(label, xs, ys) for label, xs, ys in lines if xs]
        title = self.title + (f" — {note}" if note else "")
        plt.title(title if drawn else f"{title} (no data yet)")
        for label, xs, ys in drawn:
            plt.plot(xs, ys, label=label if len(drawn) > 1 else None, marker="braille")
        for x in marks if drawn else ():
            plt.vline(x, "gray")
        if ylim is not None:
            plt.ylim(*ylim)
        if drawn:
            plt.xlabel(self.xlabel)
        self.refresh()


def memory_unit(*series: list[int | None]) -> tuple[str, float]:
    """GiB for GPU-sized numbers, MiB for small processes."""
    top = max((v for s in series for v in s if v is not None), default=0)
    return ("GiB", 1024.0 * MIB) if top >= 2 * 1024 * MIB else ("MiB", float(MIB))


def scaled(values: list[int | None], unit: float) -> list[float]:
    return [v / unit if v is not None else 0.0 for v in values]
