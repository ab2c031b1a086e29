"""The HTTP front of the simulator: a threaded standard-library server over a :class:`World`."""

from __future__ import annotations

import hmac

from simulator_common.faults import Fault, as_fault
from simulator_common.http import Response, SimulatorHandler, json_response
from simulator_common.lifecycle import ServedSimulator
from simulator_common.log import RequestLog
from simulator_common.rate_window import RateWindow, refusal

from .api import (
    API_PREFIX,
    API_V2_PREFIX,
    METHOD_NOT_ALLOWED,
    UNAUTHORIZED,
    V1_NEEDS_WORKSPACE_TOKEN,
    V2_NEEDS_PERSONAL_TOKEN,
    api_version,
    handle_get,
)
from .faults import FaultPlan
from .quirks import Quirks
from .records import DEFAULT_RECORDS_RETENTION_DAYS
from .request_log import RequestLogEntry
from .v2 import DEFAULT_V2_ID_STYLE, V2Variant, check_id_style, foreign_token, v1_retired
from .world import World

__all__ = ["CensusSimulator", "RequestLogEntry", "Response"]

_TOO_MANY = json_response(429, {"status": "error", "message": "Too Many Requests"}).body


class _Handler(SimulatorHandler["CensusSimulator", RequestLogEntry]):
    entry_class = RequestLogEntry
    bug_response = json_response(500, {"status": "error", "message": "simulator error"})
    do_OPTIONS = SimulatorHandler.do_GET

    def authorized(self, path: str) -> bool:
        return self._denial(path) is None

    def refuse(self, entry: RequestLogEntry) -> Response | None:
        return refusal(self.simulator.rate_window, entry, _TOO_MANY)

    def fault_for(self, entry: RequestLogEntry) -> Fault | None:
        return as_fault(self.simulator.fault_for(entry))

    def respond(self, entry: RequestLogEntry) -> Response:
        simulator = self.simulator
        denial = self._denial(entry.path)
        if denial is not None:
            return denial
        if entry.method != "GET":
            return METHOD_NOT_ALLOWED
        return handle_get(
            simulator.world,
            entry.path,
            entry.query,
            v2_id_style=simulator.v2_id_style,
            records_retention_days=simulator.records_retention_days,
            quirks=simulator.quirks,
            v2_variant=simulator.v2_variant,
        )

    def _denial(self, path: str) -> Response | None:
        return self.simulator.authorize(path, self.headers.get("Authorization"))


