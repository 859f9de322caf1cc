"""XMP in PDF: the document catalog's ``/Metadata`` stream, written as an incremental update.

An incremental update appends the changed objects, a new cross-reference section and a trailer after the
original bytes, which stay exactly as they were (earlier signatures keep verifying their byte ranges, and no
page content is re-encoded). pypdf writes the update. The new metadata stream is uncompressed, with
``/Type /Metadata /Subtype /XML``, so that every XMP reader — including byte scanners — finds it; TDMRep's
``tdm:reservation`` rides in it (TDMRep defines in-file PDF statements this way). Encrypted PDFs are refused:
their metadata would have to be encrypted too, with a key we do not have.
"""

from __future__ import annotations

import io
from typing import Any

from rightful.errors import InvalidInput, MissingDependency

__all__ = ["read_xmp", "write_xmp"]


def _reader(data: bytes) -> Any:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError as exc:  # pragma: no cover - pypdf is a dependency; this guards a broken install
        raise MissingDependency("pypdf", extra="all") from exc
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise InvalidInput("encrypted PDF: its metadata cannot be rewritten without the owner's key")
        reader.trailer["/Root"].get_object()
    except InvalidInput:
        raise
    except (PyPdfError, KeyError, ValueError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise InvalidInput(f"corrupt PDF: {exc}") from exc
    return reader


def read_xmp(data: bytes) -> bytes | None:
    """The decoded ``/Metadata`` stream of the catalog, or None."""
    from pypdf.errors import PyPdfError

    reader = _reader(data)
    try:
        ref = reader.trailer["/Root"].get_object().get("/Metadata")
        if ref is None:
            return None
        stream = ref.get_object()
        return bytes(stream.get_data())
    except (PyPdfError, KeyError, ValueError, TypeError, AttributeError, OSError) as exc:
        raise InvalidInput(f"corrupt PDF: its metadata stream cannot be read ({exc})") from exc


def write_xmp(data: bytes, packet: bytes) -> bytes:
    """``data`` plus an incremental update whose catalog points to a new metadata stream holding ``packet``."""
    from pypdf import PdfWriter
    from pypdf.errors import PyPdfError
    from pypdf.generic import DecodedStreamObject, NameObject

    reader = _reader(data)
    try:
        writer = PdfWriter(reader, incremental=True)
        _skip_used_numbers(writer, reader)
        stream = DecodedStreamObject()
        stream.set_data(packet)
        stream[NameObject("/Type")] = NameObject("/Metadata")
        stream[NameObject("/Subtype")] = NameObject("/XML")
        writer.root_object[NameObject("/Metadata")] = writer._add_object(stream)
        out = io.BytesIO()
        writer.write(out)
    except (PyPdfError, KeyError, ValueError, TypeError, AttributeError, OSError) as exc:
        raise InvalidInput(f"corrupt PDF: the update could not be written ({exc})") from exc
    updated = out.getvalue()
    if not updated.startswith(data):  # the guarantee this module exists for
        raise InvalidInput("the PDF could not be updated incrementally; left unchanged")
    return updated


def _skip_used_numbers(writer: Any, reader: Any) -> None:
    """Make new objects take numbers at or above the trailer's ``/Size``.

    pypdf numbers new objects after the objects it loaded, which leaves out the object number of an earlier
    update's cross-reference stream; reusing that number makes readers (pypdf itself included) resolve the
    catalog's ``/Metadata`` to the old cross-reference stream.
    """
    size = int(reader.trailer.get("/Size", 0))
    while len(writer._objects) < size - 1:
        writer._objects.append(None)
