"""The training loop: any Method, one process or many (torchrun), exact resume, NaN guard.

Per iteration, for each phase in method.phases: out = model(batch, phase); backward(out['loss']);
clip; optimiser step; zero_grad. One optimiser over all parameters; the lr scheduler steps once
per iteration. Batches reach the method on the device with images still uint8 (the method
converts them to float [0,1]). After the phases, every loss term is averaged over ranks in one
all-reduce; the NaN guard and method.on_step_end(step, logs) see those global values, so all
ranks agree (e.g. on DWA weights) and stop together on a non-finite loss.

train.batch_size is the GLOBAL batch: under torchrun each of K processes takes batch_size / K
samples of the same global batch one process would take (see facessl.data.frames.StreamSampler).
Model initialisation uses `seed` on every rank (DDP broadcasts rank 0's weights anyway);
augmentation then uses `seed + rank`. Only rank 0 writes logs, checkpoints and images.

Resume: constructing a Trainer on a run directory holding checkpoints restores the newest one:
weights, optimiser, scheduler, GradScaler, every rank's Python/NumPy/torch RNG states, the data
position (= the step) and method.extra_state(); training on gives the weights an uninterrupted
run would have (bit-identical on CPU).

The run folder (rank 0): config.yaml, metrics.jsonl, checkpoints/, images/, train.log (what the run says on the
console, appended across resumes; engine.runlog.RunConsole) and curves.png (metrics.jsonl drawn: at checkpoint
saves, at most about 1 % of the training time, and at the end; a drawing error is a warning). `.facessl.lock`
is there while a trainer holds the folder; a run that ends normally removes it.
"""
from __future__ import annotations

import copy
import functools

import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import torch

from facessl.engine import checkpoint as ckpt
from facessl.engine import distributed as dist
from facessl.config import Config, diff_configs, dump_config, load_config, save_config
from facessl.errors import FacesslError, Terminated
from facessl.engine.optim import build_optimizer, build_scheduler
from facessl.engine.runlog import MetricsLog, RunConsole, progress_bar, save_image_grid
from facessl.engine.runtime import resolve_precision, seed_everything, select_device, worker_init


