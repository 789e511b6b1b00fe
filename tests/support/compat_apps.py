"""Source text of the compat app that the subprocess tests of the sse-starlette drop-in serve: one stream that
says "started", waits for its ``shutdown_event`` and says "farewell" within a 5 s grace. The file that uses it
imports ``anyio`` and an ``EventSourceResponse`` first."""

FAREWELL_APP = """
async def app(scope, receive, send):
    stop = anyio.Event()

    async def content():
        yield "started"
        await stop.wait()
        yield "farewell"

    await EventSourceResponse(content(), shutdown_event=stop, shutdown_grace_period=5)(scope, receive, send)
"""
