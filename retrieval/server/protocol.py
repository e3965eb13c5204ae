"""uvicorn's HTTP protocol (httptools) with limits on the URL and the headers, and JSON for what it refuses.

uvicorn keeps every header it is sent (200 KB of headers, or 20,000 of them,
were accepted) and answers a URL its parser cannot split (over 64 KiB) or a
request that is not HTTP with a plain-text 400. Here a URL over ``MAX_URL_BYTES``
or headers over ``MAX_HEADER_BYTES`` / ``MAX_HEADERS`` stop being kept; the
request then reaches the app with ``scope["state"]["refused"]`` set, and the
guard answers it 414 or 431 as JSON with the index generation like any other
answer. A request that is not HTTP at all is answered 400 as JSON.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_URL_BYTES = 65_535  # httptools cannot split a longer one
MAX_HEADER_BYTES = 65_536
MAX_HEADERS = 100


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that keeps at most ``MAX_URL_BYTES`` of URL and ``MAX_HEADER_BYTES`` of headers."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.refused = None
        self.header_bytes = 0

    def on_url(self, url: bytes) -> None:
        if self.refused is not None:
            return
        if len(self.url) + len(url) > MAX_URL_BYTES:
            self.refused = (
                414,
                f"the URL is over {MAX_URL_BYTES:,} bytes: send a long query as "
                'POST /search with {"queries": ["..."]}',
            )
            self.url = b"/"
            return
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.refused is not None:
            return
        self.header_bytes += len(name) + len(value)
        if self.header_bytes > MAX_HEADER_BYTES or len(self.headers) >= MAX_HEADERS:
            self.refused = (431, f"the request's headers are over {MAX_HEADER_BYTES:,} bytes or {MAX_HEADERS} headers")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.refused is not None:
            self.scope["state"]["refused"] = self.refused  # the guard answers it, through the app
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"error": "the request is not valid HTTP/1.1"}).encode()
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: ",
            str(len(body)).encode(),
            b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(head))
        self.transport.close()
