"""The change feed's relay (streams/app.py `_relay_changes`): workers relaying side by side send
each outbox entry once, and a worker that does not hold the relay sends nothing."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.hub_events import OutboxEntry
from streams.app import _relay_changes

CREATED = datetime(2026, 12, 8, tzinfo=UTC)


class _Outbox:
    """hub.change_outbox and the relay's advisory lock, as PostgreSQL keeps them."""

    def __init__(self, entries: int) -> None:
        self.unsent = {seq: OutboxEntry(seq, f"R{seq}", "finding" if seq % 5 == 0 else "created",
                                        {}, CREATED) for seq in range(1, entries + 1)}
        self.holder: object | None = None
        self.lock = threading.Lock()


class _Store:
    """One worker's relay connection to the shared outbox (HubStore's relay methods)."""

    def __init__(self, outbox: _Outbox, page: int) -> None:
        self.outbox, self.page = outbox, page

    def take_relay(self) -> bool:
        with self.outbox.lock:
            if self.outbox.holder in (None, self):
                self.outbox.holder = self
                return True
            return False

    def leave_relay(self) -> None:
        with self.outbox.lock:
            if self.outbox.holder is self:
                self.outbox.holder = None

    def pending_changes(self) -> list[OutboxEntry]:
        with self.outbox.lock:
            return [self.outbox.unsent[seq] for seq in sorted(self.outbox.unsent)[:self.page]]

    def mark_sent(self, seqs: list[int]) -> None:
        with self.outbox.lock:
            for seq in seqs:
                self.outbox.unsent.pop(seq, None)


class _Feed:
    """A topic's producer: each send yields to the other coroutines, as a real one does."""

    def __init__(self, name: str, sent: list[tuple[str, bytes]]) -> None:
        self.name, self.sent = name, sent

    async def send(self, key: bytes, headers: Any, value: bytes) -> asyncio.Future:
        self.sent.append((self.name, key))
        await asyncio.sleep(0)
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def get_topic_name(self) -> str:
        return self.name


async def _relay_side_by_side(entries: int, workers: int, page: int, rounds: int
                              ) -> tuple[list[tuple[str, bytes]], _Outbox]:
    outbox, sent = _Outbox(entries), []
    feeds = {name: _Feed(name, sent) for name in ("changes", "findings")}
    stores = [_Store(outbox, page) for _ in range(workers)]
    for _ in range(rounds):  # the workers' timers, ticking together
        await asyncio.gather(*(_relay_changes(store, feeds) for store in stores))  # type: ignore[arg-type]
    return sent, outbox


@settings(max_examples=30, deadline=None)
@given(entries=st.integers(0, 60), workers=st.integers(1, 4), page=st.integers(1, 20),
       rounds=st.integers(1, 3))
def test_workers_relaying_side_by_side_send_each_entry_once(entries: int, workers: int,
                                                            page: int, rounds: int) -> None:
    sent, outbox = asyncio.run(_relay_side_by_side(entries, workers, page, rounds))
    assert not outbox.unsent and outbox.holder is None
    assert sorted(key for _, key in sent) == sorted(f"R{seq}".encode()
                                                    for seq in range(1, entries + 1))
    assert all((name == "findings") == (int(key[1:]) % 5 == 0) for name, key in sent)


def test_a_worker_without_the_relay_sends_nothing() -> None:
    outbox, sent = _Outbox(3), []
    outbox.holder = object()  # another worker's connection holds it
    feeds = {name: _Feed(name, sent) for name in ("changes", "findings")}
    asyncio.run(_relay_changes(_Store(outbox, 10), feeds))  # type: ignore[arg-type]
    assert sent == [] and len(outbox.unsent) == 3
