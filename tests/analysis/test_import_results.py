"""Importing published per-run results (the real MasakhaNER 2.0 baseline CSV) as an
external study: what lands in the database, idempotence, and file:line:column errors
that leave the database as it was."""

from __future__ import annotations

import csv

import pytest
from sqlmodel import Session, select

from engine.analysis.import_results import ResultsFileError, import_results, read_results_csv
from engine.store.db import open_db
from engine.store.schema import Attempt, Result, Run, Study
from tests.support.env import DATA

CSV_PATH = DATA / "results" / "masakhaner2_baselines.csv"


def csv_rows() -> list[dict[str, str]]:
    with open(CSV_PATH, newline="") as fh:
        return list(csv.DictReader(fh))


def counts(db: str) -> tuple[int, int, int, int]:
    """Rows per table, through SQLAlchemy so the same check reads SQLite and PostgreSQL."""
    with open_db(db, create=False).connect() as conn:
        return tuple(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar()
                     for t in ("study", "run", "attempt", "result"))


def write(tmp_path, text: str, name: str = "r.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_real_csv_becomes_an_external_study(any_db):
    engine = open_db(any_db)
    report = import_results(engine, CSV_PATH)
    rows = csv_rows()
    assert report.study == "masakhaner2_baselines" and report.runs_new == len(rows) == 896
    assert report.results_new == 3 * len(rows) and len(report.models) == 7 and len(report.languages) == 19
    with Session(engine) as session:
        study = session.exec(select(Study)).one()
        runs = {(r.model_name, r.targets, r.seed): r for r in session.exec(select(Run))}
        attempts = {a.id: a for a in session.exec(select(Attempt))}
        results = {(r.run_id, r.metric): r for r in session.exec(select(Result))}
    assert study.external and study.name == "masakhaner2_baselines"
    for row in rows:
        run = runs[(row["model"], row["language"], int(row["run"]))]
        assert (run.status, run.method, run.task, run.setting) == ("succeeded", "external", "ner", "in-language")
        attempt = attempts[run.attempt_id]
        assert (attempt.worker_id, attempt.device, attempt.outcome) == ("import", "external", "succeeded")
        for metric in ("f1", "precision", "recall"):
            res = results[(run.id, metric)]
            assert res.attempt_id == run.attempt_id and res.split == "test" and res.language == row["language"]
            assert res.value == float(row[metric])  # exact: no rounding on the way in


def test_importing_twice_adds_nothing(any_db):
    engine = open_db(any_db)
    import_results(engine, CSV_PATH)
    before = counts(any_db)
    again = import_results(engine, CSV_PATH)
    assert (again.runs_new, again.runs_existing, again.results_new) == (0, 896, 0)
    assert counts(any_db) == before


def test_long_form_gives_the_same_results_as_the_wide_form(db, tmp_path):
    rows = [r for r in csv_rows() if r["language"] in ("bam", "yor")]
    lines = ["language,model,seed,metric,value"]
    lines += [f"{r['language']},{r['model']},{r['run']},{m},{r[m]}" for r in rows for m in ("f1", "recall")]
    long = write(tmp_path, "\n".join(lines) + "\n", "long.csv")
    engine = open_db(db)
    report = import_results(engine, long, study="long")
    assert report.runs_new == len(rows) and report.results_new == 2 * len(rows)
    parsed = {(r.language, r.model, r.run): r.metrics for r in read_results_csv(long)}
    for r in rows:
        expected = {"f1": float(r["f1"]), "recall": float(r["recall"])}
        assert parsed[(r["language"], r["model"], int(r["run"]))] == expected


@pytest.mark.parametrize("text, message", [
    ("language,run,f1\nbam,1,0.5\n", "r.csv:1:4: missing column 'model'"),
    ("language,model,run\nbam,x,1\n", "r.csv:1:4: no metric columns"),
    ("language,model,run,f1\nbam,x,1,0.5\nbam,x,2,abc\n", "r.csv:3:4: f1: 'abc' is not a number"),
    ("language,model,run,f1\nbam,x,1,0.5\nbam,x,one,0.5\n", "r.csv:3:3: run 'one' is not an integer"),
    ("language,model,run,f1\nbam,x,1,0.5\nbam,x,1,0.6\n",
     "r.csv:3:1: duplicate (language, model, run) = (bam, x, 1), first at line 2"),
    ("language,model,run,f1\nbam,x,1,78.5\n", "r.csv:2:4: f1: 78.5 is outside [0, 1] (percentages? pass --percent)"),
    ("language,model,run,f1\nbam,x,1,nan\n", "r.csv:2:4: f1: 'nan' is not a finite number"),
    ("language,model,run,f1\nbam,x,1,\n", "r.csv:2:4: f1: empty value"),
    ("language,model,run,f1\nbam,x,1\n", "r.csv:2:4: 3 fields, the header has 4"),
    ("language,model,run,metric,value\nbam,x,1,f1,0.5\nbam,x,1,f1,0.7\n",
     "r.csv:3:1: duplicate (language, model, run, metric) = (bam, x, 1, f1), first at line 2"),
])
def test_bad_rows_name_file_line_and_column_and_write_nothing(db, tmp_path, text, message):
    engine = open_db(db)
    before = counts(db)
    with pytest.raises(ResultsFileError) as exc:
        import_results(engine, write(tmp_path, text))
    assert message in str(exc.value)
    assert str(tmp_path / "r.csv") in str(exc.value)
    assert counts(db) == before


def test_every_bad_cell_is_listed(tmp_path):
    text = "language,model,run,f1,recall\n" + "".join(f"bam,x,{i},bad,0.5\n" for i in range(1, 4))
    with pytest.raises(ResultsFileError) as exc:
        read_results_csv(write(tmp_path, text))
    assert [line.split(": ")[0].rsplit("/", 1)[-1] for line in str(exc.value).splitlines()] == [
        "r.csv:2:4", "r.csv:3:4", "r.csv:4:4"]


def test_percentages_are_stored_as_fractions(db, tmp_path):
    engine = open_db(db)
    import_results(engine, write(tmp_path, "language,model,run,f1,loss\nbam,x,1,78.5,2.5\n"), percent=True)
    with Session(engine) as session:
        values = {r.metric: r.value for r in session.exec(select(Result))}
    assert values == {"f1": pytest.approx(0.785), "loss": 2.5}  # only score metrics are percentages


def test_conflicting_reimport_is_rolled_back_whole(any_db, tmp_path):
    engine = open_db(any_db)
    import_results(engine, write(tmp_path, "language,model,run,f1\nbam,x,1,0.5\n"), study="s")
    before = counts(any_db)
    changed = write(tmp_path, "language,model,run,f1\nbam,x,2,0.6\nbam,x,1,0.55\n", "r2.csv")
    with pytest.raises(ResultsFileError, match=r"r2.csv:3:1: \(bam, x, 1\) is already in study 's' with other values"):
        import_results(engine, changed, study="s")
    assert counts(any_db) == before  # the new run of line 2 was not kept either


def test_our_own_study_is_never_mixed_with_an_import(db, tmp_path):
    from tests.support.stored_runs import build_stored_runs

    engine = build_stored_runs(db, study="own")
    with pytest.raises(ResultsFileError, match="study 'own' holds our own runs"):
        import_results(engine, write(tmp_path, "language,model,run,f1\nbam,x,1,0.5\n"), study="own")
