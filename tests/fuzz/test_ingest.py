"""``validate_reading`` on random JSON, ``IngestStage.ingest`` on random bytes, and the HTTP
ingest (aiohttp test client over ``make_app``) on random bodies: nothing but the documented
outcomes — a :class:`ReadingError`, a dead letter with a reason, a 4xx with a JSON body."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from sensors.gateway.auth import Credential, TokenStore, hash_token
from sensors.gateway.core import IngestCore
from sensors.gateway.forward import Forwarder
from sensors.gateway.http import HttpConfig, make_app
from sensors.gateway.ratelimit import SensorRateConfig
from sensors.gateway.spool import Spool
from sensors.registry import SensorRegistry
from sensors.schemas import SCHEMAS, ReadingError, validate_reading
from streams.engine import Context, IngestStage
from tests.fuzz.conftest import FUZZ

SENSORS = {
    "sensors": [
        {"id": "R1", "type": "radar", "lat": 51.5, "lon": 30.5},
        {"id": "T1", "type": "thermal", "lat": 51.5, "lon": 30.5},
        {"id": "S1", "type": "seismic", "lat": 51.5, "lon": 30.5},
        {"id": "A1", "type": "ais", "lat": 51.5, "lon": 30.5},
    ]
}
KINDS = ("radar", "thermal", "seismic", "ais")

# JSON as the json module produces it. Integers stay within a float's range here: a
# 400-digit integer is a separate case (test_huge_integers_are_refused_not_raised).
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=5)
    ),
    max_leaves=20,
)


def _field_values() -> st.SearchStrategy:
    return (
        scalars
        | st.just(time.time())
        | st.floats(-1e3, 1e6)
        | st.sampled_from(
            ["person", "boat", "footstep", "!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24"]
        )
    )


@st.composite
def near_readings(draw: st.DrawFn) -> tuple[str, dict]:
    """Readings that look almost right: real field names, wrong-ish values."""
    kind = draw(st.sampled_from(KINDS))
    names = ["sensor_id", "t", *SCHEMAS[kind], draw(st.text(max_size=8))]
    reading = {
        n: draw(_field_values())
        for n in draw(st.lists(st.sampled_from(names), unique=True, max_size=8))
    }
    if draw(st.booleans()):
        reading["sensor_id"] = draw(st.sampled_from(["R1", "T1", "S1", "A1", "X9", ""]))
    return kind, reading


def _documented(fn) -> None:  # type: ignore[no-untyped-def]
    try:
        fn()
    except ReadingError as err:
        assert err.reason and err.field


@FUZZ
@given(kind=st.sampled_from(KINDS), value=json_values)
def test_validate_reading_on_random_json(kind: str, value: object) -> None:
    _documented(lambda: validate_reading(kind, value))


@FUZZ
@given(case=near_readings(), now=st.none() | st.just(math.nan) | st.floats(0, 4e9))
def test_validate_reading_on_near_readings(case: tuple[str, dict], now: float | None) -> None:
    kind, reading = case
    _documented(lambda: validate_reading(kind, reading, now=now))


@pytest.mark.parametrize(
    "kind,reading",
    [
        ("radar", {"sensor_id": "R1", "t": 10**400, "range_m": 1, "bearing_deg": 1}),
        ("seismic", {"sensor_id": "S1", "t": 1.0, "rate_hz": 100, "samples": [10**400]}),
    ],
)
def test_huge_integers_are_refused_not_raised(kind: str, reading: dict) -> None:
    """JSON integers have no size limit (up to Python's 4300 digits) and do not fit a float."""
    with pytest.raises(ReadingError) as err:
        validate_reading(kind, reading, now=math.nan)
    assert err.value.reason == "out_of_range"


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> IngestStage:
    d = tmp_path_factory.mktemp("ctx")
    (d / "sensors.yaml").write_text(json.dumps(SENSORS))
    return IngestStage(Context.from_files(d / "sensors.yaml"))


def _check_ingest(stage: IngestStage, topic: str, value: bytes) -> None:
    res = stage.ingest(topic, value)
    assert res.accepted + len(res.deadletters) >= 1 or res.accepted == 0
    for dl in res.deadletters:
        assert dl.reason and dl.source
    for obs in res.observations:
        assert math.isfinite(obs.lat) and math.isfinite(obs.lon) and math.isfinite(obs.t)


@FUZZ
@given(
    topic=st.sampled_from(
        [
            "readings.radar",
            "readings.thermal",
            "readings.seismic",
            "readings.ais",
            "observations",
            "bogus",
        ]
    ),
    value=st.binary(max_size=300),
)
def test_ingest_stage_on_random_bytes(stage: IngestStage, topic: str, value: bytes) -> None:
    _check_ingest(stage, topic, value)


@FUZZ
@given(case=near_readings(), batch=st.booleans())
def test_ingest_stage_on_near_readings(
    stage: IngestStage, case: tuple[str, dict], batch: bool
) -> None:
    kind, reading = case
    value = json.dumps([reading, reading] if batch else reading).encode()
    _check_ingest(stage, f"readings.{kind}", value)


# ------------------------------------------------------------------ HTTP ingest


class _Http:
    """One aiohttp test server for many examples (a server per example would dominate)."""

    def __init__(self, tmp: Path) -> None:
        def unreachable():  # Kafka down: accepted readings go to the spool
            raise ConnectionRefusedError("kafka down")

        fwd = Forwarder(Spool.open(tmp / "spool"), unreachable, retry_s=3600.0)
        core = IngestCore(
            SensorRegistry.from_dict(SENSORS), fwd, sensor_rate=SensorRateConfig(enabled=False)
        )
        tokens = TokenStore({hash_token("tok"): Credential("fuzz", None)})
        cfg = HttpConfig(max_body_bytes=64 * 1024, max_readings=100, rate_per_s=1e9, burst=1e9)
        self.loop = asyncio.new_event_loop()
        self.client = TestClient(TestServer(make_app(core, tokens, cfg)), loop=self.loop)
        self.loop.run_until_complete(self.client.start_server())
        self.forwarder = fwd

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, object]:
        async def go() -> tuple[int, object]:
            resp = await self.client.post(path, data=body, headers=headers)
            text = await resp.text()
            return resp.status, json.loads(text)

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.forwarder.close()
        self.loop.close()


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    h = _Http(tmp_path_factory.mktemp("http"))
    yield h
    h.close()


