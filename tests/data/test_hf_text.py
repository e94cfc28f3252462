"""Language-adapter text from a Hugging Face text dataset (Wikipedia's layout), offline: a local
copy in the hub's parquet layout built from real MasakhaNER Swahili sentences."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.data.conll import read_conll
from engine.data.text import read_text
from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.grid.yamlfile import GridError
from engine.runner.plan import lang_adapter_specs
from tests.support.env import DATA

PARAGRAPH = 5  # sentences per Wikipedia-style article text


@pytest.fixture
def wiki(tmp_path: Path) -> tuple[Path, list[list[str]]]:
    """``wiki/20231101.sw/train/0000.parquet`` with id/title/text columns, as on the hub."""
    sentences = [list(s.tokens) for s in read_conll(DATA / "ner/swa/train.txt", limit=200)]
    texts = ["\n".join(" ".join(w) for w in sentences[i:i + PARAGRAPH]) + "\n"
             for i in range(0, len(sentences), PARAGRAPH)]
    folder = tmp_path / "wiki" / "20231101.sw" / "train"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": [str(i) for i in range(len(texts))], "title": ["t"] * len(texts),
                             "text": texts}), folder / "0000.parquet")
    return tmp_path / "wiki", sentences


GRID = """\
study: wiki
task: ner
source: en
targets: [swa]
data: {{ner: masakhaner}}
models:
  - {{name: madx, model: minilm, method: madx, lang_adapter: {{mlm_steps: 4, batch_size: 8, text: {{swa: "{ref}"}}}}}}
settings: [zero-shot]
seeds: [1]
"""


def test_a_local_wikipedia_copy_feeds_the_swahili_adapter(tmp_path: Path, wiki):
    folder, sentences = wiki
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID.format(ref="hf:./wiki:20231101.{lang2}"))
    (run,) = expand(load_grid(grid))
    specs = lang_adapter_specs(run)
    assert specs["swa"].text == f"hf:{folder.resolve()}:20231101.{{lang2}}"
    assert specs["en"].text == "ner:masakhaner"  # languages without a text keep their task data
    assert read_text(specs["swa"].text, "swa", limit=32) == sentences[:32]  # only what the MLM steps use
    assert read_text(specs["swa"].text, "swa", limit=10_000) == sentences


def test_bad_text_datasets_are_grid_errors_naming_the_field(tmp_path: Path, wiki):
    folder, _ = wiki
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID.format(ref="hf:./wiki:20231101.yo"))
    with pytest.raises(GridError, match=r"grid.yaml:7: models\[0\]\.lang_adapter: lang_adapter\.text\.swa: .*"
                                        r"no config '20231101\.yo'"):
        load_grid(grid)
    pq.write_table(pa.table({"title": ["x"]}), next(folder.rglob("*.parquet")))
    grid.write_text(GRID.format(ref="hf:./wiki:20231101.sw"))
    with pytest.raises(GridError, match=r"lang_adapter\.text\.swa: .*0000\.parquet: no 'text' column \(columns: title\)"):
        load_grid(grid)