class Trainer:
    def __init__(self, cfg: Config, run_dir, quiet: bool = False):
        from facessl.data.frames import StreamSampler, build_dataset
        from facessl.methods import build_method

        self.cfg, self.run_dir, self.quiet = cfg, Path(run_dir), quiet
        self._owns_group = dist.init_from_env()
        self.rank, self.world, self.main = dist.rank(), dist.world_size(), dist.is_main()
        self.console = RunConsole(quiet, enabled=self.main)  # the console, and train.log once the folder is locked
        self._curves = {"drawn_step": None, "at": time.time(), "cost": 0.0, "warned": False}
        if cfg.train.batch_size % self.world:
            raise FacesslError(f"train.batch_size {cfg.train.batch_size} must be divisible by the {self.world} processes")
        self.local_batch = cfg.train.batch_size // self.world
        if self.local_batch < 2:  # contrastive losses need negatives, batch norm two values a channel
            raise FacesslError(f"train.batch_size {cfg.train.batch_size}: at least 2 images per process are needed "
                               f"(got {self.local_batch} on each of {self.world}); contrastive losses compare the "
                               "images of a batch and batch norm needs two of them")
        self.device = select_device(cfg.train.device)

        seed_everything(cfg.seed)  # the same initial weights on every rank
        self.method = build_method(cfg).to(self.device)
        if cfg.train.channels_last:
            self.method = self.method.to(memory_format=torch.channels_last)
        self.model = self.method
        if dist.is_distributed():
            if cfg.train.sync_bn:
                from facessl.engine.sync_bn import convert_sync_batchnorm

                self.method = self.model = convert_sync_batchnorm(self.method, self.device.type)
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.method, device_ids=ids,
                                                 find_unused_parameters=cfg.train.find_unused_parameters)
        if cfg.train.compile:
            self.model = torch.compile(self.model)

        self.optimizer = build_optimizer(self.method.parameters(), cfg.optim)
        # training seconds: before this session (from the checkpoint), this session's clock start, and the
        # count every process agrees on (the mean over processes, from the step's all-reduce), which the lr
        # schedule of a time budget reads so that every process steps with the same lr
        self.step, self.elapsed_before, self._t0, self._agreed_seconds = 0, 0.0, None, 0.0
        budget = cfg.train.minutes * 60.0
        self.scheduler = build_scheduler(self.optimizer, cfg.optim, cfg.train.steps,
                                         (lambda: self._agreed_seconds / budget) if budget else None)
        self.precision = resolve_precision(cfg.train.precision, self.device)
        self.autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        if self.main:
            self._say_start()

        self.dataset = build_dataset(cfg.data, self.method.data_kind)
        if self.main and hasattr(self.dataset, "summary"):
            self.console.say(self.dataset.summary())  # what was found and what was skipped, before any step
            if not quiet:
                self._say_if_not_face_crops()
        if cfg.data.in_memory:  # decoded once; batches are then indexing, no loader workers needed
            if hasattr(self.dataset, "loader"):
                raise FacesslError("data.in_memory=true decodes a frame tree once; tar shards stream instead "
                                   "(set data.in_memory=false)")
            from facessl.data.frame_cache import cached

            self.dataset = cached(self.dataset, store=cfg.data.frames_cache)
        self._sampler_args = (self.dataset, cfg.seed, cfg.train.batch_size, self.rank, self.world)
        self.epoch_length = StreamSampler(*self._sampler_args).epoch_length
        if self.main and self.epoch_length < cfg.train.batch_size:  # a batch holds items twice
            hint = getattr(self.dataset, "small_epoch_hint", "")
            twice = ("each copy a negative of the other" if getattr(self.method, "in_batch_negatives", True) else
                     "so they count twice in the batch's loss (this method has no negatives)")
            self.console.say(f"note: an epoch is {self.epoch_length} items, fewer than the batch of "
                             f"{cfg.train.batch_size}: every batch holds some items twice, {twice}"
                             f"{'; ' + hint if hint else ''}")
        self.knn = self._build_knn()

        seed_everything(cfg.seed + self.rank)  # augmentation differs per rank
        try:
            self.resumed_from = self._resume()
        except FacesslError as exc:  # e.g. resumed with other networks: the CLI says it, train.log keeps it too
            self.console.record(_ended_by(exc))  # (not written when the lock was refused: another run's log)
            raise
        if self.main:
            self._write_config()
            self.log = MetricsLog(self.run_dir, cfg.log.tensorboard, self.step if self.resumed_from else None)

    # ---- what the run says, what it draws -----------------------------------------------------------
    def _say_start(self) -> None:
        """The first lines of a session: what trains where, from which step, with which settings."""
        import os
        import socket

        from facessl import __version__

        c = self.cfg
        until = f"to step {c.train.steps}" + (f" or {c.train.minutes:g} minutes of training" if c.train.minutes else "")
        self.console.say(f"facessl {__version__} pretrain {c.method.name} into {self.run_dir}, {until} "
                         f"(pid {os.getpid()} on {socket.gethostname()})")
        procs = f"{self.world} processes, {self.local_batch} each" if self.world > 1 else "1 process"
        warm = f", warm-up {c.optim.warmup_steps}" if c.optim.warmup_steps else ""
        self.console.say(f"settings: backbone {c.backbone.name} (width {c.backbone.width:g}), {c.data.size} px; batch "
                         f"{c.train.batch_size} ({procs}); {c.optim.name} lr {c.optim.lr:g}, weight decay "
                         f"{c.optim.weight_decay:g}, {c.optim.schedule}{warm}; {self.device.type} {self.precision}; "
                         f"checkpoint every {c.train.checkpoint_every}, log every {c.train.log_every}; seed {c.seed}; "
                         f"data {c.data.path}")

    PROGRESS_SECONDS = 30.0  # at most one progress line this often (the first and last logged steps always)

    def _say_progress(self, record: dict, stop: int, said: dict, shown: bool) -> None:
        """A progress line at a logged step: in train.log always, on the console when no progress bar shows."""
        now = time.time()
        first = said["at"] == 0.0  # this session's first
        if not (first or self.step >= stop or now - said["at"] >= self.PROGRESS_SECONDS):
            return
        done = self.step / max(1, self.cfg.train.steps)
        rate = record.get("samples_per_s", 0.0)
        left = (stop - self.step) * self.cfg.train.batch_size / rate if rate > 0 else None
        terms = ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k in ("knn_acc", "skipped_files"))
        self.console.say(f"step {self.step}/{self.cfg.train.steps} ({done:.0%}): loss {record['loss']:.4f}, lr "
                         f"{record['lr']:.3g}, {rate:.0f} samples/s, {_clock(record['elapsed'])} of training"
                         + (f", about {_clock(left)} left" if left is not None and self.step < stop else "")
                         + (f"; {terms}" if terms else ""), console=not shown)
        said["at"], said["step"] = now, self.step

    CURVES = "curves.png"
    CURVES_SHARE = 0.01  # drawing at checkpoint saves takes at most about this share of the training time

    def draw_curves(self, budgeted: bool = False) -> None:
        """curves.png from metrics.jsonl (rank 0). budgeted (at a checkpoint save): only when the time since the
        last drawing is at least 1 / CURVES_SHARE times what that drawing cost. Never fails the run: an error
        is one warning (the first), and the run goes on."""
        state = self._curves
        if not self.main or state["drawn_step"] == self.step or not (self.run_dir / "metrics.jsonl").is_file():
            return
        if budgeted and time.time() - state["at"] < state["cost"] / self.CURVES_SHARE:
            return
        t0 = time.time()
        try:
            from facessl.viz.curves import run_curves

            run_curves(self.run_dir, self.run_dir / self.CURVES, self.cfg.method.name)
        except Exception as exc:  # noqa: BLE001 - a figure must never stop a training run
            if not state["warned"]:
                self.console.say(f"warning: {self.run_dir / self.CURVES} not drawn ({type(exc).__name__}: "
                                 f"{str(exc).strip()[:200]}); training goes on", err=True)
            state["warned"] = True
        state["drawn_step"], state["at"], state["cost"] = self.step, time.time(), time.time() - t0

    # ---- setup helpers -----------------------------------------------------------------------------
    def _say_if_not_face_crops(self) -> None:
        """Photos of whole scenes pretrain an encoder of rooms (facessl prepare cuts out the faces): say so, once."""
        files, root = getattr(self.dataset, "files", None), getattr(self.dataset, "root", None)
        if files is None or root is None:  # shards: written by prepare, face crops
            return
        from facessl.data.crop_check import scene_finding

        finding = scene_finding([str(root / f) for f in files[:100_000]], self.cfg.seed)
        if finding:
            self.console.say(f"warning: {finding}: the encoder would learn whole pictures; "
                             f"facessl prepare --images {root} --out DIR cuts out and aligns the faces", err=True)

    def _build_knn(self):
        k = self.cfg.train.knn
        if k.every <= 0 or not self.main:
            return None
        path = k.path or (self.cfg.data.path if k.label else None)  # a label alone: the pretraining tree's sidecar
        if not path:
            raise FacesslError("train.knn.every > 0 needs train.knn.path (a labelled folder root/<class>/*.jpg) "
                               "or train.knn.label (a class key of the data's _truth.jsonl)")
        from facessl.engine.monitor import KnnMonitor

        return KnnMonitor.from_folder(path, self.cfg.data.size, k.k, k.train_fraction, k.max_images, self.cfg.seed,
                                      k.label)

    def _write_config(self):
        path = self.run_dir / "config.yaml"
        if self.resumed_from and self.step >= self.cfg.train.steps:  # nothing to train: the run's record stands
            self.console.say(f"note: {self.run_dir} is already trained to step {self.step} (train.steps "
                             f"{self.cfg.train.steps}): nothing to do; raise train.steps to train on")
            return
        if self.resumed_from and path.is_file():
            changed = diff_configs(load_config(path), self.cfg)
            if changed:
                self.console.say(f"note: resuming with changed settings: {', '.join(changed)}"
                                 + ("; the learning-rate schedule now ends at step "
                                    f"{self.cfg.train.steps}, so the rate moves to where that schedule is at step "
                                    f"{self.step}" if "train.steps" in changed else ""))
        save_config(self.cfg, path)

    def _resume(self):
        """Restore the newest readable checkpoint; an unreadable one is set aside and the one before it tried."""
        from facessl.engine.io import remove_stale_temporaries

        if self.main:  # hidden temporaries of writes a kill interrupted (checkpoints, config, outputs)
            hold_run_lock(self.run_dir)  # ... not those of another trainer writing here now
            self.console.attach(self.run_dir)  # train.log: this trainer's, now that no other writes here
            remove_stale_temporaries(self.run_dir / "checkpoints", old_versions=True)
            remove_stale_temporaries(self.run_dir)
        dist.barrier()
        self._check_same_model()
        unreadable = []
        for candidate in reversed(ckpt.list_checkpoints(self.run_dir)):
            try:
                state, optim = ckpt.read_state(candidate)
                ckpt.load_weights(self.method, candidate / "model.safetensors")
            except ckpt.CheckpointError as exc:
                unreadable.append(str(exc))
                if self.main:
                    moved = ckpt.set_aside(candidate)
                    self.console.say(f"note: checkpoint {candidate.name} is unreadable: {exc}; set aside as "
                                     f"{moved.name}, trying the one before", err=True, loud=True)
                continue
            self._restore(candidate, state, optim)
            return candidate
        if unreadable:
            raise FacesslError(f"{self.run_dir}: no readable checkpoint left to resume from (newest: {unreadable[0]}); "
                               "start a new run with another --out")
        return None

    def _check_same_model(self):
        """A run resumes with the networks it was trained with: a changed method or backbone is said by name
        (loading the weights would only report missing keys and shapes)."""
        path = self.run_dir / "config.yaml"
        if not path.is_file() or not ckpt.list_checkpoints(self.run_dir):
            return
        try:
            before = load_config(path)
        except FacesslError:
            return  # an older or hand-edited config: the weights' own check speaks
        changed = diff_configs(before, self.cfg)
        structural = [k for k in changed if k == "method.name" or k.startswith("backbone.")]
        if not structural:  # data.size or a method key that sizes a layer (e.g. a projector fed by the feature map)
            structural = self._shape_changing_keys(before, changed)
        if structural:
            flat = lambda cfg, key: functools.reduce(getattr, key.split("."), cfg)
            said = ", ".join(f"{k} was {flat(before, k)!r}, now {flat(self.cfg, k)!r}" for k in structural)
            same = " ".join(f"{k}={flat(before, k)}" for k in structural)
            raise FacesslError(f"{self.run_dir}: trained with other networks ({said}); a run resumes with the networks "
                               f"it was trained with: rerun with {same}, or start a new run with another --out")

    def _shape_changing_keys(self, before: Config, changed: list[str]) -> list[str]:
        """The changed keys the method's constructor reads (data.size, method.*) that change a weight's shape, found
        only when the newest checkpoint's weights do not fit this run's model (building a model costs ~0.1 s)."""
        candidates = [k for k in changed if k == "data.size" or k.startswith("method.")]
        saved = ckpt.weight_shapes(ckpt.list_checkpoints(self.run_dir)[-1] / "model.safetensors")
        if not candidates or not saved or saved == {k: tuple(v.shape) for k, v in self.method.state_dict().items()}:
            return []
        from facessl.methods import build_method

        def shapes(cfg):
            return {k: tuple(v.shape) for k, v in build_method(cfg).state_dict().items()}

        def with_value(key):  # the saved config with only `key` set to this run's value
            cfg = copy.deepcopy(before)
            *path, last = key.split(".")
            setattr(functools.reduce(getattr, path, cfg), last, functools.reduce(getattr, key.split("."), self.cfg))
            return cfg

        try:
            old = shapes(before)
            if old != saved:  # the saved config does not describe these weights: the weights' own check speaks
                return []
            return [k for k in candidates if shapes(with_value(k)) != old] or candidates
        except Exception:  # noqa: BLE001 - a saved config this version cannot build: the weights' own check speaks
            return []

    def _restore(self, latest, state, optim):
        # first: a schedule over time (train.minutes) reads it
        self.elapsed_before = self._agreed_seconds = float(state.get("elapsed", 0.0))
        try:
            self.optimizer.load_state_dict(optim["optimizer"])
            self.scheduler.load_state_dict(optim["scheduler"])
            self._apply_configured_hyperparameters()
            if optim.get("scaler"):
                self.scaler.load_state_dict(optim["scaler"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise FacesslError(f"{latest / 'optimizer.safetensors'}: the optimiser state does not fit this run's "
                               f"optim settings ({exc}); resume with the settings it was trained with") from None
        rngs = state.get("rng", [])
        if len(rngs) == self.world:
            ckpt.restore_rng(rngs[self.rank])
        elif self.main:
            self.console.say(f"note: {latest} was written by {len(rngs)} processes, now {self.world}: RNG streams "
                             "restart", loud=True)
        self.method.load_extra_state(state.get("method", {}))
        self.step = int(state["step"])
        if self.main:
            self.console.say(f"resuming {self.run_dir} from step {self.step} ({latest.name})")

    def _apply_configured_hyperparameters(self):
        """A resumed optimiser keeps its moments and step counts, but lr and weight decay are this run's
        config: the saved param groups carry the old values, which silently overrode a changed optim.lr."""
        o = self.cfg.optim
        self.scheduler.base_lrs = [o.lr for _ in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            group["initial_lr"], group["weight_decay"] = o.lr, o.weight_decay
        self._refresh_lr()

    def _refresh_lr(self) -> None:
        """The next update's lr from the schedule as it stands now (a time budget's clock moved since the
        scheduler stepped)."""
        factor = self.scheduler.lr_lambdas[0](self.scheduler.last_epoch)
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
            group["lr"] = base * factor
        self.scheduler._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _loader(self):
        from facessl.data.frames import StreamSampler

        workers = 0 if self.cfg.data.in_memory else self.cfg.data.workers
        if hasattr(self.dataset, "loader"):  # tar shards stream through their own loader (facessl.data.shards)
            return self.dataset.loader(self.cfg.seed, self.cfg.train.batch_size, self.rank, self.world, self.step,
                                       workers, self.device.type == "cuda")
        sampler = StreamSampler(*self._sampler_args, start_batch=self.step)
        return torch.utils.data.DataLoader(
            self.dataset, batch_size=self.local_batch, sampler=sampler, num_workers=workers,
            pin_memory=self.device.type == "cuda", worker_init_fn=worker_init if workers else None,
            # our own generator: creating the iterator must not draw from the global RNG (exact resume)
            generator=torch.Generator().manual_seed(self.cfg.seed + self.rank),
            persistent_workers=False, prefetch_factor=4 if workers else None)

    def _to_device(self, batch):
        out = {}
        for k, v in batch.items():
            v = v.to(self.device, non_blocking=True)
            if self.cfg.train.channels_last and v.dim() == 4:
                v = v.contiguous(memory_format=torch.channels_last)
            out[k] = v
        return out

    # ---- one iteration ----------------------------------------------------------------------------
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def train_step(self, batch) -> dict[str, torch.Tensor]:
        """All phases of one iteration; returns detached loss terms (per phase when several)."""
        terms, phases = {}, self.method.phases
        self.lr_used = self.optimizer.param_groups[0]["lr"]
        for phase in phases:
            with self._autocast():
                out = self.model(batch, phase)
            loss = out["loss"]
            self.scaler.scale(loss).backward()
            if self.cfg.optim.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.method.parameters(), self.cfg.optim.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            for name, value in out.items():
                key = name if len(phases) == 1 else (f"loss_{phase}" if name == "loss" else name)
                if key in terms:
                    key = f"{name}_{phase}"
                terms[key] = torch.as_tensor(value, device=self.device).detach().float().reshape(())
        if len(phases) > 1:
            terms["loss"] = sum(terms[f"loss_{p}"] for p in phases)
        self.scheduler.step()
        return terms

    def _kept(self) -> str:
        where = ckpt.latest_checkpoint(self.run_dir)
        return f"the last good checkpoint {where} is kept" if where else "no checkpoint was written yet"

    def _check_finite(self, names, values):
        for name, v in zip(names, values):
            if not np.isfinite(v):
                raise FacesslError(f"non-finite loss at step {self.step}: term '{name}' = {v}; training stopped; {self._kept()}")

    def _check_before_save(self, batch) -> None:
        """The NaN guard's second half. A loss is only seen one step after the update that produced its
        weights, so before a checkpoint is written its weights must be finite and give finite features on
        (a few images of) this batch: the checkpoint the guard keeps is always one that `embed` can use."""
        problem = self._weights_problem(batch)
        flag = torch.tensor(float(bool(problem)), device=self.device)
        if dist.is_distributed():  # every rank stops together
            flag = dist.all_reduce_mean(flag)
        if float(flag) > 0:
            raise FacesslError(f"non-finite weights after step {self.step} ({problem or 'on another process'}); "
                               f"training stopped without writing its checkpoint; {self._kept()}")

    def _weights_problem(self, batch) -> str:
        for name, value in self.method.state_dict().items():  # parameters and buffers (BatchNorm statistics)
            if value.is_floating_point() and not torch.isfinite(value).all():
                return f"{name} is not finite"
        images = batch["images"]
        images = (images[:, 0] if images.dim() == 5 else images)[:8]  # track tuples: their first frames
        images = images.float().div(255.0) if images.dtype == torch.uint8 else images.float()
        devices = [self.device] if self.device.type == "cuda" else []
        self.method.eval()
        try:
            with torch.random.fork_rng(devices=devices), torch.no_grad():
                features = self.method.encoder().features(images)
        finally:
            self.method.train()
        bad = [k for k, v in features.items() if not torch.isfinite(v).all()]
        return f"features {', '.join(bad)} are NaN or infinite" if bad else ""

    # ---- the loop ---------------------------------------------------------------------------------
    def training_seconds(self) -> float:
        """Seconds of training so far, earlier sessions of a resumed run included (setup not counted)."""
        return self.elapsed_before + (time.time() - self._t0 if self._t0 is not None else 0.0)

    def train(self, until: int | None = None, save_on_sigterm: bool = False) -> dict:
        """Train to train.steps, or with train.minutes until that much training time is spent (or stop early
        after step `until`, with a checkpoint there, as if interrupted). save_on_sigterm (`facessl pretrain`):
        SIGTERM finishes the step, saves it and raises Terminated; elsewhere (the demo's worker pool, which
        terminates its workers) SIGTERM ends the process as before."""
        cfg = self.cfg.train
        total, t0 = cfg.steps, time.time()
        self._t0 = t0
        budget = cfg.minutes * 60.0
        stop = min(total, until) if until is not None else total
        bar = progress_bar(total, self.step, self.quiet, self.main)
        sums, count, skipped_epoch = {}, 0, 0.0
        bad_epoch, bad_run = set(), set()  # unreadable files, each counted once however many items passed over it
        t_log, step_log = time.time(), self.step
        said = {"at": 0.0, "step": self.step}  # the last progress line
        epoch = self.step * cfg.batch_size // self.epoch_length
        last = {}
        if budget and self.training_seconds() >= budget:  # a resumed run whose budget was already spent
            stop = self.step
        loader_iter = iter(self._loader()) if self.step < stop else None
        terminated = _StopSignals(save_on_sigterm)  # SIGTERM (a preemption, `timeout`), Ctrl-C: finish the step, save, stop
        try:
            while self.step < stop:
                batch = _next_batch(loader_iter)
                skipped_local = float(batch.pop("skipped").sum())
                first = batch.pop("skipped_path", [])
                every = batch.pop("skipped_paths", first)  # a dataset naming only the first skipped file: that one
                bad_epoch.update(p for joined in every for p in joined.split("\n") if p)
                batch = self._to_device(batch)
                terms = self.train_step(batch)
                self.step += 1
                names = list(terms) + ["_skipped", "_seconds", "_terminated"]
                vec = torch.stack(list(terms.values()) + [torch.tensor(skipped_local, device=self.device),
                                                          torch.tensor(self.training_seconds(), device=self.device),
                                                          torch.tensor(float(terminated.raised), device=self.device)])
                values = (dist.all_reduce_mean(vec) if dist.is_distributed() else vec).tolist()  # one sync per step
                reduced = dict(zip(names, values))
                logs = {k: reduced[k] for k in terms}
                self._check_finite(list(logs), list(logs.values()))
                skipped_epoch += reduced["_skipped"] * self.world
                if reduced["_terminated"] > 0:  # any process told to stop: every process stops after this same step
                    stop = self.step
                    terminated.agreed = True
                if budget:  # the agreed clock: the same lr and the same last step on every process
                    self._agreed_seconds = reduced["_seconds"]
                    self._refresh_lr()
                    if self._agreed_seconds >= budget:
                        total = stop = self.step
                # the epoch of the finished iteration rides along (not logged) for per-epoch schedules (DWA)
                self.method.on_step_end(self.step, {**logs, "epoch": (self.step - 1) * cfg.batch_size // self.epoch_length})
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                bar.update(1)

                new_epoch = self.step * cfg.batch_size // self.epoch_length
                if new_epoch != epoch or self.step == total:
                    if skipped_epoch:  # all ranks agree (a reduced count)
                        files = dist.union_of_sets(bad_epoch)
                        bad_run |= files
                        if self.main:
                            self.console.say(f"epoch {epoch}: skipped {len(files)} unreadable image file(s), e.g. "
                                             f"{min(files)}", err=True)
                    bad_epoch, skipped_epoch, epoch = set(), 0.0, new_epoch

                extra = self._periodic(batch)
                if extra or self.step % cfg.log_every == 0 or self.step == total:
                    now = time.time()
                    rate = (self.step - step_log) * cfg.batch_size / max(now - t_log, 1e-9)
                    last = {k: v / count for k, v in sums.items()}
                    if bad_run or bad_epoch:
                        extra["skipped_files"] = len(bad_run | bad_epoch)
                    record = {"step": self.step, "epoch": epoch, **last, **extra,
                              "lr": self.lr_used, "samples_per_s": rate,
                              "elapsed": self.training_seconds()}
                    if self.main:
                        self.log.write(record)
                        bar.set_postfix(loss=f"{last['loss']:.4f}", samples_s=f"{rate:.0f}")
                        self._say_progress(record, stop, said, shown=not bar.disable)
                    sums, count, t_log, step_log = {}, 0, now, self.step
                if self.step % cfg.checkpoint_every == 0 or self.step in (total, stop):
                    self._check_before_save(batch)
                    self.save(self.training_seconds())
                    if self.main and self.step not in (total, stop):  # the last one is drawn below
                        self.draw_curves(budgeted=True)
        except BaseException as exc:  # the CLI (or the caller) says it on the console; train.log keeps it too
            if self.main:
                self.console.record(_ended_by(exc))
            raise
        finally:
            terminated.restore()
            bar.close()
            if self.main:
                self.log.close()
                self.draw_curves()  # the end, whatever it was: what was logged up to it
            del loader_iter
        if terminated.agreed:
            message = (f"stopped by {terminated.how} after step {self.step}, checkpoint saved; rerun the same "
                       "command to resume")
            self.console.record(message)  # the CLI prints it
            raise Terminated(message, exit_code=terminated.exit_code)
        if self.main and last:
            self.console.say(f"trained to step {self.step}: loss {last['loss']:.4f}; checkpoint "
                             f"{ckpt.latest_checkpoint(self.run_dir)}; {_clock(self.training_seconds())} of training")
        elif self.main:
            self.console.record(f"ended at step {self.step}: nothing left to train")
        return {"step": self.step, "loss": last.get("loss"), "skipped_files": len(bad_run),
                "checkpoint": str(ckpt.latest_checkpoint(self.run_dir) or ""), "training_seconds": self.training_seconds(),
                "device": self.device.type, "precision": self.precision}  # what train.precision=auto chose

    def _periodic(self, batch) -> dict:
        """Image grids and the kNN monitor (rank 0, on forked RNG so training randomness is unchanged)."""
        cfg, extra = self.cfg.train, {}
        do_images = cfg.image_every > 0 and self.step % cfg.image_every == 0
        do_knn = self.knn is not None and self.step % cfg.knn.every == 0
        if not self.main or not (do_images or do_knn):
            return extra
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            if do_images:
                for name, images in self.method.images_for_logging(batch).items():
                    columns = getattr(self.method, "logging_column_labels", lambda _: None)(name)
                    grid = save_image_grid(images, self.run_dir / "images" / f"{name}_{self.step:08d}.png",
                                           row_labels=self.method.logging_row_labels(name), col_labels=columns,
                                           min_tile=96 if columns else 0)  # a titled layout: tiles of 96 px
                    self.log.add_images(name, grid, self.step)
            if do_knn:
                self.method.eval()
                try:
                    extra["knn_acc"] = self.knn.evaluate(self.method.encoder(), self.device, cfg.knn.feature)
                finally:
                    self.method.train()
        return extra

    def save(self, elapsed: float) -> None:
        """Checkpoint (rank 0 writes; every rank contributes its RNG state)."""
        rng = ckpt.capture_rng()
        rngs = [rng]
        if dist.is_distributed():
            rngs = [None] * self.world
            torch.distributed.all_gather_object(rngs, rng)
        if self.main:
            state = {"step": self.step, "epoch": self.step * self.cfg.train.batch_size // self.epoch_length,
                     "data": {"samples_seen": self.step * self.cfg.train.batch_size, "epoch_length": self.epoch_length},
                     "rng": rngs, "method": self.method.extra_state(), "elapsed": elapsed}
            optim = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                     "scaler": self.scaler.state_dict()}
            ckpt.save_checkpoint(ckpt.checkpoint_dir(self.run_dir, self.step), self.method.state_dict(), optim,
                                 state, dump_config(self.cfg))
            ckpt.prune_checkpoints(self.run_dir, self.cfg.train.keep_checkpoints)
        dist.barrier()

    def close(self) -> None:
        if self._owns_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


_HELD_LOCKS: dict = {}  # run folder -> its open lock file, held until the run ends normally or this process ends
LOCK_FILE = ckpt.LOCK_FILE


def hold_run_lock(run_dir: Path) -> None:
    """One trainer per run folder: a resubmitted job, or ranks orphaned when torchrun was killed, would otherwise
    train into the same checkpoints and metrics at once. An advisory lock the system drops when the process ends
    (so a killed run never leaves it stale; its file stays behind, unlocked, and the next trainer takes it); a
    file system without locks is not locked. A run that ends normally removes the file (release_run_lock)."""
    import fcntl
    import os
    import socket

    key = str(run_dir.resolve())
    if key in _HELD_LOCKS:  # this process already trains here (a run resumed in the same process)
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    for _ in range(100):
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise FacesslError(f"{run_dir}: {holder} is training into this run now; stop it first, or give another "
                               "--out") from None
        except OSError:  # no locks on this file system (some network mounts)
            handle.close()
            return
        try:  # the file locked is still the folder's: a finishing run removes its file before it unlocks it
            if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()  # locked a removed file: take the new one
    else:
        raise FacesslError(f"{path}: the lock file keeps being replaced; is another trainer starting here?")
    handle.seek(0)
    handle.truncate()
    handle.write(f"facessl pretrain (pid {os.getpid()} on {socket.gethostname()})\n")
    handle.flush()
    _HELD_LOCKS[key] = handle


def release_run_lock(run_dir: Path) -> None:
    """The run ended normally: remove its lock file, then unlock it (in this order: a trainer that opened the
    file before it went sees that it locked a removed file and takes a new one). Not this process's: nothing."""
    import os

    handle = _HELD_LOCKS.pop(str(Path(run_dir).resolve()), None)
    if handle is None:
        return
    try:
        if os.fstat(handle.fileno()).st_ino == os.stat(Path(run_dir) / LOCK_FILE).st_ino:
            os.unlink(Path(run_dir) / LOCK_FILE)
    except OSError:  # gone already, or a read-only folder: the unlocked file is harmless
        pass
    finally:
        handle.close()  # closing drops the lock


def _ended_by(exc: BaseException) -> str:
    """train.log's last line for a session an exception ended."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C twice): no checkpoint of this step"
    text = str(exc).strip().splitlines()
    kind = "error" if isinstance(exc, FacesslError) else f"error ({type(exc).__name__})"
    return f"{kind}: {text[0] if text else type(exc).__name__}"


def _clock(seconds: float) -> str:
    """1:02:03 / 4:05 (h:mm:ss, m:ss)."""
    seconds = int(round(max(0.0, seconds)))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _next_batch(loader_iter):
    """The next batch; a data error raised in a loader worker is the one-line error it is (PyTorch re-raises it as
    a RuntimeError holding the worker's traceback), and a worker that died says what to do."""
    try:
        return next(loader_iter)
    except RuntimeError as exc:
        text = str(exc)
        if "in DataLoader worker process" in text and "facessl.errors." in text:
            raise FacesslError(text.rsplit("facessl.errors.", 1)[1].split(": ", 1)[-1].strip()) from None
        if "DataLoader worker" in text and "killed by signal" in text:
            raise FacesslError(f"{text.strip()} (out of memory? try fewer data.workers); rerun the same command to "
                               "resume from the last checkpoint") from None
        raise


class _StopSignals:
    """While training: SIGTERM and a first Ctrl-C set `raised` instead of ending the process, so the step in flight
    finishes and is saved (a cluster's preemption, `timeout`, torchrun stopping its workers, a user at the
    terminal); a second Ctrl-C stops at once. Data-loader workers ignore both (engine.runtime.worker_init): the
    whole process group gets them, and a dead worker would end the run before the save. Only this process: a
    forked child that inherited the handler gets the default action back. Not in a thread other than the main one
    (signals cannot be caught there): then the signals act as they always did."""

    def __init__(self, enabled: bool):
        import os
        import signal
        import threading

        self.raised = self.agreed = False
        self.how, self.exit_code = "SIGTERM", 143
        self._pid, self._previous = os.getpid(), {}
        if enabled and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame):
        import os
        import signal

        if os.getpid() != self._pid:  # a forked child inherited this handler
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if signum == signal.SIGINT:
            if self.raised:  # the second Ctrl-C: no waiting for the step
                raise KeyboardInterrupt
            print("\nCtrl-C: saving after this step (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)
            self.how, self.exit_code = "Ctrl-C", 130
        self.raised = True

    def restore(self):
        import signal

        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}


def train(cfg: Config, run_dir, quiet: bool = False, until: int | None = None, save_on_sigterm: bool = False) -> dict:
    """Train (or resume) a run; returns a summary (final step, loss, skipped files, checkpoint path)."""
    trainer = Trainer(cfg, run_dir, quiet=quiet)
    try:
        summary = trainer.train(until=until, save_on_sigterm=save_on_sigterm)
    finally:
        trainer.close()
    if trainer.main:  # ended normally (an exception, a SIGTERM or a kill leave the file, unlocked, as before)
        release_run_lock(trainer.run_dir)
    return summary
