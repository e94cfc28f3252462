"""Screen 4: live workers (heartbeat, device, run), per-device memory and utilisation, start / stop.

A GPU probe that fails is said on a line under the devices title (what failed, when it is
tried again: xltui.tui.devices.DeviceReader), gone once the GPUs read again."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import DataTable, Footer, Header, Static

from engine.states import WorkerState
from xltui.tui.charts import Chart, memory_unit, scaled
from xltui.tui.confirm_dialog import ConfirmScreen
from xltui.tui.devices import DeviceState, RunMemory
from xltui.tui.live import LiveScreen
from xltui.tui.snapshot_types import LiveWorker, Snapshot
from xltui.tui.worker_dialog import StartWorkerScreen, WorkerRequest
from xltui.views import format_duration, job_label

GIB = 1024 ** 3
STATE_STYLE = {WorkerState.BUSY: "yellow", WorkerState.IDLE: "green", WorkerState.STOPPING: "magenta"}


def gib(n: int | None) -> str:
    return "—" if n is None else f"{n / GIB:.1f}"


def worker_cells(w: LiveWorker, now: float) -> tuple:
    slot = w.id.split(":", 2)[-1]  # host:pid:slot, the slot "cuda:0#2" where a GPU runs several
    return (w.host, str(w.pid), job_label(w.job_id, w.job_index), slot if slot.startswith(w.device) else w.device,
            Text(w.state, style=STATE_STYLE.get(w.state, "")),
            str(w.current_run_id or "—"), f"{max(0.0, now - w.heartbeat_at):.0f}s ago",
            format_duration(now - w.started_at))


def torch_memory(device: str, m: DeviceState | RunMemory) -> str:
    if device == "cpu":
        return f"RSS {gib(m.rss)}" if m.rss is not None else "—"
    return f"{gib(m.allocated)}/{gib(m.reserved)}/{gib(m.peak)}" if m.allocated is not None else "—"


def device_rows(d: DeviceState) -> list[tuple[str, tuple]]:
    """The device's row, then, where several runs share it, one row per run with its own memory."""
    used = f"{gib(d.mem_used)}/{gib(d.mem_total)}" if d.mem_total else "—"
    util = "—" if d.util is None else f"{d.util:.0f}%"
    runs = str(d.run_id or "—") if len(d.runs) < 2 else f"{len(d.runs)} runs"
    total = torch_memory(d.device, d) + (" in all" if len(d.runs) > 1 and d.allocated is not None else "")
    rows = [(d.device, (d.device, d.name or "—", util, used, runs, total))]
    if len(d.runs) > 1:
        for i, r in enumerate(d.runs):
            branch = "└" if i == len(d.runs) - 1 else "├"
            rows.append((f"{d.device}/{r.run_id}", (f" {branch} run {r.run_id}", "", "", "", str(r.run_id),
                                                     torch_memory(d.device, r))))
    return rows


