# cython: language_level=3
"""The compiled twin of ``_sender_py.py`` beside it: ``Sender``, an ``AsyncWriter``'s write path, whole;
same behaviour and errors (the twin's docstrings say what each step does, and why).

The twin's ``write`` and ``_send`` are coroutines; here each returns a ``_Write``, an awaitable object that
does the same steps when first resumed and then hands each resume straight to the sink's own awaitable. A
paced event so costs one small object instead of a Python frame and a coroutine. ``_Write`` is the one send
step: a write's, ``flush``'s and the sender task's. ``write_event`` (``AsyncWriter``'s, the token-by-token
path) spares one more Python frame per event.
"""

cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

import asyncio
from asyncio import current_task
from collections.abc import Coroutine
from functools import partial
from time import monotonic
from types import SimpleNamespace
from warnings import warn as _warn

from sse_fast._encoder import encode_json
from sse_fast._endings import IS_CLOSED, read_nothing, send_failed
from sse_fast.context import CLIENT_DISCONNECTED, CLOSED, SEND_TIMEOUT
from sse_fast.writer._sender_common import HIGH_WATER as _HIGH_WATER, MARK_EVERY as _MARK_EVERY
from sse_fast.writer._sender_common import beat_silence, resumed, uncancel
from sse_fast.writer.base import HEARTBEAT, State

cdef extern from *:
    """
    /* Resume the iterator ``it`` with ``arg``, as PyIter_Send does (3.10+): 1 and *res the value it yields,
       0 and *res its return value, -1 with an exception set. */
    #if PY_VERSION_HEX >= 0x030A0000
    static int sse_fast_send(PyObject *it, PyObject *arg, PyObject **res) {
        return (int)PyIter_Send(it, arg, res);
    }
    #else
    static int sse_fast_send(PyObject *it, PyObject *arg, PyObject **res) {
        PyObject *r;
        if (arg == Py_None && PyIter_Check(it)) {
            r = Py_TYPE(it)->tp_iternext(it);
        } else {
            r = PyObject_CallMethod(it, "send", "O", arg);
        }
        if (r != NULL) { *res = r; return 1; }
        if (!PyErr_Occurred()) { Py_INCREF(Py_None); *res = Py_None; return 0; }
        if (PyErr_ExceptionMatches(PyExc_StopIteration) && _PyGen_FetchStopIterationValue(res) == 0) return 0;
        *res = NULL;
        return -1;
    }
    #endif

    /* What ``await aw`` resumes: a coroutine or generator itself (3.10+), else what its __await__ returns;
       before 3.10 a generator has no __await__, so a @types.coroutine one (``resumed``) is taken as it is. */
    static PyObject *sse_fast_awaited(PyObject *aw) {
        PyAsyncMethods *am;
    #if PY_VERSION_HEX >= 0x030A0000
        if (PyCoro_CheckExact(aw) || PyGen_CheckExact(aw)) { Py_INCREF(aw); return aw; }
    #else
        if (PyGen_CheckExact(aw) &&
                (((PyCodeObject *)((PyGenObject *)aw)->gi_code)->co_flags & CO_ITERABLE_COROUTINE)) {
            Py_INCREF(aw);
            return aw;
        }
    #endif
        am = Py_TYPE(aw)->tp_as_async;
        if (am != NULL && am->am_await != NULL) return am->am_await(aw);
        PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression", Py_TYPE(aw)->tp_name);
        return NULL;
    }

    /* time.monotonic(), without the call: the clock Python's own time.monotonic() reads */
    static double sse_fast_monotonic(void) {
    #if PY_VERSION_HEX >= 0x030D0000
        PyTime_t t;
        if (PyTime_Monotonic(&t) < 0) { PyErr_Clear(); return 0.0; }  /* fails only on a broken clock */
        return PyTime_AsSecondsDouble(t);
    #else
        return _PyTime_AsSecondsDouble(_PyTime_GetMonotonicClock());
    #endif
    }

    static void sse_fast_set_iternext(PyObject *type, iternextfunc next) {
        ((PyTypeObject *)type)->tp_iternext = next;
    }
    """
    int sse_fast_send(object it, object arg, PyObject **res) except -1
    object sse_fast_awaited(object aw)
    ctypedef PyObject *(*iternextfunc)(PyObject *)
    void sse_fast_set_iternext(object type, iternextfunc next)
    double sse_fast_monotonic()

