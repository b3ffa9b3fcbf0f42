"""Outbound HTTP: the SSRF guard refuses before connecting; retries are bounded and honest.

Refusal tests never send a packet to the refused address: the guard fails before the
transport is called (asserted with a transport that records every call), or, for the
default transport, before its connection pool dials.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from http_fault_server import FaultServer, Reply, Seen, json_reply, local_context, serving

from civicstat.connectors._guard import Guard, RefusedAddress, redact
from civicstat.connectors._net import Net, NetworkOptions, parse_retry_after
from civicstat.connectors.base import ConnectorContext, ConnectorError

FAST = NetworkOptions(timeout=0.3, retries=2, backoff=1.0, max_retry_delay=30.0)


def ok(seen: Seen) -> Reply:
    return json_reply({"path": seen.path})


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with serving(ok) as running:
        yield running


class Recorder:
    """A transport that must never be reached: it records what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.sent.append(request)
            return httpx.Response(200, json=[])

        return httpx.MockTransport(handle)


def net_for(context: ConnectorContext, slept: list[float], **kw: object) -> Net:
    return Net(context, FAST, sleep=slept.append, jitter=lambda: 0.0, **kw)  # type: ignore[arg-type]


# --- the guard --------------------------------------------------------------------------

FORBIDDEN = [
    "http://10.0.0.1/data.json",
    "http://192.168.1.1/data.json",
    "http://172.16.5.4/data.json",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/data.json",
    "http://[fd00::1]/data.json",
    "http://127.0.0.1:9/data.json",
    "http://0.0.0.0/data.json",
    "http://224.0.0.1/data.json",
    "http://[::ffff:10.0.0.1]/data.json",
    "http://2130706433/data.json",  # 127.0.0.1 written as one number
    "http://localhost/data.json",  # a name that resolves to loopback
]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_guard_refuses_internal_addresses_without_sending_anything(
    tmp_path: Path, url: str
) -> None:
    recorder = Recorder()
    context = ConnectorContext(tmp_path, transport=recorder.transport())
    with net_for(context, []) as net, pytest.raises(RefusedAddress, match=r"network\.allow"):
        net.request("GET", url)
    assert recorder.sent == []


