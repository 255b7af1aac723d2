"""Closed-loop load generation and the ratio table every benchmark prints.

Each simulated client opens its own connection (or MCP session) and calls in a
loop until the time is up; latencies of every call are kept, so p50/p99 are
exact, not estimated. The baseline runs in the same process tree, with the same
client code, right before or after the subject: the ratio is what matters, not
the absolute figure on this machine.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

Call = Callable[[], Awaitable[object]]
ClientFactory = Callable[[], AbstractAsyncContextManager[Call]]


@dataclass
class Result:
    subject: str
    concurrency: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def calls(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]

    @property
    def p50_ms(self) -> float:
        return self.percentile(0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(0.99) * 1000


async def run_load(
    subject: str,
    client_factory: ClientFactory,
    *,
    concurrency: int,
    duration: float = 5.0,
    warmup: float = 1.0,
) -> Result:
    """Run `concurrency` clients against one subject; calls completed inside the window count.

    Every client connects first; the clock starts once all are connected, so
    connection set-up is not part of the throughput figure.
    """
    result = Result(subject=subject, concurrency=concurrency, seconds=duration)
    connected = 0
    all_connected = asyncio.Event()
    go = asyncio.Event()
    window = [0.0, 0.0]  # start, stop

    async def one_client() -> None:
        nonlocal connected
        async with client_factory() as call:
            connected += 1
            if connected == concurrency:
                all_connected.set()
            await go.wait()
            while (started := time.perf_counter()) < window[1]:
                try:
                    await call()
                except Exception:
                    result.errors += 1
                    continue
                finished = time.perf_counter()
                if window[0] <= finished <= window[1]:  # completions inside the window count
                    result.latencies.append(finished - started)

    tasks: list[asyncio.Future[object]] = [
        asyncio.ensure_future(one_client()) for _ in range(concurrency)
    ]
    waiter: asyncio.Future[object] = asyncio.ensure_future(all_connected.wait())
    pending = [waiter, *tasks]
    done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:  # a client failed to connect: surface its error
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()
        raise RuntimeError(f"{subject}: a client ended before the run started")
    window[0] = time.perf_counter() + warmup
    window[1] = window[0] + duration
    go.set()
    await asyncio.gather(*tasks)
    return result


def merged(rounds: Sequence[Result]) -> Result:
    """Alternating rounds of one subject as one result: the machine is shared, load drifts."""
    return Result(
        subject=rounds[0].subject,
        concurrency=rounds[0].concurrency,
        seconds=sum(r.seconds for r in rounds),
        latencies=[latency for r in rounds for latency in r.latencies],
        errors=sum(r.errors for r in rounds),
    )


async def in_rounds(
    factories: Mapping[str, ClientFactory], *, concurrency: int, rounds: int, seconds: float
) -> list[Result]:
    """Subjects take turns, `rounds` times, `seconds` each, so drift on a shared machine
    falls on all of them; each subject's rounds merged into one result."""
    runs: dict[str, list[Result]] = {subject: [] for subject in factories}
    for _ in range(rounds):
        for subject, factory in factories.items():
            runs[subject].append(
                await run_load(subject, factory, concurrency=concurrency, duration=seconds)
            )
    return [merged(results) for results in runs.values()]


def print_table(title: str, baseline: str, results: Sequence[Result]) -> None:
    """One row per (subject, concurrency); ratio = throughput / baseline's at that concurrency."""
    base = {r.concurrency: r for r in results if r.subject == baseline}
    print(f"\n{title}")
    header = (
        f"{'subject':<40}{'conc':>5}{'calls/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'ratio':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ref = base.get(r.concurrency)
        ratio = r.per_second / ref.per_second if ref and ref.per_second else float("nan")
        print(
            f"{r.subject:<40}{r.concurrency:>5}{r.per_second:>11.1f}{r.p50_ms:>9.2f}"
            f"{r.p99_ms:>9.2f}{r.errors:>8}{ratio:>7.2f}x"
        )
    print(f"(ratio: calls/s against {baseline!r} at the same concurrency, same run)")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
