"""Signals benchmark: Rightful's bulk check against datadiligence, over a loopback publisher.

One run:

1. start ``python -m rightful.testing.publisher`` in its own process (200 origins, 5 ms latency per response) so
   the server never competes with the client for a GIL;
2. datadiligence 0.1.7, ``datadiligence.is_allowed(url=u)`` (its post-process evaluator: X-Robots-Tag,
   TDM-Reservation header, C2PA) over a sample of the URLs, sequentially as documented, then again from a thread
   pool for a fairer parallel baseline;
3. Rightful, ``rightful.signals.check.check_urls`` over every URL with a cold cache;
4. Rightful again over 10x the URLs, to show that peak memory does not grow with the input.

Each client runs in a fresh subprocess of this script (``--worker``), so its peak RSS is its own. Request counts
come from the publisher's ``/__stats__`` (read and reset between stages). Results: a table on stdout and
``bench/results/signals.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "signals.json"

DD_SIGNALS = ("X-Robots-Tag header (noai, noimageai)", "TDM-Reservation header", "C2PA c2pa.training-mining")
RIGHTFUL_SIGNALS = (
    "robots.txt (RFC 9309; our token + curated AI-training and search tokens)",
    "robots.txt extensions: Content-Usage, Content-Signal, DisallowAITraining, RSL License",
    "TDMRep /.well-known/tdmrep.json (+ tdm-policy ODRL offer)",
    "TDMRep HTTP headers",
    "TDMRep HTML meta",
    "X-Robots-Tag header (noai, noimageai, noindex; scoped)",
    "robots meta in HTML head",
    "IETF aipref Content-Usage header",
    "Cloudflare Content-Signal header",
    "Spawning ai.txt",
    "IPTC XMP plus:DataMining (images, PDF)",
    "C2PA c2pa.training-mining / CAWG cawg.training-mining",
    "Creative Commons / xmpRights licence terms",
)
TARGETS = {"speedup": 50.0, "page_requests_per_url": 1.1, "origin_requests_per_origin": 3.0, "rss_growth": 1.25}


# ------------------------------------------------------------------------------------------ measurement


class Latencies:
    """A log-bucketed latency histogram: constant memory whatever the run length, percentiles within 1 %."""

    _FLOOR = 1e-5
    _STEP = math.log(1.01)
    _BUCKETS = 2000  # 10 µs .. ~4 min

    def __init__(self) -> None:
        self.counts = [0] * self._BUCKETS
        self.n = 0

    def add(self, seconds: float) -> None:
        index = int(math.log(max(seconds, self._FLOOR) / self._FLOOR) / self._STEP)
        self.counts[min(index, self._BUCKETS - 1)] += 1
        self.n += 1

    def percentile(self, q: float) -> float | None:
        if self.n == 0:
            return None
        rank, seen = q / 100 * self.n, 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return self._FLOOR * math.exp((index + 0.5) * self._STEP)
        return None


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM), falling back to getrusage where /proc is absent."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of another process, from /proc; None where /proc is absent."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _origins(path: str) -> list[str]:
    origins: list[str] = json.loads(Path(path).read_text())
    return origins


# ---------------------------------------------------------------------------------------------- workers


def worker_datadiligence(args: argparse.Namespace) -> dict[str, Any]:
    """datadiligence's per-URL path, as its README shows it, over the first ``--limit`` URLs."""
    import logging

    logging.disable(logging.CRITICAL)  # its C2PA rule logs every non-C2PA file at ERROR
    with contextlib.redirect_stdout(sys.stderr):  # it prints a Spawning API key notice on import
        import datadiligence  # type: ignore[import-untyped]
        from datadiligence.rules import SpawningAPI  # type: ignore[import-untyped]

    def never(*_: object, **__: object) -> object:
        raise RuntimeError("the Spawning API rule must not be called in this benchmark")

    SpawningAPI.is_allowed = never  # prove it stays out of the measurement
    SpawningAPI.filter_allowed = never
    from rightful.testing.sites import iter_bench_urls

    urls = list(iter_bench_urls(_origins(args.origins_file), args.urls_per_origin))[: args.limit]
    latencies, outcome = Latencies(), {"allowed": 0, "disallowed": 0, "exception": 0}

    def one(url: str) -> None:
        started = time.perf_counter()
        try:
            key = "allowed" if datadiligence.is_allowed(url=url) else "disallowed"
        except Exception:  # it raises on a non-200 page (its C2PA rule) — counted, not fatal
            key = "exception"
        latencies.add(time.perf_counter() - started)
        outcome[key] += 1

    started, cpu = time.perf_counter(), cpu_seconds()
    if args.threads <= 1:
        for url in urls:
            one(url)
    else:
        with ThreadPoolExecutor(args.threads) as pool:
            list(pool.map(one, urls))
    wall = time.perf_counter() - started
    return _summary(len(urls), wall, latencies, cpu_seconds() - cpu) | {
        "threads": max(args.threads, 1),
        "outcome": outcome,
    }


