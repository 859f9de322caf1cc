"""Provenance benchmark: Rightful's watermark against invisible-watermark (dwtDct, dwtDctSvd), and the ledger.

Watermark part, on the photographs of ``images.py`` (real photographs bundled with scikit-image, their crops and
tiles): each method embeds a random 48-bit payload at its defaults (ours at 40.15 dB PSNR), then every attack of
the issue's table is applied and each method decodes blind. Reported per method and attack:

* bit accuracy — mean fraction of the 48 payload bits read correctly (ours: the decoded payload when the BCH
  decoder succeeds, else the raw systematic bits);
* TPR at FPR 1e-6 — ours: the detector found the *correct* payload with a false-positive probability ≤ 1e-6;
  baselines (no detector of their own): at least ``c`` of 48 bits match the embedded payload, where
  ``P(Binomial(48, ½) ≥ c) ≤ 1e-6`` (c = 44) — a test that knows the payload, which favours the baselines;
* measured false positives: our detector on every unmarked original, for the empirical check of the bound;
* PSNR / SSIM of the marked image; embed + detect time per megapixel.

Ledger part: batched appends/s up to 1M entries (fsync per batch), inclusion-proof generation and verification
time and size at 1M, consistency-proof size.

Results: a table on stdout and ``bench/results/provenance.json``. ``--quick`` runs 12 images and a 100k log;
``--limit N --attacks none,jpeg50 --methods rightful --skip-ledger`` is for iterating on a subset (the images
are then spread evenly over the full set); ``--match grass,gravel`` keeps only the images so named.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import platform
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "provenance.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from images import photographs  # noqa: E402
from rightful.provenance.imagemark import watermark_rgb  # noqa: E402
from rightful.provenance.watermark import PAYLOAD_BITS, detect_array, raw_payload_bits  # noqa: E402

Array = np.ndarray[Any, np.dtype[np.uint8]]
BITS = PAYLOAD_BITS
FPR = 1e-6


def _decode(data: bytes) -> Array:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _jpeg(a: Array, q: int) -> Array:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    return _decode(buf.getvalue())


def _webp(a: Array) -> Array:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "WEBP")  # Pillow's default: lossy, quality 80
    return _decode(buf.getvalue())


def _resize(a: Array, f: float) -> Array:
    img = Image.fromarray(a)
    return np.asarray(img.resize((round(img.width * f), round(img.height * f)), Image.Resampling.BICUBIC))


def _crop(a: Array, f: float) -> Array:
    """Remove ``f`` of each dimension, half on each side (the area kept is (1-f)²)."""
    h, w = a.shape[:2]
    dh, dw = round(h * f / 2), round(w * f / 2)
    return a[dh : h - dh, dw : w - dw]


def _rotate(a: Array, degrees: float) -> Array:
    rotated = np.asarray(Image.fromarray(a).rotate(degrees, Image.Resampling.BICUBIC, expand=False))
    return _crop(rotated, 0.1)  # drop the black corners, as any real rotation-and-trim would


def _brightness(a: Array, f: float) -> Array:
    return np.asarray(ImageEnhance.Brightness(Image.fromarray(a)).enhance(f))


def _noise(a: Array) -> Array:
    rng = np.random.default_rng(0)
    return np.clip(a + rng.normal(0, 0.02 * 255, a.shape), 0, 255).astype(np.uint8)


ATTACKS: dict[str, Callable[[Array], Array]] = {
    "none": lambda a: a,
    "jpeg90": lambda a: _jpeg(a, 90),
    "jpeg75": lambda a: _jpeg(a, 75),
    "jpeg50": lambda a: _jpeg(a, 50),
    "resize0.5": lambda a: _resize(a, 0.5),
    "resize0.75": lambda a: _resize(a, 0.75),
    "crop10": lambda a: _crop(a, 0.10),
    "crop20": lambda a: _crop(a, 0.20),
    "rotate2": lambda a: _rotate(a, 2.0),
    "bright+20": lambda a: _brightness(a, 1.2),
    "bright-20": lambda a: _brightness(a, 0.8),
    "blur": lambda a: np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(1.0))),
    "noise0.02": _noise,
    "webp": _webp,
}


def _bits(payload: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.array([(payload >> (BITS - 1 - i)) & 1 for i in range(BITS)])


def _baseline_threshold() -> int:
    """Smallest c with P(Binomial(48, 1/2) >= c) <= FPR."""
    for c in range(BITS + 1):
        if sum(math.comb(BITS, k) for k in range(c, BITS + 1)) / 2**BITS <= FPR:
            return c
    return BITS


class Ours:
    """Rightful's watermark on arrays (like the baselines; the file-level path adds only the image codec)."""

    name = "rightful"

    def __init__(self) -> None:
        self.key = hashlib.sha256(b"rightful bench/provenance watermark key").digest()  # fixed: reproducible runs

    def embed(self, a: Array, payload: int) -> Array:
        return watermark_rgb(a, payload, key=self.key)

    def read(self, a: Array, payload: int) -> tuple[float, bool]:
        luma = _luma(a)
        detection = detect_array(luma, key=self.key)
        if detection.found and detection.payload is not None:
            accuracy = float(np.mean(_bits(detection.payload) == _bits(payload)))
            return accuracy, detection.payload == payload and detection.false_positive_probability <= FPR
        if min(luma.shape) < 64:
            return 0.5, False
        return float(np.mean(np.array(raw_payload_bits(luma, key=self.key)) == _bits(payload))), False


