"""Drop-in replacements for other SSE libraries' public APIs, encoded by sse_fast's core.

``sse_fast.compat.sse_starlette`` stands in for ``sse_starlette``. Nothing is imported here, so
``import sse_fast.compat`` pulls in no web framework.
"""