class CensusSimulator(ServedSimulator, RequestLog[RequestLogEntry]):
    """Serves a :class:`World` over HTTP like the Census API (``/api/v1`` and ``/api/v2``).

    ``/api/v1`` takes ``Bearer {token}`` (a workspace API token) and sees the syncs of
    ``world.groups[0]`` only; ``/api/v2`` takes ``Bearer {personal_access_token}`` and sees
    every group, with ids rendered in ``v2_id_style`` (see :mod:`census_simulator.v2`). The
    records of runs finished more than ``records_retention_days`` ago answer 410.
    ``faults`` (also a settable attribute; None turns injection off) injects faults into
    requests of both versions through :meth:`fault_for`; ``quirks`` (settable too) makes the
    list endpoints break documented promises (see :class:`~census_simulator.quirks.Quirks`).
    Settable switches for what Census has not published: ``v2_variant`` (moved v2 paths,
    ``group_id`` required, see :class:`~census_simulator.v2.V2Variant`); ``v1_retired_status``
    (every ``/api/v1`` request answers that status saying v1 is retired); ``foreign_tokens``
    (personal access tokens of another region's host -> that host, answered 401 naming it).
    ``rate_limit`` (limit, seconds) turns on a server-side limit Census does not publish: at
    most ``limit`` requests in any sliding window of ``seconds``, the rest answered 429 with
    ``Retry-After`` (settable as ``rate_window``; None, the default, means no limit).
    """

    handler_class = _Handler

    def __init__(
        self,
        world: World,
        token: str = "sim-token",
        latency: float = 0.0,
        faults: FaultPlan | None = None,
        *,
        personal_access_token: str = "sim-pat",
        v2_id_style: str = DEFAULT_V2_ID_STYLE,
        records_retention_days: float = DEFAULT_RECORDS_RETENTION_DAYS,
        quirks: Quirks | None = None,
        v2_variant: V2Variant | None = None,
        v1_retired_status: int | None = None,
        foreign_tokens: dict[str, str] | None = None,
        rate_limit: tuple[int, float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if records_retention_days < 0:
            raise ValueError(f"records_retention_days must be >= 0, not {records_retention_days}")
        self.world = world
        self.latency = latency
        self.faults = faults
        self.v2_id_style = v2_id_style
        self.records_retention_days = records_retention_days
        self.quirks = quirks
        self.v2_variant = v2_variant
        self.v1_retired_status = v1_retired_status
        self.rate_window = None if rate_limit is None else RateWindow(*rate_limit)
        self._foreign = {f"Bearer {t}".encode(): host for t, host in (foreign_tokens or {}).items()}
        self._expected_auth = f"Bearer {token}".encode()
        self._expected_pat_auth = f"Bearer {personal_access_token}".encode()
        ServedSimulator.__init__(self, host, port)
        RequestLog.__init__(self)

    # ---------------------------------------------------------------- urls
    @property
    def base_url(self) -> str:
        """The API base URL, ``http://host:port/api/v1``."""
        return self.root_url + API_PREFIX

    @property
    def base_url_v2(self) -> str:
        """The API v2 base URL, ``http://host:port/api/v2``."""
        return self.root_url + API_V2_PREFIX

    # ------------------------------------------------------------- options
    @property
    def v2_id_style(self) -> str:
        """How v2 renders and accepts ids: ``string``, ``integer`` or ``opaque``."""
        return self._v2_id_style

    @v2_id_style.setter
    def v2_id_style(self, style: str) -> None:
        self._v2_id_style = check_id_style(style)

    def records_expired(self, run_id: int) -> bool:
        """Whether the records endpoint answers 410 for this run now (KeyError if unknown)."""
        return self.world.records_expired(run_id, self.records_retention_days)

    # --------------------------------------------------------- decisions
    def is_authorized(self, header: str | None) -> bool:
        """Whether an Authorization header value carries the workspace (v1) bearer token."""
        if header is None:
            return False
        return hmac.compare_digest(header.encode("utf-8", "replace"), self._expected_auth)

    def authorize(self, path: str, header: str | None) -> Response | None:
        """None if the Authorization header may use ``path``, else the 401 to answer.

        Paths under ``/api/v2`` need the personal access token; any other path the workspace
        token. The other kind of token gets a message naming the right one (on ``/api/v1`` and
        ``/api/v2``); anything else the plain 401.
        """
        given = (header or "").encode("utf-8", "replace")
        is_token = header is not None and hmac.compare_digest(given, self._expected_auth)
        is_pat = header is not None and hmac.compare_digest(given, self._expected_pat_auth)
        version = api_version(path)
        if version == 1 and self.v1_retired_status is not None:
            return v1_retired(self.v1_retired_status)
        if version == 2:
            if is_pat:
                return None
            for foreign, host in self._foreign.items():
                if header is not None and hmac.compare_digest(given, foreign):
                    return foreign_token(host)
            return V2_NEEDS_PERSONAL_TOKEN if is_token else UNAUTHORIZED
        if is_token:
            return None
        return V1_NEEDS_WORKSPACE_TOKEN if is_pat and version == 1 else UNAUTHORIZED

    def fault_for(self, entry: RequestLogEntry) -> Fault | Response | None:
        """Hook for fault injection, called once per request before it is answered.

        Return None to answer normally, a :class:`Response` to send instead of the real one
        (logged as fault ``"custom"``), or a :class:`Fault`. The default asks :attr:`faults`.
        """
        plan = self.faults
        return None if plan is None else plan.decide(entry, self.world, self.v2_id_style)
