"""Live prices to every client at once, with replay after a reconnect: the broker on Starlette.

Run (from this folder, with ``pip install ".[fastapi]"``, which brings Starlette): `uvicorn broker_prices:app`,
then
`curl -N localhost:8000/prices/ACME`. One task publishes a price per symbol every 0.2 s; each publish is
encoded once and handed to every subscriber of its topic. A client that reconnects with ``Last-Event-ID``
gets the prices it missed (the broker keeps the last 1,000 per topic), or a reset frame if they are gone.
"""

import asyncio
import contextlib
import random
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route

import sse_fast
from sse_fast.integrations.starlette import SSEResponse
from sse_fast.resume import last_event_id

SYMBOLS = ("ACME", "GLOBEX", "INITECH")
broker = sse_fast.Broker()


async def publish_prices() -> None:
    prices = {symbol: 100.0 for symbol in SYMBOLS}
    while True:
        for symbol in SYMBOLS:
            prices[symbol] = round(prices[symbol] * random.uniform(0.99, 1.01), 2)
            await broker.publish(f"prices:{symbol}", {"symbol": symbol, "price": prices[symbol]})
        await asyncio.sleep(0.2)


async def prices(request):
    topic = f"prices:{request.path_params['symbol']}"
    return SSEResponse(broker.subscriber(topic, last_event_id(request.headers)))


@contextlib.asynccontextmanager
async def lifespan(app) -> AsyncIterator[None]:
    publisher = asyncio.create_task(publish_prices())
    yield
    publisher.cancel()


app = Starlette(routes=[Route("/prices/{symbol}", prices)], lifespan=lifespan)
