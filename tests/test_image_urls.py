"""Issue 43, class 2: a row's image URL makes the program fetch only what the user allowed (`--image_urls`).

No test sends traffic anywhere but 127.0.0.1: the private and link-local addresses are refused before any
connection, which the listeners below count.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from data_converters.image_urls import address_refusal, fetch_image_url
from data_converters.images import ImageFolder, image_ref
from data_converters.parsing import ParseError
from tests.cli_batch import Command, run_commands
from tests.test_hostile_inputs import TINY_ANSWER, png_bytes, write_jsonl

RED, BLUE = png_bytes(colour=(220, 30, 30)), png_bytes(colour=(30, 30, 220))


class ScriptedImages:
    """A loopback HTTP server whose paths answer as scripted (`status`, headers, body); it counts requests."""

    def __init__(self, routes: dict[str, tuple[int, dict[str, str], bytes]]) -> None:
        self.routes, self.requests = routes, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.requests.append(self.path)
                status, headers, body = owner.routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> ScriptedImages:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def servers():
    """Two image hosts: `home` (127.0.0.1) and `other`, reached as `localhost`, a different host name."""
    with ScriptedImages({"/blue.png": (200, {}, BLUE)}) as other:
        routes = {
            "/red.png": (200, {"Content-Type": "image/png"}, RED),
            "/moved": (302, {"Location": "/red.png"}, b""),
            "/away": (302, {"Location": other.url("/blue.png", host="localhost")}, b""),
            "/loop": (302, {"Location": "/loop"}, b""),
            "/empty": (200, {}, b""),
        }
        with ScriptedImages(routes) as home:
            yield home, other


def test_which_addresses_public_refuses():
    refused = {
        "127.0.0.1": "a loopback address",
        "::1": "a loopback address",
        "10.0.0.1": "a private address",
        "192.168.1.1": "a private address",
        "::ffff:10.0.0.1": "a private address",  # an IPv4-mapped IPv6 address is its IPv4 one
        "169.254.169.254": "a link-local address",  # the cloud metadata service
        "fe80::1": "a link-local address",
        "0.0.0.0": "an unspecified address",
        "224.0.0.1": "a multicast address",
        "240.0.0.1": "a reserved address",
        "100.64.0.1": "not a public internet address",  # carrier-grade NAT
    }
    for address, reason in refused.items():
        assert address_refusal(address, "public") == reason, address
        assert address_refusal(address, "any") is None
    for address in ("93.184.216.34", "8.8.8.8", "2606:4700::1111"):
        assert address_refusal(address, "public") is None


def test_no_url_is_fetched_unless_allowed_and_public_reaches_no_private_address(servers):
    home, _ = servers
    url = home.url("/red.png")
    with pytest.raises(ParseError, match=r"is not fetched: a row's image URLs are fetched only with --image_urls"):
        image_ref(url, ImageFolder(None, None))
    with pytest.raises(ParseError, match=r"is not fetched"):
        image_ref({"path": url, "bytes": None}, ImageFolder(None, None))  # datasets' struct, same rule
    public = ImageFolder(None, None, "public")
    for refused, reason in (
        (url, "127.0.0.1 is a loopback address"),
        (home.url("/red.png", host="localhost"), "is a loopback address"),  # a name is judged by what it resolves to
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.1/x.png", "10.0.0.1 is a private address"),
        ("https://[fe80::1]/x.png", "fe80::1 is a link-local address"),
        ("http://2130706433/x.png", "127.0.0.1 is a loopback address"),  # 127.0.0.1 written as one number
    ):
        with pytest.raises(ParseError) as caught:
            image_ref(refused, public)
        assert reason in str(caught.value) and "--image_urls any allows every address" in str(caught.value)
    assert home.requests == []
    assert image_ref(url, ImageFolder(None, None, "any")) == {"bytes": RED, "path": "red.png"}
    assert home.requests == ["/red.png"]


def test_redirects_stay_on_the_host_and_every_answer_is_checked(servers):
    home, other = servers
    fetch = lambda path: fetch_image_url(home.url(path), "any", 2**20)  # noqa: E731
    assert fetch("/moved") == RED
    with pytest.raises(ParseError, match=r"redirects to another host \(http://localhost:\d+/blue.png\): not followed"):
        fetch("/away")
    assert other.requests == []
    with pytest.raises(ParseError, match="redirects more than 5 times"):
        fetch("/loop")
    for broken in ("http://127.0.0.1:99999/x.png", "http://[::1/x.png"):
        with pytest.raises(ParseError, match=r"is not a valid URL \((Port out of range|Invalid IPv6 URL)"):
            fetch_image_url(broken, "any", 2**20)
    with pytest.raises(ParseError, match="the server answered HTTP 404"):
        fetch("/missing.png")
    with pytest.raises(ParseError, match="the server answered with no bytes"):
        fetch("/empty")
    with pytest.raises(ParseError, match="is over 0 MB"):
        fetch_image_url(home.url("/red.png"), "any", 100)
    # Credentials in a row's URL never reach an error line
    with pytest.raises(ParseError) as caught:
        fetch_image_url(home.url("/missing.png").replace("//", "//reader:hunter22@"), "any", 2**20)
    assert "hunter22" not in str(caught.value) and "http://***@127.0.0.1" in str(caught.value)


@pytest.mark.parametrize(
    "sent_at_once, dripped",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n", b"x" * 500),
        (b"", b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n" * 100),
    ],
    ids=["body", "headers"],
)
def test_a_host_that_drips_its_answer_is_cut_at_the_budget(monkeypatch, sent_at_once, dripped):
    """Issue 43, waits: one byte every 0.2 s, each read within the socket timeout, of the body or of the headers:
    the image's whole budget (`RL_CRITIC_URL_TIMEOUT`) still ends it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def drip():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(sent_at_once)
        for byte in dripped:
            if stop.is_set():
                break
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.2)
        connection.close()

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    monkeypatch.setenv("RL_CRITIC_URL_TIMEOUT", "1")
    start = time.monotonic()
    try:
        with pytest.raises(ParseError, match="no complete answer within 1 s"):
            fetch_image_url(f"http://127.0.0.1:{listener.getsockname()[1]}/slow.png", "any", 2**20)
        assert time.monotonic() - start < 3
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def records_of(path):
    import json

    return [json.loads(line) for line in path.read_text().splitlines()]


