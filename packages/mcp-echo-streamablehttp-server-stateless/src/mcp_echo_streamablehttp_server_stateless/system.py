"""Process and host figures from psutil, for requestTiming and healthProbe."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class ProcessFigures:
    pid: int
    rss_mb: float
    cpu_percent: float
    threads: int
    open_files: int
    connections: int


def process_figures(proc: psutil.Process) -> ProcessFigures:
    with proc.oneshot():
        rss = proc.memory_info().rss
        cpu = proc.cpu_percent(interval=None)
        threads = proc.num_threads()
        try:
            files = proc.num_fds()
        except (AttributeError, psutil.Error):  # num_fds is POSIX-only
            files = len(proc.open_files())
    try:
        conns = len(proc.net_connections(kind="inet"))
    except psutil.Error:
        conns = -1
    return ProcessFigures(
        pid=proc.pid,
        rss_mb=rss / 1_048_576,
        cpu_percent=cpu,
        threads=threads,
        open_files=files,
        connections=conns,
    )


@dataclass(frozen=True)
class HostFigures:
    cpu_percent: float
    cpu_count: int
    load_average: tuple[float, float, float]
    memory_total_mb: float
    memory_available_mb: float
    memory_percent: float
    disk_path: str
    disk_total_gb: float
    disk_free_gb: float
    disk_percent: float
    boot_seconds_ago: float


def host_figures(disk_path: str = "/") -> HostFigures:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(disk_path)
    return HostFigures(
        cpu_percent=psutil.cpu_percent(interval=None),
        cpu_count=psutil.cpu_count() or 1,
        load_average=os.getloadavg(),
        memory_total_mb=memory.total / 1_048_576,
        memory_available_mb=memory.available / 1_048_576,
        memory_percent=memory.percent,
        disk_path=disk_path,
        disk_total_gb=disk.total / 1_073_741_824,
        disk_free_gb=disk.free / 1_073_741_824,
        disk_percent=disk.percent,
        boot_seconds_ago=time.time() - psutil.boot_time(),
    )


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    if days or hours or minutes:
        parts.append(f"{minutes}m")
    parts.append(f"{secs}s")
    return " ".join(parts)