def _luma(a: Array) -> Any:
    return a.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


class Baseline:
    def __init__(self, method: str, threshold: int) -> None:
        stubs = [n for n in ("torch", "onnxruntime") if n not in sys.modules]
        for name in stubs:  # imwatermark imports torch for rivaGan only (never used here); do not install torch
            sys.modules[name] = types.ModuleType(name)
        try:
            from imwatermark import WatermarkDecoder, WatermarkEncoder
        finally:
            for name in stubs:  # other libraries (scipy, scikit-image) probe sys.modules for torch
                del sys.modules[name]

        self.name, self.method, self.threshold = f"imwatermark-{method}", method, threshold
        self._encoder, self._decoder = WatermarkEncoder, WatermarkDecoder

    def embed(self, a: Array, payload: int) -> Array:
        encoder = self._encoder()
        encoder.set_watermark("bytes", payload.to_bytes(BITS // 8, "big"))
        bgr = np.ascontiguousarray(a[..., ::-1])
        return np.clip(encoder.encode(bgr, self.method), 0, 255).astype(np.uint8)[..., ::-1].copy()

    def read(self, a: Array, payload: int) -> tuple[float, bool]:
        if min(a.shape[:2]) < 16:
            return 0.5, False
        try:
            raw = self._decoder("bytes", BITS).decode(np.ascontiguousarray(a[..., ::-1]), self.method)
        except Exception:  # the baseline raises on shapes it cannot handle: that is a miss, not a crash
            return 0.5, False
        bits = np.unpackbits(np.frombuffer(bytes(raw)[: BITS // 8].ljust(BITS // 8, b"\0"), dtype=np.uint8))
        correct = int(np.sum(bits == _bits(payload)))
        return correct / BITS, correct >= self.threshold


def _quality(a: Array, b: Array) -> tuple[float, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    return (float(peak_signal_noise_ratio(a, b, data_range=255)),
            float(structural_similarity(a, b, channel_axis=2, data_range=255)))  # fmt: skip


def bench_watermark(count: int, *, limit: int | None = None, attacks: list[str] | None = None,
                    methods: list[str] | None = None, match: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    photos = photographs(count)
    payloads = np.random.default_rng(1).integers(0, 2**BITS, len(photos))  # same payload per image in any subset
    chosen = range(len(photos)) if limit is None else np.linspace(0, len(photos) - 1, min(limit, len(photos)))
    picked = sorted({round(float(i)) for i in chosen})
    if match is not None:  # only the images whose name starts with one of the given prefixes
        picked = [i for i in picked if photos[i][0].startswith(tuple(match))]
    photos = [photos[i] for i in picked]
    attack_fns = {k: v for k, v in ATTACKS.items() if attacks is None or k in attacks}
    threshold = _baseline_threshold()
    every: list[Any] = [Ours(), Baseline("dwtDct", threshold), Baseline("dwtDctSvd", threshold)]
    chosen_methods = [m for m in every if methods is None or m.name in methods or m.name == "rightful"]
    stats: dict[str, Any] = {m.name: {"psnr": [], "ssim": [], "embed_s_per_mp": [], "detect_s_per_mp": [],
                                      "attacks": {k: {"bit_accuracy": [], "detected": [], "missed": []}
                                                  for k in attack_fns}}
                             for m in chosen_methods}  # fmt: skip
    false_positives = 0
    for number, (index, (name, image)) in enumerate(zip(picked, photos, strict=True), start=1):
        payload = int(payloads[index])
        megapixels = image.shape[0] * image.shape[1] / 1e6
        for method in chosen_methods:
            s = stats[method.name]
            start = time.perf_counter()
            marked = method.embed(image, payload)
            s["embed_s_per_mp"].append((time.perf_counter() - start) / megapixels)
            psnr, ssim = _quality(image, marked)
            s["psnr"].append(psnr)
            s["ssim"].append(ssim)
            for attack, fn in attack_fns.items():
                start = time.perf_counter()
                accuracy, detected = method.read(fn(marked), payload)
                if attack == "none":
                    s["detect_s_per_mp"].append((time.perf_counter() - start) / megapixels)
                s["attacks"][attack]["bit_accuracy"].append(accuracy)
                s["attacks"][attack]["detected"].append(detected)
                if not detected:
                    s["attacks"][attack]["missed"].append(name)
        if detect_array(_luma(image), key=chosen_methods[0].key).found:
            false_positives += 1
        print(f"[{number}/{len(photos)}] {name} {image.shape[1]}x{image.shape[0]}", file=sys.stderr, flush=True)
    return _summarise(stats, photos, false_positives, threshold)


def _summarise(stats: dict[str, Any], photos: list[Any], false_positives: int, threshold: int) -> dict[str, Any]:
    out: dict[str, Any] = {"images": len(photos), "names": [n for n, _ in photos],
                           "baseline_threshold_bits": threshold,
                           "ours_false_positives_on_unmarked": false_positives, "methods": {}}  # fmt: skip
    for name, s in stats.items():
        out["methods"][name] = {
            "psnr_mean": float(np.mean(s["psnr"])), "psnr_min": float(np.min(s["psnr"])),
            "ssim_mean": float(np.mean(s["ssim"])),
            "embed_ms_per_mp": 1000 * float(np.median(s["embed_s_per_mp"])),
            "detect_ms_per_mp": 1000 * float(np.median(s["detect_s_per_mp"])),
            "attacks": {k: {"bit_accuracy": float(np.mean(v["bit_accuracy"])), "tpr": float(np.mean(v["detected"])),
                            "missed": v["missed"]} for k, v in s["attacks"].items()},
        }  # fmt: skip
    return out


def bench_ledger(entries: int, batch: int) -> dict[str, Any]:
    from rightful.provenance.ledger import Ledger
    from rightful.provenance.note import generate_signer

    signer = generate_signer("bench.example/log")
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(Path(tmp) / "log", signer=signer)
        start = time.perf_counter()
        for first in range(0, entries, batch):
            ledger.append([b'{"kind":"output","n":%d}' % i for i in range(first, min(first + batch, entries))])
        append_s = time.perf_counter() - start
        ledger.close()
        reader = Ledger(Path(tmp) / "log", verifier=signer.verifier)
        indices = np.random.default_rng(2).integers(0, entries, 200)
        start = time.perf_counter()
        proofs = [reader.prove_inclusion(int(i)) for i in indices]
        prove_s = (time.perf_counter() - start) / len(indices)
        start = time.perf_counter()
        ok = all(p.verify(reader.entry(p.index), reader.checkpoint) for p in proofs)
        verify_s = (time.perf_counter() - start) / len(indices)
        consistency = reader.prove_consistency(entries // 3)
        disk = sum(f.stat().st_size for f in (Path(tmp) / "log").rglob("*") if f.is_file())
    return {"entries": entries, "batch": batch, "appends_per_s": entries / append_s, "append_s": append_s,
            "inclusion_prove_ms": 1000 * prove_s, "inclusion_verify_ms": 1000 * verify_s, "all_verified": ok,
            "inclusion_proof_bytes": 32 * len(proofs[0].hashes), "inclusion_proof_hashes": len(proofs[0].hashes),
            "consistency_proof_bytes": 32 * len(consistency.hashes), "disk_bytes": disk}  # fmt: skip


def _print(result: dict[str, Any]) -> None:
    wm = result["watermark"]
    names = list(wm["methods"])
    print(
        f"\nwatermark: {wm['images']} photographs; our false positives on unmarked originals: "
        f"{wm['ours_false_positives_on_unmarked']}; baseline detection needs >= "
        f"{wm['baseline_threshold_bits']}/48 bits"
    )
    print(f"{'':14}" + "".join(f"{n:>34}" for n in names))
    for key, label in (("psnr_mean", "PSNR mean dB"), ("psnr_min", "PSNR min dB"), ("ssim_mean", "SSIM mean"),
                       ("embed_ms_per_mp", "embed ms/MP"), ("detect_ms_per_mp", "detect ms/MP")):  # fmt: skip
        print(f"{label:14}" + "".join(f"{wm['methods'][n][key]:>34.3f}" for n in names))
    print(f"{'attack':14}" + "".join(f"{'bit acc / TPR@1e-6':>34}" for _ in names))
    for attack in wm["methods"][names[0]]["attacks"]:
        cells = [wm["methods"][n]["attacks"][attack] for n in names]
        print(f"{attack:14}" + "".join(f"{c['bit_accuracy']:>26.3f} / {c['tpr']:.3f}" for c in cells))
    led = result.get("ledger")
    if led is None:
        return
    print(
        f"\nledger: {led['entries']} entries in batches of {led['batch']}: {led['appends_per_s']:.0f} appends/s; "
        f"inclusion proof {led['inclusion_prove_ms']:.2f} ms to make, {led['inclusion_verify_ms']:.3f} ms to "
        f"verify, {led['inclusion_proof_bytes']} bytes; consistency proof {led['consistency_proof_bytes']} bytes; "
        f"disk {led['disk_bytes'] / 1e6:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 images and a 100k-entry log")
    parser.add_argument("--images", type=int, default=120)
    parser.add_argument("--limit", type=int, help="only N of the images, spread evenly over the set")
    parser.add_argument("--match", help="comma-separated image-name prefixes (grass,gravel): only those images")
    parser.add_argument("--attacks", help=f"comma-separated subset of: {','.join(ATTACKS)}")
    parser.add_argument("--methods", help="comma-separated baselines to run beside ours (imwatermark-dwtDct,...)")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--skip-watermark", action="store_true")
    parser.add_argument("--skip-ledger", action="store_true")
    args = parser.parse_args()
    attacks = None if args.attacks is None else args.attacks.split(",")
    if attacks is not None and not set(attacks) <= set(ATTACKS):
        parser.error(f"unknown attack(s): {', '.join(sorted(set(attacks) - set(ATTACKS)))}")
    methods = None if args.methods is None else [m for m in args.methods.split(",") if m]
    images, entries = (12, 100_000) if args.quick else (args.images, args.entries)
    result: dict[str, Any] = {"machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                                          "cpus": os.cpu_count()}}  # fmt: skip
    if not args.skip_ledger:
        result["ledger"] = bench_ledger(entries, batch=10_000)
    if not args.skip_watermark:
        match = None if args.match is None else args.match.split(",")
        result["watermark"] = bench_watermark(images, limit=args.limit, attacks=attacks, methods=methods, match=match)
    subset = (
        any(v is not None for v in (args.limit, attacks, methods, args.match))
        or args.skip_ledger
        or args.skip_watermark
    )
    out = RESULTS.with_name("provenance-subset.json") if subset else RESULTS  # a subset never hides a full run
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    if not args.skip_watermark:
        _print(result)
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
