"""The floor's processor: a faust worker that stores each batch of events and does nothing else.

Started by bench/stack_floor.py, with the hub's settings in its environment. It reads the raw
topics as `sanwang process` does (the same app settings, consumer group, batch size and
wait), COPYs each batch's (topic, partition, offset, message) into `public.floor_events` and
adds the batch's size to `public.floor_progress` in the same transaction; faust commits the
offsets after. Whatever the hub's merge does per record comes on top of this.
"""

from __future__ import annotations

import io

import faust
import psycopg2

from deploy.postgres import dsn
from deploy.settings import HubSettings
from streams.app import BATCH_WITHIN_SECONDS, processor_app


def floor_app(settings: HubSettings) -> faust.App:
    """The processor's faust app (streams/app.py) with the store step left out."""
    app, raw = processor_app(settings)
    conn = psycopg2.connect(dsn(settings))

    @app.agent(raw)
    async def store_events(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.processor_batch_size,
                                               within=BATCH_WITHIN_SECONDS):
            lines = io.StringIO()
            for event in events:
                m = event.message
                lines.write(f"{m.topic}\t{m.partition}\t{m.offset}\t\\\\x{m.value.hex()}\n")
            lines.seek(0)
            with conn, conn.cursor() as cur:
                cur.copy_expert("COPY public.floor_events FROM STDIN", lines)
                cur.execute("UPDATE public.floor_progress SET stored = stored + %s",
                            (len(events),))

    return app


if __name__ == "__main__":
    faust.Worker(floor_app(HubSettings()), loglevel="warning",
                 quiet=True).execute_from_commandline()