@pytest.mark.parametrize("url", FORBIDDEN[:6])
def test_the_default_transport_refuses_before_dialling(tmp_path: Path, url: str) -> None:
    with net_for(ConnectorContext(tmp_path), []) as net, pytest.raises(RefusedAddress):
        net.request("GET", url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x.csv"])
def test_guard_refuses_schemes_other_than_http(tmp_path: Path, url: str) -> None:
    recorder = Recorder()
    context = ConnectorContext(tmp_path, transport=recorder.transport())
    with net_for(context, []) as net, pytest.raises(RefusedAddress, match="only http and https"):
        net.request("GET", url)
    assert recorder.sent == []


def test_a_public_address_passes_the_guard(tmp_path: Path) -> None:
    recorder = Recorder()
    context = ConnectorContext(tmp_path, transport=recorder.transport())
    with net_for(context, [], resolve=lambda host, port: ["93.184.216.34"]) as net:
        assert net.request("GET", "https://data.example.gov/x.json").status_code == 200
    assert len(recorder.sent) == 1


def test_one_internal_answer_among_public_ones_is_enough_to_refuse() -> None:
    guard = Guard((), resolve=lambda host, port: ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(RefusedAddress, match=r"data\.example\.gov \(10\.1\.2\.3\): a private"):
        guard.addresses("data.example.gov", 443)


def test_allow_lists_hosts_and_cidr_ranges() -> None:
    resolve = {"gis.city.local": ["10.20.0.7"], "erp.city.local": ["10.30.0.9"]}
    guard = Guard(
        ["gis.city.local", "10.30.0.0/16"], resolve=lambda host, port: resolve[host.lower()]
    )
    assert guard.addresses("GIS.city.local", 443) == ["10.20.0.7"]
    assert guard.addresses("erp.city.local", 443) == ["10.30.0.9"]
    with pytest.raises(RefusedAddress):
        Guard(["10.30.0.0/16"], resolve=lambda host, port: ["10.31.0.1"]).addresses("x", 80)


def test_an_allowed_local_server_is_reached(tmp_path: Path, server: FaultServer) -> None:
    with net_for(local_context(tmp_path), []) as net:
        assert net.request("GET", server.url("/a")).json() == {"path": "/a"}


def test_an_allowed_host_name_tries_each_of_its_addresses(
    tmp_path: Path, server: FaultServer
) -> None:
    """``localhost`` may resolve to ::1 first, where nothing listens; 127.0.0.1 answers."""
    port = server.base_url.rsplit(":", 1)[1]
    context = local_context(tmp_path, allow=("localhost",))
    with net_for(context, []) as net:
        assert net.request("GET", f"http://localhost:{port}/b").json() == {"path": "/b"}


@pytest.mark.parametrize(
    "target", ["http://10.0.0.1/internal", "http://169.254.169.254/latest/meta-data/"]
)
def test_a_redirect_from_an_allowed_host_to_a_forbidden_one_is_refused(
    tmp_path: Path, target: str
) -> None:
    with serving(lambda seen: Reply(302, headers={"Location": target})) as server:
        with net_for(local_context(tmp_path), []) as net, pytest.raises(RefusedAddress):
            net.request("GET", server.url("/start"))
        assert [s.path for s in server.requests] == ["/start"]


def test_a_name_that_rebinds_to_an_internal_address_after_the_check_is_refused(
    tmp_path: Path,
) -> None:
    """The default transport resolves again when it dials and dials only what it checked."""
    answers = iter([["93.184.216.34"], ["10.0.0.1"]])
    with (
        net_for(ConnectorContext(tmp_path), [], resolve=lambda host, port: next(answers)) as net,
        pytest.raises(RefusedAddress, match=r"10\.0\.0\.1"),
    ):
        net.request("GET", "http://rebind.example/x.json")


def test_redirects_are_followed_and_credentials_stay_with_their_origin(tmp_path: Path) -> None:
    with serving(ok) as other:
        moved = Reply(301, headers={"Location": other.url("/moved")})
        with serving(lambda seen: moved) as first:
            with net_for(local_context(tmp_path), [], secret_headers=["X-App-Token"]) as net:
                response = net.request(
                    "GET",
                    first.url("/old"),
                    headers={"Authorization": "Bearer s3cret", "X-App-Token": "t0ken"},
                )
            assert response.json() == {"path": "/moved"}
            assert first.requests[0].headers["x-app-token"] == "t0ken"
        assert "authorization" not in other.requests[0].headers
        assert "x-app-token" not in other.requests[0].headers


def test_a_redirect_loop_is_cut_off(tmp_path: Path) -> None:
    with (
        serving(lambda seen: Reply(302, headers={"Location": "/again"})) as server,
        net_for(local_context(tmp_path), []) as net,
        pytest.raises(ConnectorError, match="more than 10 redirects"),
    ):
        net.request("GET", server.url("/again"))


# --- retries ----------------------------------------------------------------------------


def test_5xx_is_retried_with_exponential_backoff(tmp_path: Path, server: FaultServer) -> None:
    server.inject(Reply(500), Reply(503))
    slept: list[float] = []
    with net_for(local_context(tmp_path), slept) as net:
        assert net.request("GET", server.url("/x")).status_code == 200
    assert slept == [1.0, 2.0]
    assert len(server.requests) == 3


def test_backoff_has_a_small_jitter_and_a_ceiling(tmp_path: Path, server: FaultServer) -> None:
    server.inject(Reply(502), Reply(502), Reply(502))
    slept: list[float] = []
    options = NetworkOptions(timeout=1, retries=3, backoff=10, max_retry_delay=25)
    net = Net(local_context(tmp_path), options, sleep=slept.append, jitter=lambda: 1.0)
    with net:
        net.request("GET", server.url("/x"))
    assert slept == [11.0, 22.0, 25.0]


def test_429_waits_as_long_as_retry_after_says(tmp_path: Path, server: FaultServer) -> None:
    server.inject(Reply(429, headers={"Retry-After": "7"}))
    slept: list[float] = []
    with net_for(local_context(tmp_path), slept) as net:
        assert net.request("GET", server.url("/x")).status_code == 200
    assert slept == [7.0]


def test_retry_after_as_an_http_date_is_honoured_and_capped(
    tmp_path: Path, server: FaultServer
) -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    soon = email.utils.format_datetime(now + dt.timedelta(seconds=20), usegmt=True)
    late = email.utils.format_datetime(now + dt.timedelta(hours=2), usegmt=True)
    server.inject(
        Reply(429, headers={"Retry-After": soon}), Reply(503, headers={"Retry-After": late})
    )
    slept: list[float] = []
    with net_for(local_context(tmp_path), slept, now=lambda: now) as net:
        net.request("GET", server.url("/x"))
    assert slept == [20.0, 30.0]


def test_giving_up_says_what_failed_where_and_how_often(
    tmp_path: Path, server: FaultServer
) -> None:
    server.inject(*[Reply(500, b"oops")] * 3)
    with net_for(local_context(tmp_path), []) as net, pytest.raises(ConnectorError) as caught:
        net.request("GET", server.url("/data?$limit=5&api_key=k3y&token=t0k"))
    message = str(caught.value)
    assert "HTTP 500" in message
    assert "gave up after 3 attempts" in message
    assert "/data?$limit=5&api_key=***&token=***" in message
    assert "k3y" not in message
    assert "t0k" not in message


def test_a_stall_beyond_the_timeout_is_retried(tmp_path: Path, server: FaultServer) -> None:
    server.inject(Reply(200, b"{}", stall=2.0))
    slept: list[float] = []
    with net_for(local_context(tmp_path), slept) as net:
        assert net.request("GET", server.url("/slow")).json() == {"path": "/slow"}
    assert slept == [1.0]


def test_a_source_that_keeps_timing_out_fails_clearly(tmp_path: Path, server: FaultServer) -> None:
    server.inject(*[Reply(200, b"{}", stall=2.0)] * 2)
    options = NetworkOptions(timeout=0.2, retries=1)
    net = Net(local_context(tmp_path), options, sleep=lambda s: None)
    with net, pytest.raises(ConnectorError, match=r"timed out \(ReadTimeout\).*after 2 attempts"):
        net.request("GET", server.url("/slow"))


def test_a_body_cut_before_its_content_length_is_retried(
    tmp_path: Path, server: FaultServer
) -> None:
    server.inject(Reply(200, b'{"path": "/cut", "more": "....."}', cut_after=10))
    with net_for(local_context(tmp_path), []) as net:
        assert net.request("GET", server.url("/cut")).json() == {"path": "/cut"}


def test_a_body_that_is_always_cut_short_fails_after_the_retries(
    tmp_path: Path, server: FaultServer
) -> None:
    server.inject(*[Reply(200, b'{"rows": [1, 2, 3]}', cut_after=8)] * 3)
    with (
        net_for(local_context(tmp_path), []) as net,
        pytest.raises(ConnectorError, match=r"closed before the whole response.*3 attempts"),
    ):
        net.request("GET", server.url("/cut"))


def test_a_client_error_is_not_retried(tmp_path: Path, server: FaultServer) -> None:
    server.inject(Reply(404, b'{"message": "no such dataset"}'))
    slept: list[float] = []
    with (
        net_for(local_context(tmp_path), slept) as net,
        pytest.raises(ConnectorError, match=r"answered HTTP 404 Not Found: .*no such dataset"),
    ):
        net.request("GET", server.url("/missing"))
    assert slept == []
    assert len(server.requests) == 1


def test_a_refused_connection_is_retried_then_reported(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slept: list[float] = []
    with (
        net_for(local_context(tmp_path), slept) as net,
        pytest.raises(ConnectorError, match=r"ConnectError.*after 3 attempts"),
    ):
        net.request("GET", f"http://127.0.0.1:{port}/x")
    assert slept == [1.0, 2.0]


# --- small parts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("Wed, 01 May 2024 12:01:00 GMT", 60.0),
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date(
    header: str | None, seconds: float | None
) -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after(header, now) == seconds


def test_redact_hides_credentials_and_secret_looking_parameters() -> None:
    url = "https://user:pw@gis.example.org/query?where=1%3D1&token=abc&sig=x&f=geojson"
    assert redact(url) == "https://gis.example.org/query?where=1%3D1&token=***&sig=***&f=geojson"
    assert redact("https://a.example/x?code=1", secret_params=["code"]) == (
        "https://a.example/x?code=***"
    )
    assert redact("http://[::1]:8080/x") == "http://[::1]:8080/x"
