"""Grid sections beyond the core axes (the alignment regulariser's lambda axis and its text),
and how any path written in a grid is read: relative to the grid file's folder.

Files named here are resolved against the grid file's folder and read when the grid
loads, so a malformed parallel file is reported as ``grid.yaml:line: field: file:line``
before anything is queued.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from engine.data.refs import DataError
from engine.data.text import read_parallel
from engine.spec import AlignParams


def _numbers(value: Any) -> Any:
    """``weight: 0.1`` or ``weight: [0, 0.1, 1]``."""
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def grid_dir(info: ValidationInfo) -> Path:
    """The grid file's folder: every relative path in a grid is relative to it."""
    return Path((info.context or {}).get("base_dir", "."))


def grid_path(ref: str, info: ValidationInfo) -> Path:
    return (grid_dir(info) / Path(ref).expanduser()).resolve()


def text_file(ref: str, info: ValidationInfo, label: str) -> str:
    """A text file named in a grid as stored, ``file:<absolute path>``; it must exist."""
    path = grid_path(ref, info)
    if not path.is_file():
        raise PydanticCustomError("text_file", f"{label}: no file {path} (one sentence per line)")
    return f"file:{path}"


class AlignmentAxis(BaseModel):
    """``alignment: {weight: [0, 0.1], parallel: {swa: en-sw.tsv}, text: {yor: yo.txt}}``; weight 0 is off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: Annotated[tuple[Annotated[float, Field(ge=0, le=100)], ...], BeforeValidator(_numbers),
                      Field(min_length=1, description="lambda values, an axis; 0 trains without the term")]
    parallel: dict[StrictStr, StrictStr] = Field(default_factory=dict, description="target -> TSV of "
                                                 "'source<TAB>target' sentence pairs")
    text: dict[StrictStr, StrictStr] = Field(default_factory=dict, description="target -> unlabelled text, one "
                                             "sentence per line (default: the target's train and dev sentences)")
    batch_size: int = Field(16, ge=1, description="pairs or target sentences per step")

    @field_validator("parallel")
    @classmethod
    def _parallel_files(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        out = {}
        for lang, ref in value.items():
            path = grid_path(ref, info)
            try:
                read_parallel(path)
            except DataError as exc:
                raise PydanticCustomError("parallel_file", f"{lang}: {exc}") from None
            out[lang] = f"file:{path}"
        return out

    @field_validator("text")
    @classmethod
    def _text_files(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return {lang: text_file(ref, info, lang) for lang, ref in value.items()}

    def params(self, weight: float, targets: tuple[str, ...]) -> AlignParams | None:
        """The run's regulariser for one lambda (None for 0), with only its own targets' files."""
        if weight == 0:
            return None
        return AlignParams(weight=weight, parallel={t: f for t, f in self.parallel.items() if t in targets},
                           text={t: f for t, f in self.text.items() if t in targets}, batch_size=self.batch_size)

    def check(self, targets: tuple[str, ...], has_text: dict[str, bool]) -> list[tuple[tuple, str]]:
        """Keys must be targets; a target without a file needs train or dev text of its own."""
        out: list[tuple[tuple, str]] = []
        for section in ("parallel", "text"):
            out += [(("alignment", section, lang), f"'{lang}' is not a target of this grid ({', '.join(targets)})")
                    for lang in getattr(self, section) if lang not in targets]
        if max(self.weight) > 0:
            out += [(("alignment",), f"target '{lang}' has no train or dev sentences to align towards (its test "
                     f"split is never used); give alignment.parallel.{lang} or alignment.text.{lang}")
                    for lang in targets if lang not in self.parallel and lang not in self.text
                    and not has_text.get(lang, True)]
        return out


def system_name(name: str, weight: float) -> str:
    """Runs with the regulariser are their own system in tables: ``xlmr+cos0.1``."""
    return name if weight == 0 else f"{name}+cos{weight:g}"
