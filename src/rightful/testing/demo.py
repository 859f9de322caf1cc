"""``make demo``: five small websites on loopback, checked by the real ``rightful check`` command.

Nothing leaves the machine: the sites are served by :class:`~rightful.testing.publisher.Publisher` on
``127.0.0.1`` (hence ``--allow-private``), and the cache lives in a temporary ``RIGHTFUL_HOME``. The CLI runs as
a subprocess, exactly as a user would type it, once for the human table and once with ``--json``; the demo then
compares each ``ai-training`` verdict with the story it tells and exits 1 if one differs, so ``make demo`` is
also an end-to-end smoke test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from rightful.testing.publisher import Publisher
from rightful.testing.sites import DEMO_PAGES, demo_sites

__all__ = ["STORIES", "main"]

#: What each demo site publishes, in one sentence (index = site index in :func:`demo_sites`).
STORIES: tuple[str, ...] = (
    "robots.txt names GPTBot, CCBot, ClaudeBot, Google-Extended… with 'Disallow: /' and lets everyone else in: "
    "search stays open, AI training is reserved (even though our own crawler may fetch the page).",
    "/.well-known/tdmrep.json reserves text-and-data mining for /photos/ (with an ODRL licence offer) and waives "
    "it elsewhere; the photos also carry IPTC plus:DataMining in their XMP.",
    "allows everything: robots.txt and the Content-Usage header say train-ai=y, tdmrep.json says 0; the photo is "
    "CC BY 4.0 — allowed, but with a licence to honour.",
    "no robots.txt at all; the artist opts out in the page itself: <meta name=robots content=noai>, "
    "Content-Usage: train-ai=n, X-Robots-Tag: noai and TDM-Reservation: 1 on the image.",
    "robots.txt answers 503: under RFC 9309 an unreachable robots.txt means complete disallow — never a silent "
    "'allowed'.",
)

#: The ``ai-training`` decision each demo page should get, in :data:`DEMO_PAGES` order.
EXPECTED: tuple[str, ...] = (
    "reserved",
    "reserved",
    "reserved",
    "allowed",
    "allowed",
    "allowed",
    "reserved",
    "reserved",
    "reserved",
)


def _rightful(args: Sequence[str], *, home: str, capture: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RIGHTFUL_HOME=home)
    env.pop("RIGHTFUL_CONFIG", None)
    command = [sys.executable, "-m", "rightful", "check", "--allow-private", "--no-progress", *args]
    return subprocess.run(command, env=env, text=True, capture_output=capture, check=False, timeout=120)


def _parse_json_lines(text: str) -> list[dict[str, Any]]:
    stripped = text.strip()
    if stripped.startswith("["):
        items: list[dict[str, Any]] = json.loads(stripped)
        return items
    return [json.loads(line) for line in stripped.splitlines() if line.strip()]


def _deciding_protocols(item: dict[str, Any], purpose: str) -> list[str]:
    signals = item.get("signals", [])
    indexes = item.get("deciding", {}).get(purpose, [])
    return sorted({signals[i]["protocol"] for i in indexes if 0 <= i < len(signals)})


def _abridged(item: dict[str, Any]) -> dict[str, Any]:
    """The item with only the signals that decided ai-training, so the shape is readable on one screen."""
    signals = item.get("signals", [])
    deciding = [signals[i] for i in item.get("deciding", {}).get("ai-training", []) if 0 <= i < len(signals)]
    keep = ("item", "kind", "verdicts", "policy", "crawl_allowed", "licence", "errors", "checked_at")
    out = {key: item[key] for key in keep if key in item}
    out["signals (deciding ai-training only)"] = deciding
    out["signals in full"] = len(signals)
    return out


def _heading(text: str) -> None:
    print(f"\n{'=' * 4} {text} {'=' * max(4, 100 - len(text))}")


def _tell_story(origins: Sequence[str]) -> None:
    _heading("Five sites on loopback")
    for index, (site, story) in enumerate(zip(demo_sites(), STORIES, strict=True)):
        print(f"\n  [{index}] {site.name} — {origins[index]}\n      {story}")


def _compare(items: list[dict[str, Any]], urls: Sequence[str]) -> int:
    """Print each URL's ai-training verdict next to the story's; return how many differ."""
    by_item = {item.get("item"): item for item in items}
    mismatches = 0
    for url, expected in zip(urls, EXPECTED, strict=True):
        item = by_item.get(url)
        got = item.get("verdicts", {}).get("ai-training", "missing") if item else "missing"
        mark = "ok " if got == expected else "!! "
        mismatches += got != expected
        why = ", ".join(_deciding_protocols(item, "ai-training")) if item else ""
        licences = [c.get("licence") or c.get("source", "?") for c in (item or {}).get("licence", [])]
        extra = f"; licence: {', '.join(licences)}" if licences else ""
        print(f"  {mark} {got:9} {url}  ({why or 'no deciding signal'}{extra})")
    return mismatches


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rightful-demo-") as home, Publisher(demo_sites()) as publisher:
        urls = [publisher.url(site, path) for site, path in DEMO_PAGES]
        _tell_story(publisher.origins)

        _heading("rightful check --allow-private URL…")
        human = _rightful(urls, home=home, capture=False)
        if human.returncode != 0:
            print(f"\nrightful check exited {human.returncode}", file=sys.stderr)
            return human.returncode

        _heading("rightful check --allow-private --json URL…  (one line per URL; the first, abridged)")
        machine = _rightful(["--json", *urls], home=home, capture=True)
        if machine.returncode != 0:
            print(machine.stderr, file=sys.stderr)
            return machine.returncode
        items = _parse_json_lines(machine.stdout)
        if items:
            print(json.dumps(_abridged(items[0]), indent=2, ensure_ascii=False))

        _heading("ai-training: what the story says vs. what rightful found")
        mismatches = _compare(items, urls)
        kinds = publisher.stats()["by_kind"]
        print(
            f"\n  Publisher requests over both runs ({len(urls)} URLs each, {len(publisher.origins)} origins): "
            + ", ".join(f"{kind} {kinds.get(kind, 0)}" for kind in ("robots.txt", "tdmrep.json", "ai.txt", "page"))
            + " (origin documents are cached in RIGHTFUL_HOME between runs)."
        )
    if mismatches:
        print(f"\n{mismatches} verdict(s) differ from the story above.", file=sys.stderr)
        return 1
    print("\nEvery verdict matches the story.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
