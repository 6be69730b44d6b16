"""A TCP proxy in the test's event loop, to make a real PostgreSQL or Redis vanish or stall
for one app without touching the server every other test shares."""

from __future__ import annotations

import asyncio
import contextlib

from tests.support.mailbox import free_port


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        # Held before each answer from the server is passed on: a slow server, not a dead one.
        self.answer_delay_seconds = 0.0
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)

    async def _connect(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        self._writers |= {client_w, upstream_w}
        await asyncio.gather(
            self._pipe(client_r, upstream_w),
            self._pipe(upstream_r, client_w, answers=True),
            return_exceptions=True,
        )
        for writer in (client_w, upstream_w):
            self._writers.discard(writer)
            writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, answers: bool = False
    ) -> None:
        while data := await reader.read(65536):
            if answers and self.answer_delay_seconds:
                await asyncio.sleep(self.answer_delay_seconds)
            await self._flowing.wait()  # paused: hold the bytes, the peer waits
            writer.write(data)
            await writer.drain()
        writer.close()

    def pause(self) -> None:
        """Stall every connection: bytes stop flowing but nothing is closed."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones, as a stopped server would."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        self.resume()
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        self.resume()
        with contextlib.suppress(Exception):
            await self.cut()
