"""The optimisation loop shared by every method: AdamW, linear warm-up/decay, early stopping.

The loop is task-agnostic: it gets a model, a DataLoader and an ``evaluate`` callback
returning the dev score to maximise, keeps the best weights on disk and leaves the model
with them, so the caller evaluates and saves the selected checkpoint. Its state is one
object (engine.training.train_state) that engine.training.saving saves and restores.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from transformers import get_linear_schedule_with_warmup

from engine.data.labels import IGNORE_INDEX
from engine.settings import grad_accumulation, simulated_oom_above
from engine.spec import TrainParams
from engine.store.telemetry import MetricWriter
from engine.training import cpu_threads, interrupt, rng
from engine.training.loss_points import PendingPoints
from engine.training.resume import StateStore
from engine.training.saving import Saving
from engine.training.throughput import model_flops_utilisation, peak_flops
from engine.training.train_state import LoopState, Trainables

Regulariser = Callable[[torch.nn.Module, dict, object], torch.Tensor]
FUSED_DEVICES = ("cpu", "cuda")  # where torch has a fused AdamW kernel
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias")


@dataclass
class TrainReport:
    best_score: float
    best_epoch: int
    epochs_run: int
    steps: int
    seconds: float
    examples_per_s: float
    stopped_early: bool
    precision: str = "fp32"
    peak_gpu_bytes: int | None = None
    tokens_per_s: float = 0.0  # real (non-padding) tokens per second of training steps, evaluation left out
    n_params: int = 0
    mfu: float | None = None  # model FLOPs utilisation on a GPU of known peak (engine.training.throughput)
    gpu_name: str | None = None
    grad_accumulation: int = 1  # micro-batches per step (engine.settings.grad_accumulation)
    n_trainable: int = 0  # the parameters that train (a method's cost: adapters and heads when the base is frozen)
    s_per_step: float = 0.0  # seconds per optimizer step, evaluation left out
    peak_rss_bytes: int = 0  # the run process's peak resident memory (on the CPU, what a method costs in memory)


def make_optimizer(model: torch.nn.Module, params: TrainParams) -> torch.optim.Optimizer:
    """AdamW with no weight decay on biases and LayerNorm weights (BERT recipe).

    Fused: one kernel over all parameters instead of a Python loop over them (on the CPU
    torch's default is that loop), as ``Trainer``'s default ``adamw_torch_fused``. MiniLM,
    600 sentences, 2 cores: 0.84-0.87 s/step unfused vs 0.76-0.79 fused (bench/vs_trainer.py)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if not any(k in n for k in NO_DECAY)], "weight_decay": params.weight_decay},
        {"params": [p for n, p in named if any(k in n for k in NO_DECAY)], "weight_decay": 0.0},
    ]
    return fused_adamw(groups, params.lr, next(model.parameters()).device)


def fused_adamw(params: list, lr: float, device: str | torch.device) -> torch.optim.AdamW:
    """AdamW with torch's fused kernel where ``device`` (the parameters') has one."""
    return torch.optim.AdamW(params, lr=lr, fused=torch.device(device).type in FUSED_DEVICES)


def resolve_precision(device: str, precision: str) -> str:
    """What ``precision`` means on this device: on CUDA, ``auto`` is bf16 where the GPU
    supports it (A100/H100) and fp16 with loss scaling otherwise; the CPU trains in fp32."""
    if not device.startswith("cuda"):
        return "fp32"
    if precision == "auto":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise ValueError("precision bf16: this GPU does not support bfloat16; use fp16 or auto")
    return precision


AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}
@dataclass
class Optimisation:
    """What one optimizer step needs besides the model: optimizer, schedule, precision, loss scaling."""

    optimizer: torch.optim.Optimizer
    scheduler: object
    precision: str
    scaler: torch.amp.GradScaler
    accumulation: int
    total_steps: int

    @classmethod
    def build(cls, model: torch.nn.Module, params: TrainParams, device: str, steps_per_epoch: int) -> Optimisation:
        optimizer = make_optimizer(model, params)
        total = params.epochs * steps_per_epoch
        scheduler = get_linear_schedule_with_warmup(optimizer, int(params.warmup_ratio * total), total)
        precision = resolve_precision(device, params.precision)
        scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
        return cls(optimizer, scheduler, precision, scaler, grad_accumulation(), total)

    def step(self, model: torch.nn.Module, batch: dict, params: TrainParams, device: str,
             regulariser: Regulariser | None, weight: float) -> tuple[torch.Tensor, tuple | None]:
        """One optimizer step on ``batch`` (in micro-batches); its loss (and parts) left on the device."""
        dtype, oom_above = AUTOCAST[self.precision], simulated_oom_above()
        loss = ce = extra = None
        for micro, share in micro_batches(batch, self.accumulation):
            if oom_above is not None and int(micro["input_ids"].shape[0]) > oom_above:
                raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (simulated: micro-batch of "
                                                  f"{int(micro['input_ids'].shape[0])} > {oom_above})")
            micro = {k: v.to(device) for k, v in micro.items()}
            with torch.autocast(device_type=device.split(":")[0], dtype=dtype, enabled=dtype is not None):
                outputs = model(**micro, output_hidden_states=regulariser is not None)
                part_loss = part_ce = outputs.loss
                if regulariser is not None:
                    part_extra = regulariser(model, micro, outputs)
                    part_loss = part_ce + weight * part_extra
            self.scaler.scale(part_loss if share == 1.0 else part_loss * share).backward()
            loss = _add(loss, part_loss.detach(), share)
            ce = _add(ce, part_ce.detach(), share)
            if regulariser is not None:
                extra = _add(extra, part_extra.detach(), share)
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), params.max_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss, (ce, extra) if regulariser is not None else None