def worker_rightful(args: argparse.Namespace) -> dict[str, Any]:
    """Rightful's streaming bulk check over every URL, cold cache, in this fresh process."""
    from rightful.config import Settings
    from rightful.signals.check import check_urls
    from rightful.testing.sites import iter_bench_urls

    origins = _origins(args.origins_file)
    tally = Tally(sample=args.compare_first)
    with tempfile.TemporaryDirectory(prefix="rightful-bench-") as home:
        settings = Settings.load(allow_private=True, home=Path(home))

        def source() -> Iterator[str]:
            for position, url in enumerate(iter_bench_urls(origins, args.urls_per_origin)):
                tally.taken[url] = (time.perf_counter(), position)
                yield url

        rss_before = rss_mib()
        started, cpu = time.perf_counter(), cpu_seconds()
        for result in check_urls(source(), settings=settings):
            tally.add(result)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return _summary(tally.counts["results"], wall, tally.latencies, cpu) | {
        "counts": tally.counts,
        "protocols_seen": sorted(tally.protocols),
        "rss_before_mib": rss_before,
        "concurrency": settings.concurrency,
        "per_origin": settings.per_origin,
    }


class Tally:
    """What the Rightful worker keeps per result: constant memory apart from the URLs in flight."""

    def __init__(self, *, sample: int) -> None:
        self.sample = sample
        #: url -> (when the library took it from our iterator, its position in the input)
        self.taken: dict[str, tuple[float, int]] = {}
        self.latencies = Latencies()
        self.protocols: set[str] = set()
        self.counts = dict.fromkeys(("results", "ai_training_reserved", "sample_reserved", "with_errors"), 0)
        self.counts["unmatched"] = 0
        self.counts["sample_size"] = sample

    def add(self, result: Any) -> None:
        now = time.perf_counter()
        taken = self.taken.pop(result.item, None)
        reserved = result.decision("ai-training") == "reserved"
        if taken is None:
            self.counts["unmatched"] += 1
        else:
            self.latencies.add(now - taken[0])
            self.counts["sample_reserved"] += reserved and taken[1] < self.sample
        self.counts["results"] += 1
        self.counts["ai_training_reserved"] += reserved
        self.counts["with_errors"] += bool(result.errors)
        self.protocols.update(s.protocol for s in result.signals)


def _summary(n: int, wall: float, latencies: Latencies, cpu: float) -> dict[str, Any]:
    p50, p99 = latencies.percentile(50), latencies.percentile(99)
    return {
        "urls": n,
        "wall_s": wall,
        "urls_per_s": n / wall if wall > 0 else None,
        "p50_ms": p50 * 1000 if p50 is not None else None,
        "p99_ms": p99 * 1000 if p99 is not None else None,
        "peak_rss_mib": peak_rss_mib(),
        "client_cpu_s": cpu,
    }


WORKERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "datadiligence": worker_datadiligence,
    "rightful": worker_rightful,
}


# ----------------------------------------------------------------------------------------------- driver


class PublisherProcess:
    """The loopback publisher in its own process, and its request counts."""

    def __init__(self, *, origins: int, urls_per_origin: int, latency: float) -> None:
        command = [sys.executable, "-m", "rightful.testing.publisher", "--mix", "bench"]
        command += ["--origins", str(origins), "--urls-per-origin", str(urls_per_origin), "--latency", str(latency)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(10)
            raise SystemExit(f"the publisher did not start (exit {self.proc.returncode})")
        self.origins: list[str] = json.loads(line)["origins"]

    def stats(self, *, reset: bool = True) -> dict[str, Any]:
        url = f"{self.origins[0]}/__stats__" + ("?reset=1" if reset else "")
        with urllib.request.urlopen(url, timeout=30) as response:
            stats: dict[str, Any] = json.loads(response.read())
        return stats

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def run_stage(
    publisher: PublisherProcess, origins_file: Path, worker: str, *, urls_per_origin: int, extra: Sequence[str] = ()
) -> dict[str, Any]:
    """One client in a fresh process; its result plus the publisher's counts for exactly that stage."""
    publisher.stats(reset=True)
    server_cpu = _process_cpu_seconds(publisher.proc.pid)
    command = [sys.executable, __file__, "--worker", worker, "--origins-file", str(origins_file)]
    command += ["--urls-per-origin", str(urls_per_origin), *extra]
    print(f"  running {worker} {' '.join(extra)} ({urls_per_origin} URLs per origin) ...", file=sys.stderr)
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"error": f"worker exited {done.returncode}: " + " | ".join(tail)}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["requests"] = _requests(publisher.stats(reset=True), result["urls"])
    after = _process_cpu_seconds(publisher.proc.pid)
    result["publisher_cpu_s"] = after - server_cpu if after is not None and server_cpu is not None else None
    return result