AUTH = {"Authorization": "Bearer tok"}


@FUZZ
@given(
    kind=st.sampled_from([*KINDS, "nope"]),
    body=st.binary(max_size=400),
    auth=st.sampled_from(
        [
            AUTH,
            {},
            {"Authorization": "Bearer x"},
            {"Authorization": "Basic \udcff".encode("utf-8", "surrogateescape").decode("latin-1")},
        ]
    ),
)
def test_http_ingest_on_random_bodies(
    http: _Http, kind: str, body: bytes, auth: dict[str, str]
) -> None:
    status, doc = http.post(f"/ingest/{kind}", body, auth)
    assert status in (200, 400, 401, 403, 404, 413), (status, doc)
    assert isinstance(doc, dict)


@FUZZ
@given(case=st.lists(near_readings(), min_size=1, max_size=5), as_array=st.booleans())
def test_http_ingest_on_near_readings(http: _Http, case: list, as_array: bool) -> None:
    kind = case[0][0]
    readings = [r for _, r in case]
    body = (
        json.dumps(readings) if as_array else "\n".join(json.dumps(r) for r in readings)
    ).encode()
    status, doc = http.post(f"/ingest/{kind}", body, AUTH)
    assert status in (200, 403), (status, doc)
    assert isinstance(doc, dict)
    assert doc["accepted"] + len(doc["rejected"]) == len(readings)




@pytest.mark.parametrize(
    "body",
    [
        # nesting deeper than the JSON parser's recursion limit
        b"[" * 50_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"sensor_id":"R1","t":1' + b"0" * 5000 + b',"range_m":1,"bearing_deg":1}',
        b'{"sensor_id":"R1","t":1' + b"0" * 400 + b',"range_m":1,"bearing_deg":1}',
        b'{"sensor_id":"R1","t":1e999,"range_m":1,"bearing_deg":1}',
    ],
)
def test_http_ingest_hostile_bodies_get_a_4xx(http: _Http, body: bytes) -> None:
    status, doc = http.post("/ingest/radar", body, AUTH)
    assert 200 <= status < 500, (status, doc)