def train(
    model: torch.nn.Module,
    loader: torch.utils.data.DataLoader,
    params: TrainParams,
    evaluate: Callable[[], float] | None,
    writer: MetricWriter | None,
    device: str,
    log: Callable[[str], None] = print,
    regulariser: Regulariser | None = None,
    weight: float = 0.0,
    store: StateStore | None = None,
) -> TrainReport:
    """Train with early stopping on ``evaluate()``; the model ends with the selected weights.

    Without ``evaluate`` (few-shot: no target dev set) every epoch runs and the last weights are kept.
    ``regulariser(model, batch, outputs)`` adds ``weight`` times its value to the loss (the
    alignment term); both parts are logged as ``train_ce`` and ``train_align``. With ``store`` (a
    run's, engine.training.resume) the loop continues from the run's latest saved state and saves
    its own periodically and when asked to stop (engine.training.interrupt).
    """
    model.to(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    reset_peak_rss()
    opt = Optimisation.build(model, params, device, len(loader))
    log(f"precision {opt.precision} on {device}" + (f"; each batch of {params.batch_size} in {opt.accumulation} "
                                                    f"micro-batches (gradients accumulated)" if opt.accumulation > 1 else ""))
    pending = PendingPoints(writer, opt.total_steps)
    objs = Trainables(model, opt.optimizer, opt.scheduler, opt.scaler, rng.data_generators(loader))
    with Saving(store, objs, writer, log, pending) as saving:
        loop = saving.resume(opt.total_steps)
        with saving.on_stop():
            while not loop.done:
                for batch in saving.batches(loader):
                    train_step(model, batch, opt, params, device, loop, pending, regulariser, weight)
                    saving.step_done()
                flushed = time.perf_counter()
                pending.flush(loop.epoch, opt.precision)  # the epoch's last steps, before it is evaluated (a device sync)
                loop.train_s += time.perf_counter() - flushed
                end_epoch(loop, params, evaluate, writer, log, saving, opt.total_steps, pending.last_loss)
        seconds = saving.finish()
    peak = int(torch.cuda.max_memory_allocated()) if device.startswith("cuda") else None
    report = TrainReport(loop.best if evaluate else float("nan"), loop.best_epoch if evaluate else loop.epoch,
                         loop.epoch, loop.step, seconds, loop.n_examples / max(seconds, 1e-9),
                         stopped_early=loop.stopped_early, precision=opt.precision, peak_gpu_bytes=peak,
                         grad_accumulation=opt.accumulation)
    add_throughput(report, model, loop.n_tokens, loop.train_s, device)
    return report


def train_step(model: torch.nn.Module, batch: dict, opt: Optimisation, params: TrainParams, device: str,
               loop: LoopState, pending: PendingPoints, regulariser: Regulariser | None, weight: float) -> None:
    """One optimizer step, counted in ``loop`` and its loss queued in ``pending``."""
    started = time.perf_counter()
    mask = batch.get("attention_mask")  # on the host, before the copy: no device sync
    loop.n_tokens += int(mask.sum()) if mask is not None else batch["input_ids"].numel()
    loss, parts = opt.step(model, batch, params, device, regulariser, weight)
    loop.step += 1
    loop.batches_done += 1
    cpu_threads.follow(loop.step)  # a CPU run's share of its worker's cores, if it changed
    size = int(batch["input_ids"].shape[0])
    loop.n_examples += size
    pending.add(loop.step, loss, opt.scheduler.get_last_lr()[0], size, parts)
    if pending.due(loop.step):
        pending.flush(loop.epoch, opt.precision)
    loop.train_s += time.perf_counter() - started


def end_epoch(loop: LoopState, params: TrainParams, evaluate: Callable[[], float] | None, writer: MetricWriter | None,
              log: Callable[[str], None], saving: Saving, total_steps: int, last_loss: float) -> None:
    """After an epoch's steps: its dev evaluation and early stopping (the best weights go to disk);
    ``loop.done`` once no epoch is left to run."""
    epoch = loop.epoch
    if evaluate is not None and loop.evaluated_epoch < epoch:
        saving.point("eval", epoch)
        score = evaluate()
        loop.evaluated_epoch = epoch
        if writer:
            writer.log(loop.step, dev_score=score, epoch=epoch)
        log(f"epoch {epoch}: step {loop.step}/{total_steps} loss {last_loss:.4f} dev {score:.4f}")
        if score > loop.best:
            loop.best, loop.best_epoch, loop.bad_epochs = score, epoch, 0
            loop.best_file = saving.save_best(loop.step)
        else:
            loop.bad_epochs += 1
            if loop.bad_epochs >= params.patience:
                log(f"early stop: no dev improvement for {loop.bad_epochs} epochs")
                loop.stopped_early = True
    elif evaluate is None:
        log(f"epoch {epoch}: step {loop.step}/{total_steps} loss {last_loss:.4f}")
    loop.done = loop.stopped_early or epoch >= params.epochs
    interrupt.check()  # a stop asked during the evaluation: saved at this boundary


def micro_batches(batch: dict[str, torch.Tensor], n: int) -> list[tuple[dict[str, torch.Tensor], float]]:
    """``batch`` split in ``n`` micro-batches (fewer if it is smaller), each with its share of the batch's
    loss: its labelled tokens over the batch's, so the accumulated gradient is the whole batch's (the
    loss is a mean over labelled tokens). One micro-batch is the batch itself, share 1."""
    if n <= 1 or int(batch["input_ids"].shape[0]) <= 1:
        return [(batch, 1.0)]
    keys = list(batch)
    parts = [dict(zip(keys, chunk)) for chunk in zip(*(torch.tensor_split(batch[k], n) for k in keys))]
    parts = [p for p in parts if int(p["input_ids"].shape[0]) > 0]
    if "labels" in batch:
        counts = [int((p["labels"] != IGNORE_INDEX).sum()) for p in parts]
    else:
        counts = [int(p["input_ids"].shape[0]) for p in parts]
    total = sum(counts)
    if total == 0:
        return [(batch, 1.0)]
    # a micro-batch without a labelled token adds nothing (and its mean loss would be NaN)
    return [(p, c / total) for p, c in zip(parts, counts) if c > 0]


def _add(total: torch.Tensor | None, part: torch.Tensor, share: float) -> torch.Tensor:
    return part * share if total is None else total + part * share


def speed_stats(report: TrainReport) -> dict[str, float]:
    """A run's speed and cost as stored with its results (the ``train`` split): time, examples/s,
    tokens/s, seconds per step, parameters and those that train (count and share), peak resident
    memory, and on a GPU its peak GPU memory and MFU."""
    out = dict(steps=report.steps, train_seconds=report.seconds, examples_per_s=report.examples_per_s,
               tokens_per_s=report.tokens_per_s, n_params=report.n_params, n_trainable=report.n_trainable,
               trainable_share=report.n_trainable / max(report.n_params, 1), s_per_step=report.s_per_step,
               peak_rss_bytes=report.peak_rss_bytes)
    if report.peak_gpu_bytes is not None:
        out["peak_gpu_bytes"] = report.peak_gpu_bytes
    if report.mfu is not None:
        out["mfu"] = report.mfu
    if report.grad_accumulation > 1:
        out["grad_accumulation"] = report.grad_accumulation
    return out


def reset_peak_rss() -> bool:
    """Start the process's peak resident memory afresh (Linux: ``/proc/self/clear_refs``), so the peak read
    after training is training's own -- weights, gradients, optimizer state, activations -- not that of
    reading the data or loading the libraries before it. False where it cannot (not Linux, not allowed):
    peak_rss() then reports the whole process's peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss() -> int:
    """Peak resident memory since the last reset_peak_rss (VmHWM), else since the process started."""
    status = Path("/proc/self/status")
    lines = status.read_text().splitlines() if status.is_file() else []
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB; macOS: bytes (close enough)


def add_throughput(report: TrainReport, model: torch.nn.Module, n_tokens: int, train_s: float, device: str) -> None:
    """Tokens/s and seconds per step over the training steps, what trains, peak resident memory, and on
    a GPU of known peak, MFU (engine.training.throughput)."""
    report.n_params = sum(p.numel() for p in model.parameters())
    report.n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    report.tokens_per_s = n_tokens / max(train_s, 1e-9)
    report.s_per_step = train_s / max(report.steps, 1)
    report.peak_rss_bytes = peak_rss()
    if device.startswith("cuda"):
        report.gpu_name = torch.cuda.get_device_name(torch.device(device))
        peak = peak_flops(report.gpu_name, report.precision)
        report.mfu = model_flops_utilisation(report.n_params, report.tokens_per_s, peak)
