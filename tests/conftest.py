"""Shared fixtures: the real data directory, tiny grids, databases, the CLI as a user runs it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from engine.settings import WARM_SERVER_ENV
from tests.support import warm
from tests.support.disk import small_disk  # noqa: F401 - a fixture, shared by the full-disk tests
from tests.support.env import DATA, TINY_GRID, make_conll


def pytest_configure(config: pytest.Config) -> None:
    """In a parallel run (pytest-xdist: scripts/test.sh), each test process and what it starts
    trains on its share of the cores: OpenMP waits at every step for its slowest thread, so two
    processes each at every core of a 2-core machine train several times slower than at one each
    (the MiniLM test: 29 s alone, 214 s so). Set before torch is imported, so in-process training
    follows too. Tests of the cores themselves (tests/runner/test_cpu_share.py) unset it."""
    processes = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if processes > 1:
        from engine.runner.devices import usable_cores

        threads = str(max(1, usable_cores() // processes))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, threads)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject's addopts): a test process per core and one more, since a test spends
    much of its time waiting on the workers and servers it started (2 cores: 10:35 with 3, 11:23
    with 2, 14:27 with none)."""
    from engine.runner.devices import usable_cores

    return usable_cores() + 1


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xltui-cache")


@pytest.fixture(scope="session", autouse=True)
def shared_warm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int] | None]:
    """The workers this test process starts fork their launchers from one warm server (its socket
    and pid; tests/support/warm.py; ``XLTUI_TEST_WARM_SERVER=0``: each slot imports in its own)."""
    if not warm.wanted():
        yield None
        return
    with warm.warm_server(tmp_path_factory.mktemp("warm")) as (path, pid), pytest.MonkeyPatch.context() as patch:
        patch.setenv(WARM_SERVER_ENV, path)
        yield path, pid


@pytest.fixture
def own_launchers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers of this test start their launchers themselves, as without a warm server: for tests
    of that launcher's process tree and environment."""
    monkeypatch.delenv(WARM_SERVER_ENV, raising=False)


@pytest.fixture(autouse=True)
def data_env(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> Path:
    """Every test sees the real data through XLTUI_DATA (absolute, so cwd does not matter),
    and caches (tokenised data, converted datasets) in the session's own folder, not ~/.cache.

    CPU workers run one run at a time here (XLTUI_CPU_SLOTS=1; the default on 2 cores is
    two side by side): tests count workers, connections and run order, and a worker with
    two slots keeps two warm launchers busy on a 2-core machine. The slot tests
    (tests/runner/test_worker_processes.py) check the default itself, with the variable unset."""
    assert DATA.is_dir(), f"the shared data directory {DATA} is missing: set XLTUI_DATA"
    monkeypatch.setenv("XLTUI_DATA", str(DATA))
    monkeypatch.setenv("XLTUI_CACHE", str(cache_dir))
    monkeypatch.setenv("XLTUI_CPU_SLOTS", "1")
    return DATA


@pytest.fixture
def tiny_grid(tmp_path: Path) -> Callable[..., Path]:
    def write(study: str = "tiny", seeds: str = "[1]", epochs: int = 1, train: int = 40, eval: int = 40,
              name: str = "grid.yaml", patience: int = 2) -> Path:
        path = tmp_path / name
        path.write_text(TINY_GRID.format(study=study, seeds=seeds, epochs=epochs, train=train, eval=eval,
                                          patience=patience))
        return path

    return write


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "experiments.db")


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for the session (tests/support/pg.py); skips where the daemon cannot start."""
    from tests.support import pg

    try:
        server = pg.start()
    except pg.ServerUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot start on this machine: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def slurm_cluster():
    """A real single-node Slurm for the session (tests/support/slurm.py); skips where its daemons cannot start."""
    from tests.support import slurm

    try:
        cluster = slurm.start()
    except slurm.SlurmUnavailable as exc:
        pytest.skip(f"Slurm cannot start on this machine: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database of a test that must hold on both backends: a new SQLite file, or a new
    database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "experiments.db")
    return request.getfixturevalue("pg_server").new_database()


@pytest.fixture
def fake_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny catalog: $XLTUI_DATA/ner/{en,swa,yor,hau}/{train,dev,test}.txt."""
    root = tmp_path / "data"
    for lang in ("en", "swa", "yor", "hau"):
        make_conll(root / "ner" / lang)
    monkeypatch.setenv("XLTUI_DATA", str(root))
    return root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files longest first by their measured durations (tests/support/ordering.py), each file's tests in
    their own order: in a parallel run (pytest-xdist, one file per process at a time, its own reordering
    off in pyproject's addopts) the long files start early and the short ones fill in, so no process is
    left with a long tail."""
    from tests.support import ordering

    positions = ordering.longest_first([item.nodeid for item in items], ordering.load())
    items[:] = [items[i] for i in positions]


_recorder = None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """With $XLTUI_RECORD_TEST_DURATIONS set, each scope's time is summed for the file it names."""
    global _recorder
    from tests.support import ordering

    if os.environ.get(ordering.RECORD_ENV) and not os.environ.get("PYTEST_XDIST_WORKER"):
        _recorder = _recorder or ordering.Recorder()
        _recorder.add(report.nodeid, report.duration)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.support import ordering

    if _recorder is not None:
        _recorder.write(Path(os.environ[ordering.RECORD_ENV]))
