"""TDM policies: ODRL 2.2 offers with profile ``http://www.w3.org/ns/tdmrep``, named by a TDMRep reservation.

A policy says on what terms mining is offered (duties such as ``obtainConsent`` or ``compensate``, a purpose
constraint ``tdm:research`` / ``tdm:non-research``) and, through its ``assigner``, whom to ask for a licence.
An unreachable or invalid policy is not an error of the reservation itself.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rightful.models import ItemError, Signal
from rightful.signals.base import Findings

__all__ = [
    "POLICY_PROTOCOL",
    "TdmAssigner",
    "TdmPermission",
    "TdmPolicy",
    "parse_policy",
    "policy_findings",
    "short_error",
    "strict_json",
]

POLICY_PROTOCOL = "tdmrep-policy"


def short_error(exc: BaseException, limit: int = 120) -> str:
    """An exception's message, cut to fit in evidence."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity, which are not JSON."""
    return json.loads(text, parse_constant=_reject_constant)


# --- TDM policies (ODRL 2.2 offers, profile http://www.w3.org/ns/tdmrep) -----------------------------------

_TDM_NS = ("http://www.w3.org/ns/tdmrep#", "http://www.w3.org/ns/tdmrep/", "tdm:")
_PROFILE = "http://www.w3.org/ns/tdmrep"
_RAW_LIMIT = 16 * 1024


@dataclass(frozen=True, slots=True)
class TdmAssigner:
    """The rightsholder to contact, with the vCard fields as the policy gives them."""

    uid: str | None = None
    name: str | None = None  # vcard:fn
    nickname: str | None = None
    email: str | None = None  # vcard:hasEmail, a mailto: URI
    telephone: str | None = None  # vcard:hasTelephone, a tel: URI
    url: str | None = None  # vcard:hasURL: where TDM licensing is explained
    address: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)} | {"address": dict(self.address)}


@dataclass(frozen=True, slots=True)
class TdmPermission:
    """One ODRL permission: the action (``tdm:mine``), its duties and its purpose constraint."""

    action: str
    target: str | None = None
    duties: tuple[str, ...] = ()  # "obtainConsent", "compensate"
    purposes: tuple[str, ...] = ()  # "tdm:research", "tdm:non-research"
    constraints: tuple[str, ...] = ()  # any other constraint, as "leftOperand operator rightOperand"

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "target": self.target,
            "duties": list(self.duties),
            "purposes": list(self.purposes),
            "constraints": list(self.constraints),
        }


@dataclass(frozen=True, slots=True)
class TdmPolicy:
    """A parsed TDM policy. ``problems`` lists departures from the TDMRep profile that did not stop reading it
    (a wrong ``@type``, a missing profile): the contact is still worth showing."""

    url: str
    uid: str | None
    assigner: TdmAssigner | None
    permissions: tuple[TdmPermission, ...]
    raw: str
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "uid": self.uid,
            "assigner": self.assigner.to_dict() if self.assigner else None,
            "permissions": [p.to_dict() for p in self.permissions],
            "problems": list(self.problems),
        }


def parse_policy(body: bytes, *, url: str, content_type: str | None = None) -> TdmPolicy | ItemError:
    """Read a TDM policy (JSON / JSON-LD).

    Failure is an :class:`ItemError`, never an error of the reservation: the spec says the agent then has no
    way to know the conditions. An HTML page is a human-readable policy.
    """
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml") or (not mime and body.lstrip()[:1] == b"<"):
        what = mime or "markup"
        return ItemError(
            "tdmrep-policy-human-readable",
            f"the TDM policy is a web page ({what}), not an ODRL offer: read its terms at {url}",
            POLICY_PROTOCOL,
            url,
        )
    try:
        text = body.decode("utf-8-sig")
        data = strict_json(text)
    except (ValueError, RecursionError) as exc:
        return ItemError(
            "tdmrep-policy-invalid", f"the TDM policy is not valid JSON ({short_error(exc)})", POLICY_PROTOCOL, url
        )
    offer = _offer_object(data)
    if offer is None or not ({"permission", "assigner"} & {_local(k) for k in offer}):
        return ItemError(
            "tdmrep-policy-invalid",
            "the TDM policy is not an ODRL offer (no permission and no assigner)",
            POLICY_PROTOCOL,
            url,
        )
    fields = {_local(k): v for k, v in offer.items()}
    problems = _profile_problems(fields)
    permissions = tuple(_permission(p) for p in _as_list(fields.get("permission")) if isinstance(p, dict))
    if not permissions:
        problems.append("it has no permission")
    elif not any(p.action == "tdm:mine" for p in permissions):
        problems.append("no permission has the action tdm:mine")
    assigner = _assigner(fields.get("assigner"))
    if assigner is None:
        problems.append("it has no assigner (the rightsholder to contact)")
    raw = text if len(text) <= _RAW_LIMIT else text[:_RAW_LIMIT] + "…"
    return TdmPolicy(
        url=url,
        uid=_text(fields.get("uid")),
        assigner=assigner,
        permissions=permissions,
        raw=raw,
        problems=tuple(problems),
    )


