"""The composer (screen 2): its pure grid-building logic, then the screen driven as a user would
in the real app on a real database — compose, save, enqueue, reload, and a bad choice that shows
the CLI's own validation message."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session, select
from textual.widgets import Input, Select, SelectionList

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.runner.study import check_grid, estimate_seconds
from engine.store.db import open_db
from engine.store.queries import known_hashes, run_durations
from engine.store.schema import Run, Study
from tests.support.env import REPO, xltui
from tests.support.stored_runs import build_stored_runs
from tests.support.tui import app_in, switch_to, tick, type_into, until
from xltui.tui import grid_draft as gd
from xltui.tui.composer import ComposerScreen
from xltui.tui.composer_form import estimated_duration, problem_lines
from xltui.tui.data_choices import languages_for, languages_for_tasks

TINY_TRAIN = {"batch_size": "8", "max_length": "48", "epochs": "1", "max_train_sentences": "40",
              "max_eval_sentences": "40"}


# ----------------------------------------------------------------------------- pure logic


def test_a_composed_grid_round_trips_to_the_same_text():
    d = gd.new_draft("rt")
    d.models = [gd.MODEL_CHOICES[0].entry(), {"name": "madx", "model": "minilm", "method": "madx", "leave_out": [5]}]
    d.targets, d.few_shot, d.seeds = ["swa", "yor"], "10, 100", "1 2 3"
    d.train["lr"], d.train["epochs"] = "2e-05", "3"  # lr at its default: not written; epochs is
    d.extra = {"exclude": [{"model": "madx", "target": "yor"}]}
    text = gd.draft_to_yaml(d)
    assert "lr: 2.0e-05" not in text and "  epochs: 3" in text
    assert "settings: [zero-shot, {few-shot: [10, 100]}]" in text and "seeds: [1, 2, 3]" in text
    assert gd.draft_to_yaml(gd.yaml_to_draft(text)) == text


def test_a_hand_written_grid_loads_back_as_the_same_runs():
    text = (REPO / "configs" / "smoke.yaml").read_text()
    again = gd.draft_to_yaml(gd.yaml_to_draft(text))
    assert yaml.safe_load(again) == yaml.safe_load(text)
    first, second = check_grid("configs/smoke.yaml", text), check_grid("configs/smoke.yaml", again)
    assert first.ok and second.spec_hashes == first.spec_hashes and first.n_runs == 2


def test_every_engine_preset_is_offered():
    from engine.spec import MODEL_PRESETS

    assert set(MODEL_PRESETS) <= {c.model for c in gd.MODEL_CHOICES}


@pytest.mark.parametrize("text, value", [("3", 3), ("2e-5", 2e-5), ("", None), ("auto", "auto"), ("x1", "x1")])
def test_scalars_parse_like_numbers_or_stay_text(text, value):
    assert gd.parse_scalar(text) == value


def test_list_data_and_model_name_helpers():
    assert gd.parse_list("1, 2 3,,") == [1, 2, 3]
    assert gd.parse_data("en=ud:en_ewt, yor=ud:yo_ytb") == {"en": "ud:en_ewt", "yor": "ud:yo_ytb"}
    assert gd.format_data({"en": "ud:en_ewt"}) == "en=ud:en_ewt" and gd.parse_data(" ud ") == "ud"
    assert gd.model_alias("xlm-roberta-base", "madx") == "madx-xlmr"
    assert gd.model_alias("/models/my model/", "full", {"my-model"}) == "my-model-2"


def test_languages_offered_are_those_the_engine_resolves(tmp_path):
    ner = languages_for("ner", "masakhaner")
    assert {"en", "swa", "yor", "amh"} <= set(ner.target) and ner.problem is None
    assert "am" not in ner.target and "eng" not in ner.source  # one code per language: amh, en
    both = languages_for_tasks({"ner": "masakhaner", "pos": "ud"})
    assert both.source == ("en",) and {"yor", "amh"} <= set(both.target) and "swa" not in both.target
    tweets = languages_for("sentiment", "afrisenti")
    assert tweets.source == ("amh", "arq", "ary", "en", "hau", "ibo", "kin", "pcm", "por", "swa", "tso", "twi", "yor")
    assert {"orm", "tir"} <= set(tweets.target) and tweets.problem is None  # no training tweets: targets only
    all_three = languages_for_tasks({"ner": "masakhaner", "pos": "ud", "sentiment": "afrisenti"})
    assert all_three.source == ("en",) and set(all_three.target) == {"amh", "en", "yor"}
    (tmp_path / "mine" / "xx").mkdir(parents=True)
    (tmp_path / "mine" / "xx" / "test.txt").write_text("a O\n")
    local = languages_for("ner", "mine", tmp_path)
    assert local.target == ("xx",) and local.source == ()
    assert "does not exist" in (languages_for("ner", "nope", tmp_path).problem or "")
    per_lang = languages_for_tasks({"pos": {"en": "ud:en_ewt", "yor": "ud:yo_ytb", "zz": "ud:none"}})
    assert per_lang.source == ("en",) and per_lang.target == ("en", "yor")


LIGHT = """
import sys, tempfile
from pathlib import Path
import xltui.tui.composer, xltui.tui.results_screen
from engine.store.db import open_db
from xltui.cli_results import build_results_report
from engine.runner.study import check_grid, queue_grid
from engine.analysis.figures import terminal_charts
text = (Path("configs") / "smoke.yaml").read_text()
engine = open_db(str(Path(tempfile.mkdtemp()) / "x.db"))
report = check_grid("configs/smoke.yaml", text)
queue_grid(engine, report)
assert report.ok and "2 new" in report.summary(), report.summary()
heavy = [m for m in ("torch", "transformers", "adapters") if m in sys.modules]
assert not heavy, heavy
print("light")
"""


def test_composer_and_results_never_import_torch():
    proc = subprocess.run([sys.executable, "-c", LIGHT], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "light", proc.stderr


def test_estimate_uses_same_model_runs_then_all_runs(db):
    engine = build_stored_runs(db)
    with Session(engine) as session:  # fixed durations: madx runs took 100 s, xlmr runs 40 s
        for run in session.exec(select(Run)):
            run.started_at, run.finished_at = 1000.0, 1000.0 + (100.0 if run.model_name == "madx" else 40.0)
            session.add(run)
        session.commit()
    durations = run_durations(engine)
    assert durations.by_key[("madx", "full", "ner")] == 100.0 and durations.overall == 70.0
    text = gd.draft_to_yaml(gd.Draft(study="own", tasks=["ner"], data={"ner": "masakhaner"}, source=["en"],
                                     targets=["swa", "yor"], seeds="1, 2, 3, 4", models=[
                                         {"name": "madx", "model": "tiny", "method": "full"},
                                         {"name": "other", "model": "tiny", "method": "full"}]))
    check = check_grid("configs/own.yaml", text)
    assert check.ok and check.n_runs == 8
    # the stored runs are not the same specs (default train params differ from the stored ones)
    assert estimate_seconds(check, durations) == 4 * 100.0 + 4 * 70.0  # nothing known: every run priced
    check.known = {h: (0, "succeeded") for h in check.spec_hashes}
    assert estimate_seconds(check, durations) == 0.0
    assert known_hashes(engine, "own") and not known_hashes(engine, "nope")
    assert estimated_duration(None).startswith("unknown") and estimated_duration(3725) == "1h02m"


# ----------------------------------------------------------------------------- the screen


def fresh_check(screen, before):
    return lambda: screen.last_check is not None and screen.last_check is not before


def test_compose_save_enqueue_and_load_back(workdir):
    async def scenario() -> None:
        app = app_in(workdir)
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await switch_to(pilot, "2", ComposerScreen)
            palette = {c.title for c in app.get_system_commands(screen)}
            assert {"Save", "Enqueue", "Open grid", "New grid"} <= palette
            await type_into(pilot, "#study", "tui-q12")  # q, 1 and 2 are app keys: typed, not obeyed
            assert screen.query_one("#study", Input).value == "tui-q12" and app.screen is screen
            await pilot.click("#models", offset=(4, 0))  # the mouse ticks the first model, tiny
            await tick(pilot, screen, "#targets", ["swa", "yor"])
            await type_into(pilot, "#seeds", "1 2")
            for name, value in TINY_TRAIN.items():
                await type_into(pilot, f"#train-{name}", value)
            await until(pilot, lambda: screen.last_check and screen.last_check.ok and screen.last_check.n_runs == 2,
                        what="a valid 2-run grid")
            summary = str(screen.query_one("#summary").render())
            assert "runs in the grid: 2" in summary and "already in the database: 0" in summary
            assert "estimated duration: unknown" in summary

            await pilot.press("ctrl+s")
            await until(pilot, lambda: type(app.screen).__name__ == "NameDialog")
            await pilot.press("enter")  # the study name is the default file name
            path = workdir / "configs" / "tui-q12.yaml"
            await until(pilot, path.exists, what=str(path))
            assert path.read_text() == screen.current_yaml()

            before = screen.last_check
            await pilot.press("ctrl+r")
            engine = open_db(str(workdir / "experiments.db"))
            await until(pilot, lambda: known_hashes(engine, "tui-q12"), what="queued runs")
            cli_hashes = {s.spec_hash() for s in expand(load_grid(path))}  # what `xltui run --grid` queues
            assert known_hashes(engine, "tui-q12") == cli_hashes
            with Session(engine) as session:
                study = session.exec(select(Study).where(Study.name == "tui-q12")).one()
                assert study.grid_path == str(path.resolve()) and study.grid_text == path.read_text()
            await until(pilot, lambda: fresh_check(screen, before)() and "already in the database: 2"
                        in str(screen.query_one("#summary").render()), what="the summary after enqueue")

            await type_into(pilot, "#seeds", "1 2 3")  # a changed grid must not overwrite silently
            await pilot.press("ctrl+s")
            await until(pilot, lambda: type(app.screen).__name__ == "NameDialog")
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("n")
            assert "seeds: [1, 2]\n" in path.read_text()

            await pilot.press("ctrl+n")
            assert "tui-q12" not in screen.current_yaml()
            await pilot.press("ctrl+o")
            await until(pilot, lambda: type(app.screen).__name__ == "PickFileDialog")
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is screen and "tui-q12" in screen.current_yaml())
            assert screen.current_yaml() == path.read_text()  # loads back unchanged

    asyncio.run(scenario())


def test_a_bad_choice_shows_the_cli_message_and_queues_nothing(workdir):
    async def scenario() -> tuple[list[str], Path]:
        app = app_in(workdir)
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await switch_to(pilot, "2", ComposerScreen)
            await type_into(pilot, "#study", "bad")
            await pilot.click("#models", offset=(4, 2))  # madx-minilm: fine
            await tick(pilot, screen, "#targets", ["en", "swa"])  # en is the source language
            await type_into(pilot, "#seeds", "1, x")
            await type_into(pilot, "#add-lang", "zz")  # a language no data folder has
            await pilot.press("enter")
            targets = screen.query_one("#targets", SelectionList)
            options = [targets.get_option_at_index(i) for i in range(targets.option_count)]
            assert "zz" in targets.selected and {o.value: str(o.prompt) for o in options}["zz"] == "zz (added)"
            await until(pilot, lambda: screen.last_check and len(screen.last_check.errors) == 3, what="3 problems")
            errors = problem_lines(screen.last_check)
            assert str(screen.query_one("#problems").render()).split() == " ".join(errors).split()
            await pilot.press("ctrl+r")
            await pilot.pause(0.5)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: type(app.screen).__name__ == "NameDialog")
            await pilot.press("enter")
            path = workdir / "configs" / "bad.yaml"
            await until(pilot, path.exists)
            return errors, path

    errors, path = asyncio.run(scenario())
    assert not known_hashes(open_db(str(workdir / "experiments.db")), "bad")
    assert errors[0] == ("error: configs/bad.yaml:4: targets[0]: 'en' is also a source language; targets must be "
                         "unseen in training")
    assert errors[1].startswith("error: configs/bad.yaml:5: data.ner: masakhaner: no folder for language 'zz'")
    assert errors[2] == "error: configs/bad.yaml:9: seeds[1]: expected a list of integers"
    proc = xltui("grid", "validate", "configs/bad.yaml", cwd=workdir)
    assert proc.returncode == 2 and proc.stderr.splitlines() == errors


# ----------------------------------------------------------------------------- adapter methods on the screen

SWA_ADAPTER = "AdapterHub/xlm-roberta-base-sw-wiki_pfeiffer"


def model_index(screen, name: str) -> int:
    """The models list's row of the entry called ``name``."""
    models = screen.query_one("#models", SelectionList)
    rows = [str(models.get_option_at_index(i).prompt) for i in range(models.option_count)]
    return next(i for i, row in enumerate(rows) if row.startswith(f"{name}: "))