cdef object _OPEN = State.OPEN
cdef object INLINE = object()  # stands for the sender task while a write goes straight to the sink
cdef Py_ssize_t HIGH_WATER = _HIGH_WATER
cdef Py_ssize_t MARK_EVERY = _MARK_EVERY

# _Write.step
cdef enum:
    NEW = 0  # not resumed yet
    SENDING = 1  # the frame is in the sink: resumes go to the sink's awaitable
    WAITING = 2  # queued past HIGH_WATER: resumes go to wait_for_room()
    OVER = 3


cdef class _Write


cdef class Sender:
    """The queue of frames not yet handed to the sink, the send in flight, and the one task that hands them over."""

    cdef public object _writer, _loop, _sink, _send_timeout, _task, _started, _watchdog, _caller, _room, _beat_frame
    cdef public object _default
    cdef public double last_write
    cdef public list pending
    cdef public Py_ssize_t size, _holds, _every, _unmarked
    cdef public Py_ssize_t frames, written, heartbeats  # what was written (see the twin)
    cdef public double _beat_every
    cdef public bint stopped, _kick_due

    def __init__(self, writer, loop, sink, send_timeout, default=None):
        self._writer = writer
        self._loop = loop
        self._sink = sink
        self._send_timeout = send_timeout
        self._task = None
        self._started = None
        self._watchdog = None
        self._caller = None
        self.pending = None  # made at the first queued frame
        self.size = 0
        self.stopped = False
        self._holds = 0
        self._kick_due = False
        self._every = 1
        self._unmarked = 0
        self._room = None
        self._beat_every = 0.0
        self._beat_frame = HEARTBEAT
        self._default = default
        self.last_write = sse_fast_monotonic()
        self.frames = 0
        self.written = 0
        self.heartbeats = 0

    def write(self, frame):
        """The writer's write of ``frame`` (see the twin); awaitable once."""
        return self._send(None, frame)

    cdef _Write _send(self, send, frame):
        """``await send(frame)`` (``send()`` when ``frame`` is None: the response start), bounded by the
        watchdog: the one send step of every path. ``send`` None: the writer's write of ``frame``, whose
        steps come first (it may queue instead)."""
        cdef _Write w = _Write.__new__(_Write)
        w.sender = self
        w.via = send
        w.frame = frame
        return w

    def queue(self, frame, start=True):
        """Add ``frame``; the sender starts at the end of this loop turn (``start=False``: at ``kick()``)."""
        self._queue(frame, start)

    cdef int _queue(self, frame, bint start) except -1:
        cdef Py_ssize_t size = len(frame)
        if self.pending is None:
            self.pending = [frame]
        else:
            self.pending.append(frame)
        self.size += size
        self.frames += 1
        self.written += size
        if start and self._task is None and not self._kick_due:
            self._kick_due = True
            self._loop.call_soon(self._due_kick)
        return 0

    def kick(self):
        """Start the sender for what is queued (nothing if it runs already)."""
        if self.pending and self._task is None and not self.stopped:
            self._task = self._loop.create_task(self._drain())

    def send_now(self):
        """Hand what is queued to the sink from the caller, with no task unless the send waits (see the twin)."""
        cdef PyObject *res = NULL
        cdef int status
        if not self.pending or self._task is not None or self.stopped:
            return
        self._task = INLINE  # while the first step runs: a write meanwhile queues
        try:
            steps = sse_fast_awaited(self._sink.send(self._take()))
            status = sse_fast_send(steps, None, &res)
        except BaseException as exc:
            self._task = None
            if not self._absorbs(exc):
                raise
            return
        waits_on = <object>res
        Py_XDECREF(res)
        if status == 1:  # the send waits: the sender task takes it over
            self._task = self._loop.create_task(self._drain(partial(resumed, steps, waits_on)))
            return
        self._task = None
        if self.pending:  # queued while the send ran
            self.kick()

    def send_first(self, start):
        """Start the sender now with ``start()`` (the transport's response start), bounded as every send."""
        self._task = self._loop.create_task(self._drain(start))

    async def wait_for_room(self):
        """Wait until the sender has taken the queue, if ``HIGH_WATER`` bytes or more are in it."""
        if self.size < HIGH_WATER:
            return
        room = self._loop.create_future()
        if self._room is None:
            self._room = []
        self._room.append(room)
        try:
            await room
        finally:
            if self._room and room in self._room:  # cancelled while it waited
                self._room.remove(room)

    async def flush(self):
        """Hand everything queued to the sink and wait until it has taken it; False if the stream was dropped."""
        while not self.stopped:
            task = self._task
            if task is None:
                if not self.pending:
                    return True
                self._task = INLINE  # the caller stands for the sender meanwhile
                await self._send(self._sink.send, self._take())
            elif task is INLINE:  # another task's write is in the sink: look again next turn
                await asyncio.sleep(0)
            else:
                await asyncio.wait({task})
        return False

    def stop(self):
        """Throw the queue away and send nothing more: the client can no longer get it."""
        self.stopped = True
        if self.pending:
            self.pending.clear()
        self.size = 0
        self._wake_writers()
        self.stop_watchdog()
        task = self._caller if self._task is INLINE else self._task  # the send in flight is interrupted
        if task is not None and task is not current_task():
            task.cancel()

    def stop_watchdog(self):
        """Cancel the timer (send bound and heartbeat): the stream has ended."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def beat(self, interval, frame=HEARTBEAT):
        """Queue ``frame`` after ``beat_silence(interval)`` seconds without a write, again and again (0: stop)."""
        self._beat_every = beat_silence(interval)
        self._beat_frame = frame
        self._arm(self._beat_every)

    def _turn_marked(self):
        self._holds -= 1
        self._every = 1 if self.pending else min(2 * self._every, MARK_EVERY)

    def _due_kick(self):
        self._kick_due = False
        self.kick()

    async def _drain(self, start=None):
        try:
            if start is not None:
                await self._send(start, None)
            while self.pending and not self.stopped:
                await self._send(self._sink.send, self._take())
        finally:
            self._task = None

    cdef bytes _take(self):
        """Everything queued, as one send (see the twin)."""
        data = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending.clear()
        self.size = 0
        if self._room:
            self._wake_writers()
            self._holds += 1  # until the woken writers have run
            self._loop.call_soon(self._release)
        return data

    def _release(self):
        self._holds -= 1

    cdef bint _absorbs(self, exc) except -1:
        """Report a send that raised ``exc`` to the writer; True when ``exc`` stops here."""
        lost = self._writer.lost
        if isinstance(exc, asyncio.CancelledError):
            if not self.stopped:  # cancelled from outside: a half-finished send leaves the stream unusable
                lost(CLOSED, IS_CLOSED, None)
                return False
            if self._task is INLINE:  # stop() interrupted the caller's own task: the write raises why instead
                uncancel(current_task())
        elif isinstance(exc, Exception):  # the client left, or the transport broke: the stream cannot go on
            lost(CLIENT_DISCONNECTED, send_failed(exc), exc)
        else:
            return False
        return True

    def _arm(self, beat_in=None):
        """(Re)arm the timer for the sooner of the send in flight's deadline and the heartbeat's next check."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.stopped:
            return
        timeout = self._send_timeout
        wait = None
        if self._started is not None and timeout is not None:
            wait = max(0.0, self._started + timeout - monotonic())
        every = self._beat_every
        if every and self._writer.state is _OPEN:
            due = beat_in if beat_in is not None else every - (monotonic() - self.last_write)
            if timeout is not None and due > timeout:
                due = timeout
            wait = due if wait is None else min(wait, due)
        if wait is not None:
            self._watchdog = self._loop.call_later(wait, self)

    def __call__(self):
        """The writer's one timer calls the sender itself: the send bound and the heartbeat (see the twin)."""
        self._watchdog = None
        if self.stopped:
            return
        timeout = self._send_timeout
        started = self._started
        if started is not None and timeout is not None and started + timeout <= monotonic():
            self._writer.lost(SEND_TIMEOUT, read_nothing(timeout), None)
            return
        writer = self._writer
        if self._beat_every and writer.state is _OPEN:
            if monotonic() - self.last_write >= self._beat_every:
                if self.size < HIGH_WATER:
                    self._queue(self._beat_frame, False)
                    self.heartbeats += 1
                    self.last_write = monotonic()
                    self.send_now()  # from the timer: no task, unless the sink makes the send wait
                self._arm(self._beat_every)
                return
        self._arm()

    cdef int _wake_writers(self) except -1:
        room, self._room = self._room, None
        for waiter in room or ():
            if not waiter.done():
                waiter.set_result(None)
        return 0