def policy_findings(
    policy: TdmPolicy,
    *,
    location: str | None = None,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
) -> Findings:
    """A ``tdmrep-policy`` signal: no purpose values (the reservation decides), the contact and terms in
    ``details`` so that a builder knows whom to ask and on which terms."""
    who = policy.assigner
    contact = ", ".join(x for x in (who.name, who.email, who.url) if x) if who else ""
    terms = "; ".join(_permission_words(p) for p in policy.permissions) or "no permission"
    rule = f"TDM policy {policy.uid or policy.url}" + (f" from {contact}" if contact else "") + f": {terms}"
    signal = Signal(
        protocol=POLICY_PROTOCOL,
        location=location or policy.url,
        raw=policy.raw,
        rule=rule,
        fetched_at=fetched_at,
        document_hash=document_hash,
        details=policy.to_dict(),
    )
    return Findings(signals=[signal])


def _permission_words(permission: TdmPermission) -> str:
    words = "mining permitted" if permission.action == "tdm:mine" else f"action {permission.action}"
    if permission.duties:
        words += " with duty " + " and ".join(permission.duties)
    if permission.purposes:
        words += " for purpose " + " or ".join(permission.purposes)
    if permission.constraints:
        words += " if " + " and ".join(permission.constraints)
    return words


def _offer_object(data: object) -> dict[str, Any] | None:
    """The policy object: the document itself, or the first object of a JSON-LD array or ``@graph``."""
    if isinstance(data, dict) and isinstance(data.get("@graph"), list):
        data = data["@graph"]
    if isinstance(data, list):
        data = next((d for d in data if isinstance(d, dict)), None)
    return data if isinstance(data, dict) else None


def _profile_problems(fields: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    types = [_local(t) for t in _as_list(fields.get("@type", fields.get("type"))) if isinstance(t, str)]
    if "Offer" not in types:
        problems.append(f"its @type is {', '.join(types) or 'missing'}, not Offer")
    profiles = [(_text(p) or "").rstrip("#/") for p in _as_list(fields.get("profile"))]
    if _PROFILE not in profiles:
        problems.append(f"its profile is not {_PROFILE}")
    if _text(fields.get("uid")) is None:
        problems.append("it has no uid")
    return problems


def _permission(obj: Mapping[str, Any]) -> TdmPermission:
    fields = {_local(k): v for k, v in obj.items()}
    duties = tuple(
        _local(_text(d.get("action", d.get("odrl:action"))) or "?")
        for d in _as_list(fields.get("duty"))
        if isinstance(d, dict)
    )
    purposes: list[str] = []
    others: list[str] = []
    for c in _as_list(fields.get("constraint")):
        if not isinstance(c, dict):
            continue
        cf = {_local(k): v for k, v in c.items()}
        left, op = _local(_text(cf.get("leftOperand")) or "?"), _local(_text(cf.get("operator")) or "?")
        right = _text(cf.get("rightOperand")) or "?"
        if left == "purpose" and op == "eq":
            purposes.append(_tdm_term(right))
        else:
            others.append(f"{left} {op} {right}")
    action = _tdm_term(_text(fields.get("action")) or "?")
    return TdmPermission(
        action=action,
        target=_text(fields.get("target")),
        duties=duties,
        purposes=tuple(purposes),
        constraints=tuple(others),
    )


def _assigner(value: object) -> TdmAssigner | None:
    if isinstance(value, str):
        return TdmAssigner(uid=value)
    if not isinstance(value, dict):
        return None
    fields = {_local(k): v for k, v in value.items()}
    address = fields.get("hasAddress")
    parts = {_local(k): t for k, v in address.items() if (t := _text(v))} if isinstance(address, dict) else {}
    return TdmAssigner(
        uid=_text(fields.get("uid", fields.get("@id"))),
        name=_text(fields.get("fn")),
        nickname=_text(fields.get("nickname")),
        email=_text(fields.get("hasEmail")),
        telephone=_text(fields.get("hasTelephone")),
        url=_text(fields.get("hasURL")),
        address=parts,
    )


def _local(key: str) -> str:
    """``odrl:permission``, ``vcard:fn`` and full IRIs reduced to the local name; ``@`` keywords kept."""
    if key.startswith("@"):
        return key
    for sep in ("#", "/", ":"):
        if sep in key:
            key = key.rsplit(sep, 1)[1]
    return key


def _tdm_term(value: str) -> str:
    """``mine``, ``tdm:mine`` and ``http://www.w3.org/ns/tdmrep#mine`` all read as ``tdm:mine``."""
    for prefix in _TDM_NS:
        if value.startswith(prefix):
            return "tdm:" + value[len(prefix) :]
    return "tdm:" + value if value in ("mine", "research", "non-research") else value


def _text(value: object) -> str | None:
    """A JSON-LD value as text: a string, ``{"@id": …}``, ``{"@value": …}``, or the first of a list."""
    if isinstance(value, list):
        return next((t for v in value if (t := _text(v)) is not None), None)
    if isinstance(value, dict):
        return _text(value.get("@id", value.get("@value")))
    if isinstance(value, str):
        return value.strip() or None
    return None


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