async def pick(pilot, selector: str, text: str) -> None:
    """Open a drop-down list with Enter, type to jump to an option, Enter picks it, as a user would."""
    widget = pilot.app.screen.query_one(selector, Select)
    widget.scroll_visible(animate=False)
    widget.focus()
    await pilot.pause()
    await pilot.press("enter", *text, "enter")
    await until(pilot, lambda: not widget.expanded, what=f"{selector} closed")


def shown(screen) -> tuple[object, str, str]:
    """What the adapter fields show: the task adapter's method, its options, the released adapters."""
    return (screen.query_one("#task-adapter", Select).value, screen.query_one("#task-options", Input).value,
            screen.query_one("#pretrained", Input).value)


def test_pick_adapter_methods_and_a_released_adapter_save_and_expand(workdir):
    async def scenario() -> Path:
        app = app_in(workdir)
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await switch_to(pilot, "2", ComposerScreen)
            await type_into(pilot, "#study", "tui-methods")
            await tick(pilot, screen, "#models", [model_index(screen, "ia3-minilm")])  # ticked and highlighted
            assert shown(screen) == ("ia3", "", "") and screen.query_one("#pretrained", Input).disabled
            await pick(pilot, "#task-adapter", "lora")  # another method of the adapters library
            await type_into(pilot, "#task-options", "r=4, alpha=8")
            await tick(pilot, screen, "#models", [model_index(screen, "madx-xlmr")])
            assert shown(screen) == (Select.NULL, "", "") and not screen.query_one("#pretrained", Input).disabled
            await type_into(pilot, "#pretrained", f"swa={SWA_ADAPTER}")
            await tick(pilot, screen, "#targets", ["swa", "yor"])
            await type_into(pilot, "#seeds", "1")
            await until(pilot, lambda: screen.last_check and screen.last_check.ok and screen.last_check.n_runs == 2
                        and screen.checked_text == screen.current_yaml(), what="a valid 2-run grid")
            summary = str(screen.query_one("#summary").render())
            assert f"madx-xlmr: language adapters loaded swa ({SWA_ADAPTER}" in " ".join(summary.split())
            rows = screen.query_one("#models", SelectionList)
            assert str(rows.get_option_at_index(model_index(screen, "ia3-minilm")).prompt) == \
                "ia3-minilm: minilm (adapter lora)"

            await pilot.press("ctrl+s")
            await until(pilot, lambda: type(app.screen).__name__ == "NameDialog")
            await pilot.press("enter")
            path = workdir / "configs" / "tui-methods.yaml"
            await until(pilot, path.exists, what=str(path))
            assert path.read_text() == screen.current_yaml()

            await pilot.press("ctrl+n")
            await pilot.press("ctrl+o")
            await until(pilot, lambda: type(app.screen).__name__ == "PickFileDialog")
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is screen and "tui-methods" in screen.current_yaml())
            assert screen.current_yaml() == path.read_text()  # loads back unchanged
            assert shown(screen) == (Select.NULL, "", f"swa={SWA_ADAPTER}")  # the first entry, madx-xlmr
            screen.query_one("#models", SelectionList).focus()
            await pilot.press("down")
            await until(pilot, lambda: shown(screen) == ("lora", "r=4, alpha=8", ""), what="ia3-minilm's adapter")
            assert screen.current_yaml() == path.read_text()  # showing an entry changes nothing
            return path

    path = asyncio.run(scenario())
    text = path.read_text()
    assert "  - {name: ia3-minilm, model: minilm, method: adapter, task_adapter: {config: lora, r: 4, alpha: 8}}\n" in text
    assert (f"  - {{name: madx-xlmr, model: xlm-roberta-base, method: madx, lang_adapter: {{pretrained: "
            f"{{swa: {SWA_ADAPTER}}}}}}}\n") in text
    specs = {s.model_name: s for s in expand(load_grid(path))}
    adapter, madx = specs["ia3-minilm"], specs["madx-xlmr"]
    assert adapter.method == "adapter" and adapter.task_adapter.config == "lora"
    assert adapter.task_adapter.options == {"r": 4, "alpha": 8} and adapter.madx is None
    assert madx.method == "madx" and madx.madx.lang_adapter.pretrained["swa"].source == SWA_ADAPTER