def test_make_pairs_fetches_row_urls_only_as_the_flag_allows(tmp_path, servers):
    import pyarrow.parquet as pq

    home, other = servers
    question = {"question": "What colour is the shape?", "answer": "red"}
    questions = write_jsonl(
        tmp_path / "questions.jsonl",
        [
            {"id": "metadata", "image": "http://169.254.169.254/latest/meta-data/iam/x.png", **question},
            {"id": "private", "image": "http://10.0.0.1/x.png", **question},
            {"id": "away", "image": home.url("/away"), **question},
            {"id": "home", "image": home.url("/moved"), **question},
        ],
    )
    # `any` fetches every address: it gets only the loopback rows (no test sends traffic off this machine)
    local = write_jsonl(
        tmp_path / "local.jsonl", [row for row in map(dict, records_of(questions)) if "127" in row["image"]]
    )
    outs = {policy: tmp_path / f"{policy}.parquet" for policy in ("off", "public", "any")}
    results = run_commands(
        [
            Command(["make-pairs", *TINY_ANSWER, "--input", str(questions), "--out", str(outs["off"])]),
            Command(
                ["make-pairs", *TINY_ANSWER, "--input", str(questions), "--out", str(outs["public"])]
                + ["--image_urls", "public"]
            ),
        ]
    )
    # Nothing fetched, nothing written: every question unusable, one line that names the flag
    assert results[0].returncode != 0 and not outs["off"].exists()
    assert "no pair made: {'unusable question': 4} (nothing written)" in results[0].last_line
    assert "fetched only with --image_urls public" in results[0].last_line
    assert results[1].returncode != 0 and not outs["public"].exists()
    assert "169.254.169.254 is a link-local address" in results[1].last_line
    assert home.requests == []
    results += run_commands(
        [Command(["make-pairs", *TINY_ANSWER, "--input", str(local), "--out", str(outs["any"]), "--image_urls", "any"])]
    )
    assert results[2].returncode == 0, results[2].stderr[-1500:]
    assert "unusable question: 1" in results[2].stdout and "redirects to another host" in results[2].stdout
    rows = pq.read_table(outs["any"]).to_pylist()
    assert rows and {row["image"]["bytes"] for row in rows} == {RED}
    assert other.requests == []
