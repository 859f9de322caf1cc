"""Two processes appending to one log at once: the file lock serialises them, nothing is lost or corrupted."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from rightful.provenance import merkle
from rightful.provenance.ledger import Ledger
from rightful.provenance.note import NoteSigner, generate_signer

ROUNDS = 40


def _writer(path: str, key: str, name: str, start: Any) -> None:
    """Open, add one entry (every fifth round: a batch of three), commit, close — ROUNDS times, as fast as it can."""
    signer = NoteSigner.parse(key)
    start.wait()
    for number in range(ROUNDS):
        with Ledger.open(path, signer=signer) as ledger:
            count = 3 if number % 5 == 0 else 1
            ledger.append([f"{name}-{number}-{i}".encode() for i in range(count)])


def _expected(name: str) -> set[bytes]:
    return {f"{name}-{n}-{i}".encode() for n in range(ROUNDS) for i in range(3 if n % 5 == 0 else 1)}


def test_two_processes_appending_at_once_lose_nothing(tmp_path: Path) -> None:
    """Both writers' entries are all in the log exactly once, and the tree re-hashes to the signed root."""
    signer = generate_signer("example.org/log")
    path = tmp_path / "log"  # does not exist yet: both processes race to create it too
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_writer, args=(str(path), signer.encode(), name, start)) for name in "ab"]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    ledger = Ledger(path, verifier=signer.verifier)
    entries = [entry for _, entry in ledger.entries()]
    assert len(entries) == len(set(entries))
    assert set(entries) == _expected("a") | _expected("b")
    assert ledger.audit() == len(entries)
    assert ledger.checkpoint.root == merkle.root_of([merkle.hash_leaf(e) for e in entries])
    for index in (0, len(entries) // 2, len(entries) - 1):
        assert ledger.prove_inclusion(index).verify(entries[index], ledger.checkpoint)
