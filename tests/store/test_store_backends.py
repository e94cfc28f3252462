"""Opening a server database as a user would: an empty one is initialised, another application's
is refused, one that cannot be reached or authenticated is one line naming the host, and a
password never appears in what xltui prints."""

from __future__ import annotations

from sqlalchemy import inspect

from engine.store.db import make_engine, open_db, safe_url
from tests.support import pg
from tests.support.env import xltui


def test_an_empty_postgresql_database_is_initialised_on_first_use(pg_server):
    url = pg_server.new_database()
    out = xltui("status", "--db", url)  # a read-only command, as a user's first one often is
    assert out.returncode == 0, out.stderr
    assert "meta" in inspect(make_engine(url)).get_table_names()
    assert pg.PASSWORD not in out.stdout + out.stderr


def test_another_applications_database_is_refused_and_left_as_it_was(pg_server):
    url = pg_server.new_database()
    name = url.rsplit("/", 1)[1]
    pg_server.psql("CREATE TABLE invoices (id int)", name)
    for command in (("status",), ("cancel", "1")):
        out = xltui(*command, "--db", url)
        assert out.returncode == 2
        assert out.stderr.strip().splitlines() == [
            f"error: {safe_url(url)} is not an xltui database: it holds other tables (invoices); "
            "use an empty database or another --db"]
    assert inspect(make_engine(url)).get_table_names() == ["invoices"]


def test_unreachable_or_wrongly_authenticated_database_is_one_line_without_the_password(pg_server, tmp_path):
    url = pg_server.new_database()
    wrong_password = url.replace(pg.PASSWORD, "not-the-password")
    closed_port = url.replace(f":{pg_server.port}/", ":1/")
    grid = tmp_path / "g.yaml"
    grid.write_text("study: s\ntask: ner\nsource: en\ntargets: [swa]\ndata: {ner: masakhaner}\n"
                    "models: [{name: tiny, model: tiny, method: full}]\nsettings: [zero-shot]\nseeds: [1]\n")
    for bad, why in ((wrong_password, "password authentication failed"), (closed_port, "Connection refused")):
        for command in (("status",), ("run", "--grid", str(grid), "--cpu")):
            out = xltui(*command, "--db", bad, cwd=tmp_path)
            lines = out.stderr.strip().splitlines()
            assert out.returncode == 2 and len(lines) == 1, out.stderr
            assert lines[0].startswith("error: cannot connect to the database at 127.0.0.1:") and why in lines[0]
            assert "not-the-password" not in out.stdout + out.stderr and pg.PASSWORD not in out.stderr
    assert inspect(make_engine(url)).get_table_names() == []  # nothing was queued anywhere


def test_the_schema_lives_on_postgresql_as_on_sqlite(pg_server, tmp_path):
    url = pg_server.new_database()
    open_db(url)
    sqlite = open_db(str(tmp_path / "x.db"))
    assert set(inspect(make_engine(url)).get_table_names()) == set(inspect(sqlite).get_table_names())
    assert safe_url(url) == url.replace(pg.PASSWORD, "***")


def test_a_sqlite_file_of_another_application_is_not_adopted(tmp_path):
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    before = path.read_bytes()
    grid = tmp_path / "g.yaml"
    grid.write_text("study: s\ntask: ner\nsource: en\ntargets: [swa]\ndata: {ner: masakhaner}\n"
                    "models: [{name: tiny, model: tiny, method: full}]\nsettings: [zero-shot]\nseeds: [1]\n")
    for command in (("status",), ("run", "--grid", str(grid), "--cpu")):  # reading, and writing a study
        out = xltui(*command, "--db", str(path))
        assert out.returncode == 2 and "it holds other tables (invoices)" in out.stderr, out.stderr
    assert path.read_bytes() == before


def test_a_url_xltui_cannot_open_is_one_line_without_the_password():
    for url, why in (("mysql+mysqldb://u:s3cret@h/d", "driver is not installed (MySQLdb)"),
                     ("nosuch://u:s3cret@h/d", "not a database URL xltui can open")):
        out = xltui("status", "--db", url)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and why in lines[0], out.stderr
        assert "s3cret" not in out.stdout + out.stderr