@cython.binding(True)
def write(writer, frame):
    """``AsyncWriter._send``: the writer's write of ``frame`` (see the twin)."""
    cdef Sender sender = writer._sender
    return sender._send(None, frame)


@cython.binding(True)
def write_event(writer, data):
    """``AsyncWriter.write_event``: ``data: <json>``."""
    cdef Sender sender = writer._sender
    default = sender._default
    return sender._send(None, encode_json(data) if default is None else encode_json(data, None, None, None, default))


@cython.freelist(16)
cdef class _Write:
    """One ``Sender.write``, or one send of ``flush`` and the sender task (``Sender._send``): its steps run at
    the first resume, as a coroutine's body would."""

    cdef Sender sender
    cdef object via  # what sends the frame; None: a write (the sink's send, once the writer's steps are done)
    cdef object frame
    cdef object inner  # the awaitable resumes go to, while SENDING or WAITING
    cdef double began  # time.monotonic() when the write began
    cdef int step

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):  # asyncio resumes through tp_iternext (_next below); this is next() from Python
        return self._step(None, None)

    def send(self, value):
        return self._step(value, None)

    def throw(self, typ, val=None, tb=None):
        if isinstance(typ, BaseException):
            exc = typ
        elif val is None:
            exc = typ()
        elif isinstance(val, BaseException):
            exc = val
        else:
            exc = typ(val)
        return self._step(None, exc)

    cdef object _step(self, value, exc):
        """``_resume`` as the iterator protocol's Python methods end: with ``StopIteration``."""
        result = self._resume(value, exc)
        if result is _OVER:
            raise StopIteration
        return result

    # what inspect.getcoroutinestate() reads (anyio asks it of its tasks' coroutines)
    @property
    def cr_running(self):
        return False  # asked from outside, the write is never running

    @property
    def cr_suspended(self):
        return self.step == SENDING or self.step == WAITING

    @property
    def cr_frame(self):
        if self.step == OVER:
            return None
        return _SUSPENDED if self.step != NEW else _CREATED  # Python < 3.11 tells the two apart by f_lasti

    @property
    def cr_await(self):
        return self.inner

    def close(self):
        if self.step == NEW:  # as a coroutine closed before it ran: over, and no warning
            self.step = OVER
        elif self.step == SENDING or self.step == WAITING:
            inner = self.inner
            try:
                closer = getattr(inner, "close", None)
                if closer is not None:
                    closer()
            finally:
                if self.step == SENDING:
                    self._sent()
                self.step = OVER
                self.inner = None

    def __dealloc__(self):
        if self.step == NEW:  # never awaited: the frame was not written; say so as a coroutine would
            _warn(f"coroutine '{_QUALNAME}' was never awaited", RuntimeWarning, 1)

    cdef object _resume(self, value, exc):
        cdef PyObject *res = NULL
        cdef int status
        if self.step == NEW:
            if exc is not None:
                self.step = OVER
                raise exc
            if not self._begin():
                return self._end()
        elif self.step == OVER:
            raise RuntimeError("cannot reuse already awaited write")
        try:
            if exc is None:
                status = sse_fast_send(self.inner, value, &res)
                result = <object>res
                Py_XDECREF(res)
            else:
                try:
                    result = self.inner.throw(exc)
                    status = 1
                except StopIteration:
                    status = 0
        except BaseException as error:
            if self.step == WAITING:
                self.step = OVER
                self.inner = None
                raise
            if not self._failed(error):
                raise
            return self._end()
        if status == 1:
            if self.step == SENDING and self.sender._started is None:
                self._waits()
            return result
        if self.step == SENDING:
            self._sent()
        return self._end()

    cdef bint _begin(self) except -1:
        """The steps up to the send (a write's first); False when there is nothing to wait for."""
        cdef Sender s = self.sender
        cdef double now = sse_fast_monotonic()
        send = self.via
        if send is None:  # a write: queued, or sent from the caller's task, which stands for the sender
            writer = s._writer
            if writer.state is not _OPEN:
                self.step = OVER
                raise writer._refusal()
            s.last_write = now
            if s._holds or s._task is not None or s.pending or s.stopped:
                s._queue(self.frame, True)
                if s.size >= HIGH_WATER:
                    self.inner = sse_fast_awaited(s.wait_for_room())
                    self.step = WAITING
                    return True
                return False
            s._task = INLINE
            s.frames += 1
            s.written += len(self.frame)
            s._unmarked += 1
            if s._unmarked >= s._every:
                s._unmarked = 0
                s._holds += 1
                s._loop.call_soon(s._turn_marked)
            send = s._sink.send
        self.began = now  # the caller, the start and the watchdog are set once the send waits (_waits)
        self.step = SENDING
        try:
            self.inner = sse_fast_awaited(send() if self.frame is None else send(self.frame))
        except BaseException as error:
            if not self._failed(error):
                raise
            return False
        return True

    cdef int _waits(self) except -1:
        """The send waits (most sends to a reading client do not): what the twin sets before it begins, here
        set only now, from the same task: who waits in it when it is the caller's (``stop`` interrupts that
        task), since when, and the watchdog that bounds it."""
        cdef Sender s = self.sender
        if s._task is INLINE:
            s._caller = current_task(s._loop)
        s._started = self.began
        if s._watchdog is None and s._send_timeout is not None:
            s._watchdog = s._loop.call_later(s._send_timeout, s)
        return 0

    cdef bint _failed(self, error) except -1:
        """The sink's send raised ``error`` (the twin's ``except`` and ``finally``): reported to the sender,
        and the send is over; True when ``error`` stops here (the caller re-raises it otherwise)."""
        try:
            return self.sender._absorbs(error)
        finally:
            self._sent()

    cdef int _sent(self) except -1:
        """The send is over (the twin's ``finally``)."""
        cdef Sender s = self.sender
        s._started = None
        self.step = OVER
        self.inner = None
        if s._task is INLINE:
            s._task = s._caller = None
            if s.pending:  # written meanwhile by others (a heartbeat, a broker)
                s.kick()
        return 0

    cdef object _end(self):
        """Over: ``_OVER``, or for a write the writer's refusal raised once the stream was dropped."""
        self.step = OVER
        self.inner = None
        if self.via is None and self.sender.stopped:
            raise self.sender._writer._refusal()
        return _OVER


cdef str _QUALNAME = "Sender.write"  # the twin's coroutine's name, in the never-awaited warning
cdef object _OVER = object()  # what _resume returns when the write is over
_CREATED = SimpleNamespace(f_lasti=-1)  # a cr_frame stand-in for inspect on Python < 3.11: not started yet
_SUSPENDED = SimpleNamespace(f_lasti=0)  # and waiting in the sink
Coroutine.register(_Write)  # as the twin's coroutine: create_task() and run_coroutine_threadsafe() take it


cdef PyObject *_next(object write) except NULL:
    """``_Write``'s tp_iternext: how asyncio resumes it. Its end is a NULL with no exception set, which
    costs no StopIteration and no traceback."""
    result = (<_Write>write)._resume(None, None)
    if result is _OVER:
        return NULL
    Py_INCREF(result)
    return <PyObject *>result


sse_fast_set_iternext(_Write, <iternextfunc>_next)
