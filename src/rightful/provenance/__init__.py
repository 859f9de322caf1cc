"""Provenance for generated content: C2PA manifests, an invisible watermark, a transparency log, verification.

``sign_asset`` watermarks a generated file (the payload is its ledger index), writes a C2PA manifest
(``trainedAlgorithmicMedia``, generator, training-mining terms, licence, attributions, soft binding) and appends
an output record to the RFC 9162 log; ``verify_asset`` reads all of it back, offline. ``sign_assertions``
signs any C2PA assertions into any file (``rightful tag`` signs an artist's training-mining terms with it).
Guide: docs/provenance.md.
"""

from __future__ import annotations

from rightful.provenance.bundle import ProofBundle, check_consistency, make_bundle, verify_bundle
from rightful.provenance.imagemark import detect_image, watermark_image
from rightful.provenance.keys import KeyPaths, SigningIdentity, import_chain, init_keys
from rightful.provenance.ledger import ConsistencyProof, InclusionProof, Ledger
from rightful.provenance.manifest import (
    Generator,
    Ingredient,
    ManifestOptions,
    SignedBytes,
    build_manifest,
    sign_assertions,
    sign_bytes,
    sign_manifest,
    training_mining_assertion,
)
from rightful.provenance.note import Checkpoint, NoteSigner, NoteVerifier
from rightful.provenance.records import model_record, output_record, parse_record, work_record
from rightful.provenance.sign import SignedOutput, SignOptions, sign_asset, sign_many
from rightful.provenance.verify import VerifyReport, verify_asset
from rightful.provenance.watermark import Detection

__all__ = [
    "Checkpoint",
    "ConsistencyProof",
    "Detection",
    "Generator",
    "InclusionProof",
    "Ingredient",
    "KeyPaths",
    "Ledger",
    "ManifestOptions",
    "NoteSigner",
    "NoteVerifier",
    "ProofBundle",
    "SignOptions",
    "SignedBytes",
    "SignedOutput",
    "SigningIdentity",
    "VerifyReport",
    "build_manifest",
    "check_consistency",
    "detect_image",
    "import_chain",
    "init_keys",
    "make_bundle",
    "model_record",
    "output_record",
    "parse_record",
    "sign_assertions",
    "sign_asset",
    "sign_bytes",
    "sign_manifest",
    "sign_many",
    "training_mining_assertion",
    "verify_asset",
    "verify_bundle",
    "watermark_image",
    "work_record",
]
