"""What the run ran on and how long each stage took: facts for the report's last section."""
from __future__ import annotations

import os
import platform
import sys

from facessl.report.sections import Section, Table


LABELS = {"cpu": "CPU", "cpu_cores": "CPU cores", "cpu_cores_usable": "CPU cores usable by the run",
          "memory_gib": "memory (GiB)", "platform": "platform", "python": "Python", "peak_rss_mib": "peak RSS (MiB)",
          "numpy": "NumPy", "torch": "PyTorch", "torch_threads": "torch threads", "device": "device",
          "cpu_bf16": "bf16 on the CPU"}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_mib() -> float | None:
    """Peak resident memory of this process (and waited-for children), MiB."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 1024  # bytes on macOS, KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) * scale, 1)


def hardware_info() -> dict:
    """CPU model, cores, memory, Python / torch / numpy versions, accelerator, peak RSS."""
    info = {
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "peak_rss_mib": peak_rss_mib(),
    }
    try:
        import numpy

        info["numpy"] = numpy.__version__
    except ImportError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["device"] = f"cuda: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            info["device"] = "mps"
        else:
            info["device"] = "cpu"
        from facessl.engine.runtime import resolve_precision
        # native bf16 (AVX-512 BF16, AMX) makes CPU pretraining faster and is what train.precision=auto then uses:
        # the fact that explains most of the timing differences between two CPUs
        native = resolve_precision("auto", torch.device("cpu")) == "bf16"
        info["cpu_bf16"] = "native (auto pretrains in bf16)" if native else "not native (auto pretrains in fp32)"
    except ImportError:
        info["torch"] = "not installed"
    return info


def flatten_timings(timings: dict, prefix: str = "") -> dict[str, float]:
    """{'pretrain': {'pcl': 12.3}, 'eval': 4.5} -> {'pretrain/pcl': 12.3, 'eval': 4.5} (seconds)."""
    flat = {}
    for key, value in timings.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten_timings(value, name))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)} min {sec:02.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes):02d} min"


def hardware_section(hardware: dict, timings: dict | None = None, title: str = "Hardware and timings") -> Section:
    """A report section: a key/value table of `hardware` and a stage/duration table of `timings` (seconds)."""
    tables = [Table(["item", "value"], [[LABELS.get(k, k), "—" if v is None else v] for k, v in hardware.items()],
                    caption="Machine the run used.", align=["left", "left"])]
    flat = flatten_timings(timings or {})
    if flat:
        rows = [[name, _duration(sec), f"{sec:.1f}"] for name, sec in flat.items()]
        tables.append(Table(["stage", "wall time", "seconds"], rows, caption="Wall-clock time per stage."))
    return Section(title, "", tables)