def _requests(stats: dict[str, Any], n_urls: int) -> dict[str, Any]:
    by_kind = stats.get("by_kind", {})
    origin_docs = sum(by_kind.get(k, 0) for k in ("robots.txt", "tdmrep.json", "ai.txt"))
    origins = stats.get("origins_seen") or 1
    return {
        "total": stats.get("total", 0),
        "per_url": stats.get("total", 0) / n_urls if n_urls else None,
        "page_per_url": by_kind.get("page", 0) / n_urls if n_urls else None,
        "origin_docs_per_origin": origin_docs / origins,
        "origin_docs_max_per_origin": stats.get("origin_docs_max", 0),
        "origin_docs_max_by_kind": {
            k: stats.get("per_origin_max", {}).get(k, 0) for k in ("robots.txt", "tdmrep.json", "ai.txt")
        },
        "page_by_method": stats.get("page_by_method", {}),
        "by_kind": by_kind,
        "repeated_keys": stats.get("repeated", 0),
        "origins_seen": stats.get("origins_seen", 0),
    }


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


def _sample_reserved(result: dict[str, Any]) -> str:
    """How many of the URLs datadiligence was given each tool found reserved (ai-training / disallowed)."""
    if "outcome" in result:
        return _fmt(result["outcome"]["disallowed"], "d")
    if not _get(result, "counts", "sample_size"):
        return "n/a"
    return _fmt(_get(result, "counts", "sample_reserved"), "d")


def _per_k(result: dict[str, Any], key: str) -> float | None:
    value, n = result.get(key), result.get("urls")
    return value / n * 1000 if value is not None and n else None


def _get(result: dict[str, Any], *keys: str) -> Any:
    value: Any = result
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def verdicts(results: dict[str, Any]) -> dict[str, Any]:
    """Each target, the measured value, and whether it holds (None where a stage did not run)."""
    dd, rf, big = results.get("datadiligence", {}), results.get("rightful", {}), results.get("rightful_big", {})
    speed = None
    if dd.get("urls_per_s") and rf.get("urls_per_s"):
        speed = rf["urls_per_s"] / dd["urls_per_s"]
    growth = None
    if big.get("peak_rss_mib") and rf.get("peak_rss_mib"):
        growth = big["peak_rss_mib"] / rf["peak_rss_mib"]
    measured = {
        "speedup": speed,
        "page_requests_per_url": _get(rf, "requests", "page_per_url"),
        "origin_requests_per_origin": _get(rf, "requests", "origin_docs_max_per_origin"),
        "rss_growth": growth,
    }
    out: dict[str, Any] = {}
    for name, value in measured.items():
        target = TARGETS[name]
        ok = None if value is None else (value >= target if name == "speedup" else value <= target)
        out[name] = {"target": target, "measured": value, "ok": ok}
    return out


