"""`xltui db backup` copies a live SQLite database while another process commits to it: the copy
is one committed state (every transaction whole), passes integrity_check, and leaves no partial file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.support.env import DATA, wait_for, xltui

WRITER = textwrap.dedent("""
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL"); con.execute("PRAGMA busy_timeout=60000")
    run, attempt = con.execute("SELECT id, attempt_id FROM run ORDER BY id LIMIT 1").fetchone()
    i = 0
    while True:  # transactions of exactly 10 result rows, as fast as SQLite takes them
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT INTO result (run_id, attempt_id, language, split, metric, value) "
                        "VALUES (?, ?, 'swa', 'bench', ?, 0.5)", [(run, attempt, f"m{i}-{j}") for j in range(10)])
        con.execute("COMMIT")
        i += 1
""")


def bench_rows(path: Path) -> int:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT count(*) FROM result WHERE split = 'bench'").fetchone()[0]


def test_backup_while_a_writer_commits_is_one_committed_state(tmp_path):
    db = tmp_path / "experiments.db"
    xltui("import-results", str(DATA / "results" / "masakhaner2_baselines.csv"), "--db", str(db), check=True)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)])
    try:
        wait_for(lambda: bench_rows(db) > 2000, timeout=60, what="the writer's first transactions")
        copies = []
        for n in range(3):
            target = tmp_path / f"copy-{n}.db"
            out = xltui("db", "backup", str(target), "--db", str(db), check=True)
            assert f"wrote {target}" in out.stdout and "896 runs" in out.stdout
            copies.append(target)
            time.sleep(0.2)
        assert writer.poll() is None, "the writer must still be writing after the backups"
        during = bench_rows(db)
    finally:
        writer.kill()
        writer.wait()
    counts = [bench_rows(c) for c in copies]
    assert all(c % 10 == 0 for c in counts), f"a copy holds part of a transaction: {counts}"
    assert counts == sorted(counts) and counts[0] > 2000 and counts[-1] <= during
    for c in copies:
        with sqlite3.connect(c) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            assert con.execute("SELECT count(*) FROM run").fetchone()[0] == 896
    assert not list(tmp_path.glob(".*partial*"))
    listing = xltui("results", "masakhaner2_baselines", "--db", str(copies[0]), "--format", "csv", check=True)
    assert listing.stdout.startswith("table,")


def test_backup_refuses_what_it_cannot_do_and_leaves_files_alone(tmp_path):
    db, target = tmp_path / "experiments.db", tmp_path / "copy.db"
    xltui("import-results", str(DATA / "results" / "masakhaner2_baselines.csv"), "--db", str(db), check=True)
    target.write_text("keep me")
    out = xltui("db", "backup", str(target), "--db", str(db))
    assert out.returncode == 2 and "exists" in out.stderr and target.read_text() == "keep me"
    assert xltui("db", "backup", str(target), "--db", str(db), "--force", check=True).returncode == 0
    assert bench_rows(target) == 0
    out = xltui("db", "backup", str(tmp_path / "x.db"), "--db", "postgresql+psycopg://me:s3cret@localhost/lab")
    assert out.returncode == 2 and "pg_dump" in out.stderr and "s3cret" not in out.stderr + out.stdout
    out = xltui("db", "backup", str(tmp_path / "y.db"), "--db", str(tmp_path / "none.db"))
    assert out.returncode == 2 and "no database" in out.stderr and not (tmp_path / "none.db").exists()
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    out = xltui("db", "backup", str(tmp_path / "z.db"), "--db", str(other))
    assert out.returncode == 2 and "not an xltui database" in out.stderr and not (tmp_path / "z.db").exists()
