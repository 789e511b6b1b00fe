"""A long job's progress, as percent events and a last "done" event: Flask on waitress.

Run (from this folder, with ``pip install ".[flask]"``):
`waitress-serve --listen=127.0.0.1:8000 --threads 16 flask_progress:app`, then
`curl -N localhost:8000/jobs/7/progress`. The view's handler runs on a thread of its own and writes as
the work goes; if the client leaves, its next write raises ``ClientDisconnected`` and the work stops.
"""

import time

from flask import Flask

from sse_fast.integrations.flask import sse_response

app = Flask(__name__)


@app.get("/jobs/<int:job>/progress")
def progress(job: int):
    def handler(writer):
        for step in range(1, 11):
            time.sleep(0.1)  # one tenth of the work
            writer.write_event_with_name("progress", {"job": job, "percent": step * 10})
        writer.write_event_with_name("done", {"job": job, "result": f"/jobs/{job}/result"})

    return sse_response(handler)
