"""Small builders shared by the registry tests."""

from __future__ import annotations

import random

from rightful.models import Purpose, Terms, TermStatus
from tests.images import encode as encode  # re-exported for the registry tests
from tests.images import scene as scene

RESERVED = Terms({Purpose.AI_TRAINING: TermStatus.RESERVED, Purpose.DATA_MINING: TermStatus.RESERVED},
                 licence="https://example.org/licence", contact="rights@example.org")  # fmt: skip
VOCAB = [f"tok{i}" for i in range(3000)]


def words(seed: int, n: int) -> str:
    return " ".join(random.Random(seed).choices(VOCAB, k=n))
