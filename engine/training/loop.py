"""The optimisation loop shared by every method: AdamW, linear warm-up/decay, early stopping.

The loop is task-agnostic: it gets a model, a DataLoader and an ``evaluate``
callback returning the dev score to maximise, and keeps the best weights (in
memory, on the CPU) so the caller evaluates and saves the selected checkpoint.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from transformers import get_linear_schedule_with_warmup

from engine.data.labels import IGNORE_INDEX
from engine.settings import grad_accumulation, simulated_oom_above
from engine.spec import TrainParams
from engine.store.telemetry import MetricWriter
from engine.training import cpu_threads
from engine.training.throughput import model_flops_utilisation, peak_flops

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
LOG_EVERY = 10  # steps between reads of the loss from the device (nanoGPT's log_interval)


class PendingPoints:
    """The last steps' losses, kept on the device until they are read in one transfer.

    Reading a CUDA loss with ``float()`` every step makes the host wait for the GPU
    each step; here the losses of up to ``LOG_EVERY`` steps are stacked and read at
    once (every ``LOG_EVERY`` steps and at the end of each epoch), checked for
    NaN/inf, and every step's point is still written with the step it belongs to.
    ``examples_per_s`` is written every ``LOG_EVERY`` steps and at the last step,
    over the examples since the previous one (or since the epoch began).
    ``loss_name``, ``rate`` and ``check``: what the language-adapter MLM loop logs
    (``mlm_loss``, no rate, no NaN stop: it skips batches that could give one).
    """

    def __init__(self, writer: MetricWriter | None, total_steps: int, *, loss_name: str = "train_loss",
                 rate: bool = True, check: bool = True):
        self.writer, self.total_steps = writer, total_steps
        self.loss_name, self.rate, self.check = loss_name, rate, check
        self.steps: list[tuple[int, float]] = []  # (step, lr after it)
        self.losses: list[torch.Tensor] = []
        self.parts: list[torch.Tensor] = []  # (ce, align) per step with the regulariser
        self.last_loss = float("nan")
        self.start_window()

    def start_window(self) -> None:
        self.window_t, self.window_n = time.perf_counter(), 0

    def add(self, step: int, loss: torch.Tensor, lr: float, size: int,
            parts: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        self.steps.append((step, lr))
        self.losses.append(loss.detach())
        if parts is not None:
            self.parts.append(torch.stack([p.detach().float() for p in parts]))
        self.window_n += size

    def due(self, step: int) -> bool:
        return step % LOG_EVERY == 0 or step == self.total_steps

    def flush(self, epoch: int = 0, precision: str = "") -> None:
        """Read the pending losses (one device sync), stop on a non-finite one, write the points;
        ``epoch`` and ``precision`` only go into that error's message."""
        if not self.steps:
            return
        losses = torch.stack([x.float() for x in self.losses]).tolist()
        parts = torch.stack(self.parts).tolist() if self.parts else None
        for (step, lr), loss in zip(self.steps, losses):
            if self.check and not math.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at step {step} of epoch {epoch} "
                                         f"(lr {lr:.2g}, precision {precision}): lower the "
                                         "learning rate or use fp32/bf16")
        last_step = self.steps[-1][0]
        rate = None
        if self.rate and self.due(last_step):
            rate = self.window_n / max(time.perf_counter() - self.window_t, 1e-9)
            self.start_window()
        if self.writer:
            for i, ((step, lr), loss) in enumerate(zip(self.steps, losses)):
                values = {self.loss_name: loss, "lr": lr}
                if parts is not None:
                    values.update(train_ce=parts[i][0], train_align=parts[i][1])
                if rate is not None and step == last_step:
                    values["examples_per_s"] = rate
                self.writer.log(step, **values)
        self.last_loss = losses[-1]
        self.steps, self.losses, self.parts = [], [], []


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
) -> tuple[TrainReport, dict[str, torch.Tensor]]:
    """Train with early stopping on ``evaluate()``; returns the report and the best state dict.

    Without ``evaluate`` (few-shot: no target dev set) every epoch runs and the last weights are kept.
    ``regulariser(model, batch, outputs)`` adds ``weight`` times its value to the loss (the
    alignment term); both parts are logged as ``train_ce`` and ``train_align``.
    """
    model.to(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    optimizer = make_optimizer(model, params)
    total_steps = params.epochs * len(loader)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(params.warmup_ratio * total_steps), total_steps)
    precision = resolve_precision(device, params.precision)
    dtype = AUTOCAST[precision]
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    accumulation, oom_above = grad_accumulation(), simulated_oom_above()
    log(f"precision {precision} on {device}" + (f"; each batch of {params.batch_size} in {accumulation} "
                                                f"micro-batches (gradients accumulated)" if accumulation > 1 else ""))
    if writer:
        writer.log(0, total_steps=total_steps)
    best, best_epoch, best_state, bad_epochs, step, n_examples = float("-inf"), 0, None, 0, 0, 0
    n_tokens, train_s = 0, 0.0
    started = time.perf_counter()
    epoch = 0
    pending = PendingPoints(writer, total_steps)
    for epoch in range(1, params.epochs + 1):
        model.train()
        pending.start_window()
        epoch_started = time.perf_counter()
        for batch in loader:
            mask = batch.get("attention_mask")  # on the host, before the copy: no device sync
            n_tokens += int(mask.sum()) if mask is not None else batch["input_ids"].numel()
            loss = ce = extra = None
            for micro, share in micro_batches(batch, accumulation):
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
                scaler.scale(part_loss if share == 1.0 else part_loss * share).backward()
                loss = _add(loss, part_loss.detach(), share)
                ce = _add(ce, part_ce.detach(), share)
                if regulariser is not None:
                    extra = _add(extra, part_extra.detach(), share)
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), params.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            cpu_threads.follow(step)  # a CPU run's share of its worker's cores, if it changed
            size = int(batch["input_ids"].shape[0])
            n_examples += size
            pending.add(step, loss, scheduler.get_last_lr()[0], size, (ce, extra) if regulariser is not None else None)
            if pending.due(step):
                pending.flush(epoch, precision)
        pending.flush(epoch, precision)  # the epoch's last steps, before it is evaluated (a device sync)
        train_s += time.perf_counter() - epoch_started
        last_loss = pending.last_loss
        if evaluate is None:  # nothing to select on: every epoch runs, the last weights are kept
            log(f"epoch {epoch}: step {step}/{total_steps} loss {last_loss:.4f}")
            continue
        score = evaluate()
        if writer:
            writer.log(step, dev_score=score, epoch=epoch)
        log(f"epoch {epoch}: step {step}/{total_steps} loss {last_loss:.4f} dev {score:.4f}")
        if score > best:
            best, best_epoch, bad_epochs = score, epoch, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
            if bad_epochs >= params.patience:
                log(f"early stop: no dev improvement for {bad_epochs} epochs")
                break
    if evaluate is None:
        best, best_epoch = float("nan"), epoch
        best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    seconds = time.perf_counter() - started
    peak = int(torch.cuda.max_memory_allocated()) if device.startswith("cuda") else None
    report = TrainReport(best, best_epoch, epoch, step, seconds, n_examples / max(seconds, 1e-9),
                         stopped_early=epoch < params.epochs, precision=precision, peak_gpu_bytes=peak)
    add_throughput(report, model, n_tokens, train_s, device)
    report.grad_accumulation = accumulation
    return report, best_state or {}


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
    """A run's speed as stored with its results (the ``train`` split): time, examples/s, tokens/s,
    parameters, and on a GPU its peak memory and MFU."""
    out = dict(steps=report.steps, train_seconds=report.seconds, examples_per_s=report.examples_per_s,
               tokens_per_s=report.tokens_per_s, n_params=report.n_params)
    if report.peak_gpu_bytes is not None:
        out["peak_gpu_bytes"] = report.peak_gpu_bytes
    if report.mfu is not None:
        out["mfu"] = report.mfu
    if report.grad_accumulation > 1:
        out["grad_accumulation"] = report.grad_accumulation
    return out


def add_throughput(report: TrainReport, model: torch.nn.Module, n_tokens: int, train_s: float, device: str) -> None:
    """Tokens/s over the training steps and, on a GPU of known peak, MFU (engine.training.throughput)."""
    report.n_params = sum(p.numel() for p in model.parameters())
    report.tokens_per_s = n_tokens / max(train_s, 1e-9)
    if device.startswith("cuda"):
        report.gpu_name = torch.cuda.get_device_name(torch.device(device))
        peak = peak_flops(report.gpu_name, report.precision)
        report.mfu = model_flops_utilisation(report.n_params, report.tokens_per_s, peak)
