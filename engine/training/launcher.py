"""A warm launcher: one process per worker slot that has imported torch, transformers,
seqeval and the trainers once (adapters when its first run needs them), and forks each run
from there.

Every run still gets its own process (its own session and process group, its log as
stdout/stderr, its memory returned when it ends; an OOM or a segfault kills that run,
not the queue) but pays no imports: a few-shot run's start-up is a fork, not 5–11 s
of ``import torch``. The launcher never touches CUDA (a forked CUDA context is
unusable), holds no database connection and starts no threads, so forking is safe.

Protocol, one JSON object per line: the worker writes ``{"argv": [...], "env": {...},
"cwd": "...", "log": "...", "adapters": bool}`` on stdin; the launcher answers ``{"pid": N}`` when the
run is forked and ``{"exit": RC}`` when it ends (RC < 0: killed by signal -RC, as
``subprocess`` reports it). It exits when its worker is gone or stdin closes.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Callable

READY = {"ready": True}
ARCHITECTURES = ("AutoModelForTokenClassification", "AutoTokenizer", "XLMRobertaConfig",
                 "XLMRobertaForTokenClassification", "XLMRobertaTokenizerFast", "BertConfig",
                 "BertForTokenClassification", "BertTokenizerFast", "PreTrainedTokenizerFast")
WAIT_POLL_S = 0.02  # how often the launcher looks for its run's exit: the gap between two runs


# what a run of an adapter method needs beyond the rest (the ``adapters`` library: 1.6 s of CPU):
# imported by the launcher before it forks the first such run (the request says ``"adapters": true``)
# and kept for the next, so a worker that only fine-tunes fully never pays for it
ADAPTERS_MODULE = "engine.training.madx"
ADAPTERS_NOTE = "warm launcher: importing the adapters library, once, for its first run of an adapter method"


def _preload() -> None:
    """What every run imports, once: the time a cold run spends before its first step."""
    import importlib

    import seqeval.metrics  # noqa: F401 - imported for its cost
    import torch  # noqa: F401
    import transformers

    import engine.training.run  # noqa: F401
    from engine.training.trainers import TRAINERS

    for entry in TRAINERS.values():  # every trainer's module but those of the adapters library
        if (module := entry.partition(":")[0]) != ADAPTERS_MODULE:
            importlib.import_module(module)
    # transformers imports a model family's modules on first use: 0.2-0.5 s in every forked
    # run unless done here, for the families the field's runs use (XLM-R; mBERT and MiniLM are BERT)
    for name in ARCHITECTURES:
        getattr(transformers, name)


def _child(request: dict) -> None:
    """In the forked process: become the run, exactly as ``python -m engine.training.run`` would."""
    code = 1
    try:
        os.setsid()  # its own session and process group: the worker signals the group
        fd = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        sys.stdout.reconfigure(line_buffering=True)  # PYTHONUNBUFFERED, as a cold run has
        sys.stderr.reconfigure(line_buffering=True)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import torch

        threads = request["env"].get("OMP_NUM_THREADS")
        if threads:
            torch.set_num_threads(int(threads))  # read at import by a cold run; set here for a warm one
        from engine.training import run

        sys.argv = ["python -m engine.training.run", *request["argv"]]
        code = run.main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _send(obj: dict) -> None:
    sys.__stdout__.write(json.dumps(obj) + "\n")
    sys.__stdout__.flush()


def _wait(pid: int, worker_alive: Callable[[], bool], every_s: float = WAIT_POLL_S) -> int | None:
    """The run's exit code; None if the worker went away first (the run then stops by itself:
    its parent, this launcher, is gone). Polls: no thread, so every fork stays single-threaded."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if not worker_alive():
            return None
        time.sleep(every_s)


def serve(worker_alive: Callable[[], bool]) -> int:
    """Say ready, then fork a run for each request on stdin until it closes or the worker is gone
    (``worker_alive``: the worker started this launcher, or the warm server forked it for the worker)."""
    _send(READY)
    for line in sys.stdin:  # EOF: the worker closed the pipe or died
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("adapters") and ADAPTERS_MODULE not in sys.modules:
            print(ADAPTERS_NOTE, file=sys.stderr, flush=True)  # to the worker's output
            importlib.import_module(ADAPTERS_MODULE)  # here, once, for every later run too
            gc.freeze()
        pid = os.fork()
        if pid == 0:
            _child(request)
        _send({"pid": pid})
        code = _wait(pid, worker_alive)
        if code is None:
            return 0
        _send({"exit": code})
    return 0


def preload() -> None:
    """Import what every run needs, then keep it out of the collector's reach: a forked run's
    collector then does not walk (and copy on write) the launcher's whole heap."""
    _preload()
    gc.freeze()


def main() -> int:
    parent = os.getppid()  # the worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides; a Ctrl-C is not for us
    preload()
    return serve(lambda: os.getppid() == parent)


if __name__ == "__main__":
    code = main()
    sys.__stdout__.flush()
    os._exit(code)  # tearing down torch and transformers' modules takes a second, for nothing