def print_table(results: dict[str, Any]) -> None:
    columns = [("datadiligence", "datadiligence"), ("datadiligence_threads", "dd (threads)")]
    columns += [("rightful", "Rightful"), ("rightful_big", "Rightful 10x")]
    shown = [(key, title) for key, title in columns if key in results]
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("URLs checked", lambda r: _fmt(r.get("urls"), "d")),
        ("URLs/s", lambda r: _fmt(r.get("urls_per_s"), ",.0f")),
        ("p50 per URL (ms)", lambda r: _fmt(r.get("p50_ms"))),
        ("p99 per URL (ms)", lambda r: _fmt(r.get("p99_ms"))),
        ("requests / URL (all)", lambda r: _fmt(_get(r, "requests", "per_url"), ".2f")),
        ("page requests / URL", lambda r: _fmt(_get(r, "requests", "page_per_url"), ".2f")),
        ("origin docs / origin (mean)", lambda r: _fmt(_get(r, "requests", "origin_docs_per_origin"), ".2f")),
        ("origin docs / origin (max)", lambda r: _fmt(_get(r, "requests", "origin_docs_max_per_origin"), "d")),
        ("same URL fetched twice+", lambda r: _fmt(_get(r, "requests", "repeated_keys"), ",d")),
        ("peak RSS (MiB)", lambda r: _fmt(r.get("peak_rss_mib"), ",.0f")),
        ("client CPU s / 1k URLs", lambda r: _fmt(_per_k(r, "client_cpu_s"), ".2f")),
        ("publisher CPU s / 1k URLs", lambda r: _fmt(_per_k(r, "publisher_cpu_s"), ".2f")),
        ("signals evaluated", lambda r: str(len(r.get("signals", ())))),
        ("reserved in dd's sample", _sample_reserved),
    ]
    width = 28
    print()
    print("".ljust(width) + "".join(title.rjust(16) for _, title in shown))
    for label, cell in rows:
        line = label.ljust(width)
        for key, _ in shown:
            result = results[key]
            line += ("error" if "error" in result else cell(result)).rjust(16)
        print(line)
    for key, title in shown:
        if "error" in results[key]:
            print(f"\n{title}: {results[key]['error']}")
    print()
    for name, v in verdicts(results).items():
        state = {True: "PASS", False: "FAIL", None: "n/a"}[v["ok"]]
        print(f"  {state:4}  {name}: measured {_fmt(v['measured'], '.2f')}, target {v['target']}")
    print()
    print("datadiligence evaluates: " + "; ".join(DD_SIGNALS))
    print("Rightful evaluates:      " + "; ".join(RIGHTFUL_SIGNALS))
    seen = _get(results, "rightful", "protocols_seen")
    if seen:
        print("Rightful protocols seen in this run's evidence: " + ", ".join(seen))


def _environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "httptools": importlib.util.find_spec("httptools") is not None,
        "uvloop": importlib.util.find_spec("uvloop") is not None,
    }


def drive(args: argparse.Namespace) -> dict[str, Any]:
    big_per_origin = args.urls_per_origin * 10
    served = max(args.urls_per_origin, 0 if args.skip_big else big_per_origin)
    print(f"starting the publisher: {args.origins} origins, {args.latency * 1000:g} ms latency", file=sys.stderr)
    publisher = PublisherProcess(origins=args.origins, urls_per_origin=served, latency=args.latency)
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="rightful-bench-") as tmp:
            origins_file = Path(tmp) / "origins.json"
            origins_file.write_text(json.dumps(publisher.origins))

            def stage(worker: str, per_origin: int, *extra: str) -> dict[str, Any]:
                return run_stage(publisher, origins_file, worker, urls_per_origin=per_origin, extra=extra)

            results["datadiligence"] = stage("datadiligence", args.urls_per_origin, "--limit", str(args.dd_sample))
            if args.dd_threads > 1:
                extra = ("--limit", str(args.dd_sample), "--threads", str(args.dd_threads))
                results["datadiligence_threads"] = stage("datadiligence", args.urls_per_origin, *extra)
            results["rightful"] = stage("rightful", args.urls_per_origin, "--compare-first", str(args.dd_sample))
            if not args.skip_big:
                results["rightful_big"] = stage("rightful", big_per_origin)
    finally:
        publisher.close()
    for key in results:
        results[key]["signals"] = DD_SIGNALS if key.startswith("datadiligence") else RIGHTFUL_SIGNALS
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--origins", type=int, default=200)
    parser.add_argument("--urls-per-origin", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.005, help="seconds per response (default 5 ms)")
    parser.add_argument("--dd-sample", type=int, default=1000, help="URLs given to datadiligence (it is slow)")
    parser.add_argument("--dd-threads", type=int, default=16, help="also run datadiligence on N threads (0: no)")
    parser.add_argument("--skip-200k", "--skip-big", dest="skip_big", action="store_true",
                        help="skip the 10x memory-flatness run")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a tiny run, for a smoke test")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--output", type=Path, default=RESULTS)
    # worker mode (internal): one client in a fresh process, one JSON line out
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--origins-file", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--compare-first", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.origins, args.urls_per_origin, args.dd_sample = 10, 20, 30
        args.dd_threads = min(args.dd_threads, 4)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args)))
        return 0
    results = drive(args)
    print_table(results)
    if args.quick:
        print("(--quick: a smoke test; 200 URLs are too few for the throughput ratio to mean anything)")
    targets = verdicts(results)
    report: dict[str, Any] = {
        "settings": {k: v for k, v in vars(args).items() if k not in {"worker", "origins_file", "limit", "threads"}}
        | {"output": str(args.output)},
        "environment": _environment(),
        "results": results,
        "targets": targets,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"results written to {args.output}")
    if any("error" in r for r in results.values()):
        return 1
    missed = [name for name, v in targets.items() if v["ok"] is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