def test_a_new_adapter_model_and_a_wrong_option_show_the_cli_message(workdir):
    async def scenario() -> list[str]:
        app = app_in(workdir)
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await switch_to(pilot, "2", ComposerScreen)
            await type_into(pilot, "#study", "bad-option")
            assert screen.query_one("#task-adapter", Select).disabled  # tiny, highlighted: full fine-tuning
            await pick(pilot, "#custom-method", "ad")
            assert screen.query_one("#custom-method", Select).value == "adapter"
            await type_into(pilot, "#custom-model", "minilm")
            await pilot.press("enter")  # added, ticked and highlighted, with LoRA to start with
            await until(pilot, lambda: str(screen.query_one("#adapters-of").render()) == "Adapters of lora-minilm-2")
            assert shown(screen) == ("lora", "", "")
            await type_into(pilot, "#task-options", "r=x")
            await tick(pilot, screen, "#targets", ["swa"])
            await until(pilot, lambda: screen.last_check and not screen.last_check.ok
                        and screen.checked_text == screen.current_yaml(), what="the wrong option checked")
            assert "  - {name: lora-minilm-2, model: minilm, method: adapter, task_adapter: {config: lora, r: x}}" \
                in screen.current_yaml().splitlines()
            errors = problem_lines(screen.last_check)
            assert " ".join(str(screen.query_one("#problems").render()).split()) == " ".join(" ".join(errors).split())

            await pick(pilot, "#task-adapter", "ia3")  # another method: the options of lora go
            await until(pilot, lambda: screen.last_check and screen.last_check.ok
                        and "{config: ia3}" in screen.checked_text, what="a valid grid with ia3")
            assert shown(screen) == ("ia3", "", "")
            return errors

    errors = asyncio.run(scenario())
    assert errors == ["error: configs/bad-option.yaml:7: models[0]: lora: r: expected a number, got 'x'"]
