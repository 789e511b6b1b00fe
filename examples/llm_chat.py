"""Stream a model's answer token by token, resumable: FastAPI.

Run (from this folder, with ``pip install ".[fastapi]"``): `uvicorn llm_chat:app`, then
`curl -N "localhost:8000/chat?q=hello"`. Each token is an event whose id is its position, so a browser that
reconnects sends ``Last-Event-ID`` and gets the rest of the answer, not the whole of it again:
`curl -N "localhost:8000/chat?q=hello" -H "Last-Event-ID: 3"`.
"""

import asyncio
from typing import AsyncIterator

from fastapi import FastAPI

from sse_fast.integrations.fastapi import EventStream

app = FastAPI()


async def model(question: str) -> AsyncIterator[str]:
    """A stand-in for a language model's streaming API: the same tokens for the same question."""
    for token in f"You asked: {question}. Here is a streamed answer, one token at a time.".split(" "):
        await asyncio.sleep(0.05)  # the model thinking
        yield token + " "


@app.get("/chat")
async def chat(q: str, stream: EventStream):
    last = stream.last_event_id  # validated: None, an id we sent, or an unreadable one
    start = int(last) + 1 if last and last.isdecimal() else 0

    async def handler(writer):
        position = 0
        async for token in model(q):
            if position >= start:
                await writer.write_event_with_id(str(position), {"token": token})
            position += 1
        await writer.write_done()  # "data: [DONE]", as OpenAI-style clients expect

    return stream.response(handler)
