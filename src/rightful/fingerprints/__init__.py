"""Fingerprints of works: perceptual image hashes (PDQ, pHash, crop windows), text shingles, MinHash and
winnowing, and optional learned descriptors from a local model file. Depends on :mod:`rightful.media` only."""

from __future__ import annotations

from rightful.fingerprints.embedding import Embedder, load_embedder
from rightful.fingerprints.image import (
    MIN_QUALITY,
    ImageFingerprints,
    Window,
    fingerprint_image,
    hamming,
    load_image,
)
from rightful.fingerprints.text import (
    MIN_SPAN,
    Span,
    TextFingerprints,
    decode_text,
    fingerprint_text,
    jaccard,
    normalise_text,
    tokenize,
)

__all__ = [
    "MIN_QUALITY",
    "MIN_SPAN",
    "Embedder",
    "ImageFingerprints",
    "Span",
    "TextFingerprints",
    "Window",
    "decode_text",
    "fingerprint_image",
    "fingerprint_text",
    "hamming",
    "jaccard",
    "load_embedder",
    "load_image",
    "normalise_text",
    "tokenize",
]
