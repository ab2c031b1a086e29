"""A simulator that answers chosen requests with scripted faults, through its fault hook."""

from collections.abc import Callable
from dataclasses import dataclass

from census_simulator import CensusSimulator, RequestLogEntry, Response, World
from tests.conftest import TOKEN


@dataclass
class Scripted:
    """Answer requests matching `when` with `response`, `times` times (None = always)."""

    when: Callable[[RequestLogEntry], bool]
    response: Response
    times: int | None = 1


class ScriptedSimulator(CensusSimulator):
    """CensusSimulator whose fault hook plays a script of faults."""

    def __init__(self, world: World, *script: Scripted) -> None:
        super().__init__(world, token=TOKEN)
        self.script = list(script)

    def fault_for(self, entry: RequestLogEntry) -> Response | None:
        for item in self.script:
            if item.when(entry) and (item.times is None or item.times > 0):
                if item.times is not None:
                    item.times -= 1
                return item.response
        return None


def page_of(path_suffix: str, page: str = "1") -> Callable[[RequestLogEntry], bool]:
    """Match one page of one endpoint."""
    return lambda e: e.path.endswith(path_suffix) and e.query.get("page", "1") == page
