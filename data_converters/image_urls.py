"""Image URLs in rows: which ones the program may fetch, and the one fetch they all go through.

A questions file, an eval row, a training row or a converter's input can name an image as an `http(s)://` URL.
Fetching it sends a request, from the user's machine and network, to an address that the row's author chose:
a row from someone else could make the program read a cloud metadata service (`169.254.169.254`), a router or a
service on the private network, and write what it answered into an output (make-pairs copies image bytes). So a
row's URL is fetched only under the policy the user picked with `--image_urls`:

- `off` (the default): no URL in a row is fetched; the row's error names the flag;
- `public`: only addresses on the public internet (`ipaddress`'s `is_global`): loopback, private, link-local
  (where the metadata services live), shared, multicast and reserved ranges are refused;
- `any`: every address, e.g. an image server on this machine or the local network.

In every mode the host name is resolved once and the connection goes to the address that was checked (a name that
resolves to a private address is refused like the address; it cannot answer differently on the second look), a
redirect is followed only to the same host (at most `MAX_REDIRECTS`, each checked again), no proxy is used (an
address check means nothing through one), one deadline covers connecting, the headers and the whole body, and at
most `MAX_IMAGE_BYTES` are read. A URL typed on the command line (`generate --image URL`) is the user's own request
and is fetched under `any`.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from dataclasses import field
from urllib.parse import urljoin, urlsplit

from data_converters.parsing import ParseError
from rl_critic.ground.errors import redacted

URL_POLICIES = ("off", "public", "any")
# An image URL's server gets this long to send the whole image (a host that accepts and never answers, or sends a
# byte a second, would otherwise block the run forever); RL_CRITIC_URL_TIMEOUT overrides it.
URL_TIMEOUT_SECONDS = 30.0
MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


def image_urls_field():
    """The `image_urls` field of every command that reads rows with images."""
    return field(
        default="off",
        metadata={
            "help": "Which image URLs in the rows may be fetched: `off` (none), `public` (public internet "
            "addresses only; no loopback, private or link-local ones) or `any`. Redirects stay on the same host.",
            "choices": list(URL_POLICIES),
        },
    )


def is_url(value: object) -> bool:
    """Whether a row's image value is a URL that would be fetched (`file://` and `data:` URIs are not)."""
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def url_timeout() -> float:
    return float(os.environ.get("RL_CRITIC_URL_TIMEOUT", URL_TIMEOUT_SECONDS))


def fetch_image_url(url: str, policy: str, max_bytes: int) -> bytes:
    """The bytes at `url` under `policy` (see the module docstring); `ParseError` for a URL the policy refuses, a
    redirect to another host, an error status, an answer over `max_bytes` or one not complete within
    `url_timeout()` seconds. Every line names the URL without its credentials."""
    if policy not in URL_POLICIES:
        raise ParseError(f"--image_urls {policy!r} is not one of {', '.join(URL_POLICIES)}")
    shown = redacted(url)
    if policy == "off":
        raise ParseError(
            f"image URL {shown} is not fetched: a row's image URLs are fetched only with --image_urls public "
            "(public internet addresses) or any (every address)"
        )
    timeout = url_timeout()
    deadline = time.monotonic() + timeout
    try:
        for _ in range(MAX_REDIRECTS + 1):
            status, location, body = _get(url, policy, deadline, max_bytes)
            if status not in REDIRECT_STATUSES:
                break
            target = urljoin(url, location or "")
            if not _same_host(url, target):
                raise ParseError(f"image URL {shown} redirects to another host ({redacted(target)}): not followed")
            url = target
        else:
            raise ParseError(f"image URL {shown} redirects more than {MAX_REDIRECTS} times")
    except TimeoutError:
        raise ParseError(
            f"cannot fetch image {shown}: no complete answer within {timeout:g} s (RL_CRITIC_URL_TIMEOUT sets the "
            "limit)"
        ) from None
    except (OSError, http.client.HTTPException) as err:
        raise ParseError(f"cannot fetch image {shown}: {redacted(str(err) or type(err).__name__)}") from None
    if status != 200:
        raise ParseError(f"cannot fetch image {shown}: the server answered HTTP {status}")
    if not body:
        raise ParseError(f"cannot fetch image {shown}: the server answered with no bytes")
    return body


def _get(url: str, policy: str, deadline: float, max_bytes: int) -> tuple[int, str | None, bytes]:
    """(status, Location header, body) of one GET, connected to an address `policy` allows; a watchdog closes the
    connection at `deadline`, so no read (headers included) can wait past it."""
    try:
        parts = urlsplit(url)
        https = parts.scheme.lower() == "https"
        port = parts.port or (443 if https else 80)
    except ValueError as err:  # "Port out of range 0-65535", "Invalid IPv6 URL"
        raise ParseError(f"image URL {redacted(url)} is not a valid URL ({err})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ParseError(f"image URL {redacted(url)} is not an http(s) URL with a host")
    address = _allowed_address(parts.hostname, port, policy, redacted(url))
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    sock = socket.create_connection((address, port), timeout=remaining)
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    watchdog = threading.Timer(max(deadline - time.monotonic(), 0), cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        if https:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        connection = http.client.HTTPConnection(parts.hostname, port)
        connection.sock = sock  # already connected to the checked address; http.client only speaks HTTP on it
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", target, headers={"Host": parts.netloc.rsplit("@", 1)[-1], "Accept": "image/*"})
        response = connection.getresponse()
        if response.status != 200:
            return response.status, response.getheader("Location"), b""
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ParseError(f"image at {redacted(url)} is over {max_bytes // 2**20} MB")
        chunks, size = [], 0
        # read1: what has arrived, at most 64 kB, so the size check runs as the bytes come
        while chunk := response.read1(1 << 16):
            size += len(chunk)
            if size > max_bytes:
                raise ParseError(f"image at {redacted(url)} is over {max_bytes // 2**20} MB")
            chunks.append(chunk)
        if expired.is_set():
            raise TimeoutError
        return 200, None, b"".join(chunks)
    except (OSError, http.client.HTTPException):
        if expired.is_set():
            raise TimeoutError from None
        raise
    finally:
        watchdog.cancel()
        sock.close()


def _allowed_address(host: str, port: int, policy: str, shown: str) -> str:
    """The first address `host` resolves to that `policy` allows; `ParseError` naming the address when none is."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise ParseError(f"cannot fetch image {shown}: cannot resolve {host} ({err.strerror})") from None
    refused = []
    for info in infos:
        address = info[4][0]
        reason = address_refusal(address, policy)
        if reason is None:
            return address
        refused.append(f"{address} is {reason}")
    raise ParseError(
        f"image URL {shown} is not fetched: {'; '.join(dict.fromkeys(refused))} (--image_urls public fetches public "
        "internet addresses only; --image_urls any allows every address)"
    )


def address_refusal(address: str, policy: str) -> str | None:
    """Why `policy` refuses `address` ("a private address", ...), or None when it may be fetched."""
    if policy == "any":
        return None
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            article = "an" if kind == "unspecified" else "a"
            return f"{article} {kind.replace('_', '-')} address"
    return None if ip.is_global else "not a public internet address"


def _same_host(url: str, target: str) -> bool:
    first, second = urlsplit(url), urlsplit(target)
    return (first.hostname or "").lower() == (second.hostname or "").lower()