class WorkersScreen(LiveScreen):
    """Workers on top, devices below, the highlighted device's history as charts."""

    HELP_TITLE = "Workers and GPUs"
    detail_run_id = None
    BINDINGS = [
        Binding("n", "new_worker", "New worker", tooltip="Start a detached worker on chosen GPUs or the CPU"),
        Binding("x", "stop_worker", "Stop worker", tooltip="Ask the highlighted worker to stop after its run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._device: str | None = None
        self._workers_key: tuple | None = None
        self._devices_key: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Workers", classes="section-title")
        yield DataTable(id="workers", cursor_type="row")
        yield Static("Devices (GiB: used/total by NVML · allocated/reserved/peak by torch)", classes="section-title")
        gpu_error = Static("", id="gpu-error", classes="status-line")
        gpu_error.display = False  # shown only while the GPU probe fails, wrapped to its full length
        gpu_error.styles.height = "auto"
        yield gpu_error
        yield DataTable(id="devices", cursor_type="row")
        with Grid(classes="charts system", id="device-charts"):
            yield Chart("memory", xlabel="seconds", id="dev-mem")
            yield Chart("utilisation (%)", xlabel="seconds", id="dev-util")
        yield Static("", id="workers-summary", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "workers and GPUs"
        self.query_one("#workers", DataTable).add_columns("host", "pid", "job", "device", "state", "run", "heartbeat", "up")
        self.query_one("#devices", DataTable).add_columns("device", "name", "util", "memory", "run", "torch memory")
        self.query_one("#workers", DataTable).focus()
        self.show_latest()

    def show(self, snap: Snapshot) -> None:
        now = snap.taken_at
        table = self.query_one("#workers", DataTable)
        key = tuple((w, int(now - w.heartbeat_at)) for w in snap.workers)
        if key != self._workers_key:
            self._workers_key = key
            _replace_rows(table, [(w.id, worker_cells(w, now)) for w in snap.workers])
        gpu_error = self.query_one("#gpu-error", Static)
        gpu_error.display = snap.gpu_error is not None
        if snap.gpu_error is not None:
            gpu_error.update(Text(snap.gpu_error, style="bold red"))
        devices = self.query_one("#devices", DataTable)
        rows = [row for d in snap.devices for row in device_rows(d)]
        dkey = tuple(rows)
        if dkey != self._devices_key:
            self._devices_key = dkey
            _replace_rows(devices, rows)
        busy = sum(w.state == WorkerState.BUSY for w in snap.workers)
        packed = [f"{d.device}: {len(d.runs)} runs" for d in snap.devices if len(d.runs) > 1]
        hint = "" if snap.workers else " — press n to start one (it keeps running when the app closes)"
        self.query_one("#workers-summary", Static).update(
            f"{len(snap.workers)} live worker(s), {busy} busy · {len(snap.devices)} device(s)"
            + (f" · {', '.join(packed)}" if packed else "") + hint)
        self._charts(snap)

    def _charts(self, snap: Snapshot) -> None:
        chosen = self._device or (snap.devices[0].device if snap.devices else None)
        device, _, run_key = (chosen or "").partition("/")  # a run's row: "cuda:0/12"
        state = next((d for d in snap.devices if d.device == device), None)
        run = next((r for r in state.runs if str(r.run_id) == run_key), None) if state and run_key else None
        run = run or (state.runs[0] if state and state.runs else None)
        hist = run.history if run else []
        t0 = hist[0][0] if hist else 0.0
        ts = [h[0] - t0 for h in hist]
        key = (chosen, len(hist), hist[-1][0] if hist else None)
        note = f"{device}, run {run.run_id}" if run else device
        if any(h[1] is not None for h in hist):
            cols = {"allocated": [h[1] for h in hist], "reserved": [h[2] for h in hist]}
        else:
            cols = {"RSS": [h[4] for h in hist]}
        name, unit = memory_unit(*cols.values())
        chart = self.query_one("#dev-mem", Chart)
        chart.title = f"memory ({name})"
        chart.show([(label, ts, scaled(c, unit)) for label, c in cols.items()], key=key, note=note)
        util = [("util", ts, [h[3] or 0.0 for h in hist])] if any(h[3] is not None for h in hist) else []
        self.query_one("#dev-util", Chart).show(util, key=key, ylim=(0, 100), note=note)

    @on(DataTable.RowHighlighted, "#devices")
    def _device_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._device = event.row_key.value
        if self.app.snapshot is not None:
            self._charts(self.app.snapshot)

    # -- actions ----------------------------------------------------------------------------------
    def action_new_worker(self) -> None:
        snap = self.app.snapshot
        gpus = [(d.device, f"{d.name} · {gib(d.mem_used)}/{gib(d.mem_total)} GiB used"
                 + (f" · run {d.run_id}" if d.run_id else "")) for d in (snap.devices if snap else [])
                if d.device.startswith("cuda") and d.mem_total]
        self.app.push_screen(StartWorkerScreen(gpus), self._start)

    def _start(self, request: WorkerRequest | None) -> None:
        if request is None:
            return
        from xltui.detach import start_detached_worker

        url = self.app.db_url

        def start() -> str:
            pid, log = start_detached_worker(url, request.devices, 60.0, exit_when_idle=request.exit_when_idle)
            return f"worker on {', '.join(request.devices)} started (pid {pid}); it outlives the app. Log: {log}"

        self.app.in_background("Start worker", start)

    def action_stop_worker(self) -> None:
        table = self.query_one("#workers", DataTable)
        if not table.row_count:
            self.notify("no live worker to stop", severity="warning")
            return
        worker_id = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        question = f"Ask worker {worker_id} to stop? It finishes its current run first; queued runs stay queued."
        self.app.push_screen(ConfirmScreen(question, yes="Stop worker"),
                             lambda yes: self._stop(worker_id) if yes else None)

    def _stop(self, worker_id: str) -> None:
        from engine.store.requests import request_worker_stop

        engine = self.app.engine

        def stop() -> str:
            if request_worker_stop(engine, worker_id):
                return f"{worker_id}: asked to stop; it finishes its current run first"
            return f"{worker_id} is not running (already stopping or stopped)"

        self.app.in_background("Stop worker", stop)


def _replace_rows(table: DataTable, rows: list[tuple[str, tuple]]) -> None:
    """Update a small table in place, keeping the cursor on the same row key."""
    current = None
    if table.row_count:
        current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    keys = [k for k, _ in rows]
    existing = [rk.value for rk in table.rows]
    if existing != keys:
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if current in keys:
            table.move_cursor(row=keys.index(current))
        return
    for key, cells in rows:
        for column, value in zip(table.columns, cells):
            table.update_cell(key, column, value)
