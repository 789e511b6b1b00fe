"""Drop-in replacements for other SSE libraries' public APIs, encoded by sse_fast's core.

``sse_fast.compat.sse_starlette`` stands in for ``sse_starlette``, ``sse_fast.compat.httpx_sse`` for
``httpx_sse``. Nothing is imported here, so ``import sse_fast.compat`` pulls in no web framework.
"""
