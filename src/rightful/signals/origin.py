"""Origin-wide rules: robots.txt, /.well-known/tdmrep.json and /ai.txt, fetched and parsed once per origin."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from rightful.config import Settings
from rightful.signals.agents import AgentList
from rightful.signals.aitxt import AiTxt
from rightful.signals.base import Findings, OriginDocument
from rightful.signals.fetch import Fetcher
from rightful.signals.robots import RobotsEvaluation, RobotsTxt
from rightful.signals.tdmrep import TdmRepFile

__all__ = ["OriginRules", "OriginRulesCache"]

ROBOTS_PATH = "/robots.txt"
TDMREP_PATH = "/.well-known/tdmrep.json"
AITXT_PATH = "/ai.txt"
_SMALL_DOC = 1024 * 1024


@dataclass(frozen=True, slots=True)
class OriginRules:
    """The parsed origin-wide documents of one origin."""

    origin: str
    robots_doc: OriginDocument
    robots: RobotsTxt
    tdmrep_doc: OriginDocument
    tdmrep: TdmRepFile
    aitxt_doc: OriginDocument
    aitxt: AiTxt

    @property
    def blocked(self) -> str | None:
        """The SSRF guard's refusal, if the origin itself may not be contacted."""
        error = self.robots_doc.error or ""
        return error if error.startswith("blocked-address") else None

    def evaluate(
        self, path: str, path_and_query: str, *, settings: Settings, agents: AgentList
    ) -> tuple[RobotsEvaluation, Findings]:
        """Robots (crawl permission and signals), then tdmrep.json and ai.txt, for one path."""
        robots = self.robots.evaluate(
            path_and_query,
            own_token=settings.own_token,
            policy=settings.policy,
            agents=agents,
            location=self.robots_doc.url,
            fetched_at=self.robots_doc.fetched_at,
            document_hash=self.robots_doc.hash,
        )
        findings = Findings().extend(robots.findings)
        findings.extend(
            self.tdmrep.lookup(
                path,
                location=self.tdmrep_doc.url,
                fetched_at=self.tdmrep_doc.fetched_at,
                document_hash=self.tdmrep_doc.hash,
            )
        )
        findings.extend(
            self.aitxt.evaluate(
                path,
                own_token=settings.own_token,
                policy=settings.policy,
                agents=agents,
                location=self.aitxt_doc.url,
                fetched_at=self.aitxt_doc.fetched_at,
                document_hash=self.aitxt_doc.hash,
            )
        )
        return robots, findings


class OriginRulesCache:
    """Fetch-and-parse once per origin per run; a bounded LRU keeps memory flat over huge URL lists."""

    def __init__(self, fetcher: Fetcher, *, max_origins: int = 4096) -> None:
        self._fetcher = fetcher
        self._max = max_origins
        self._rules: OrderedDict[str, asyncio.Future[OriginRules]] = OrderedDict()

    async def get(self, origin: str) -> OriginRules:
        future = self._rules.get(origin)
        if future is not None:
            self._rules.move_to_end(origin)
            return await asyncio.shield(future)
        future = asyncio.get_running_loop().create_future()
        self._rules[origin] = future
        while len(self._rules) > self._max:
            self._rules.popitem(last=False)
        try:
            rules = await self._load(origin)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters get it, nobody else must log it
            self._rules.pop(origin, None)
            raise
        future.set_result(rules)
        return rules

    async def _load(self, origin: str) -> OriginRules:
        settings = self._fetcher.settings
        self._fetcher.stats.origins += 1
        robots_doc, tdmrep_doc, aitxt_doc = await asyncio.gather(
            self._fetcher.document(origin + ROBOTS_PATH, max_bytes=settings.robots_max_bytes),
            self._fetcher.document(origin + TDMREP_PATH, max_bytes=_SMALL_DOC),
            self._fetcher.document(origin + AITXT_PATH, max_bytes=_SMALL_DOC),
        )
        return OriginRules(
            origin=origin,
            robots_doc=robots_doc,
            robots=RobotsTxt.from_document(robots_doc, max_bytes=settings.robots_max_bytes),
            tdmrep_doc=tdmrep_doc,
            tdmrep=TdmRepFile.from_document(tdmrep_doc),
            aitxt_doc=aitxt_doc,
            aitxt=AiTxt.from_document(aitxt_doc),
        )
