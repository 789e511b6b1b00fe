# cython: language_level=3
"""The compiled twin of ``sse_fast/writer/_sender_py.py``: ``SenderCore``, the fields of a ``Sender`` and its
``write``; same behaviour and errors.

The twin's ``write`` is a coroutine; here it returns a ``_Write``, an awaitable object that does the same
steps when first resumed and then hands each resume straight to the sink's own awaitable. A paced event so
costs one small object instead of a Python frame and a coroutine. ``write_event`` (``AsyncWriter``'s, the
token-by-token path) spares one more Python frame per event.
"""

cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF

from asyncio import current_task
from collections.abc import Coroutine
from types import SimpleNamespace
from warnings import warn as _warn

from sse_fast._encoder import encode_json
from sse_fast.writer._sender_py import HIGH_WATER as _HIGH_WATER, INLINE, MARK_EVERY as _MARK_EVERY
from sse_fast.writer.base import State

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

    /* What ``await aw`` resumes: a coroutine or generator itself (3.10+), else what its __await__ returns. */
    static PyObject *sse_fast_awaited(PyObject *aw) {
        PyAsyncMethods *am;
    #if PY_VERSION_HEX >= 0x030A0000
        if (PyCoro_CheckExact(aw) || PyGen_CheckExact(aw)) { Py_INCREF(aw); return aw; }
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

    /* An attribute that is a __slots__ member of obj's class (the writers' and sinks' fields), read or set
       at its offset as CPython's own LOAD_ATTR_SLOT does: the offset is kept per call site, for the class and
       its version tag (which changes when anything in the class or its bases is reassigned). Anything else
       goes through the usual getattr / setattr. */
    #include "structmember.h"  /* PyMemberDef, T_OBJECT_EX, READONLY (in Python.h itself from 3.12) */
    typedef struct { PyTypeObject *type; unsigned int version; Py_ssize_t offset; } sse_fast_slot;

    #ifdef Py_TPFLAGS_VALID_VERSION_TAG
    #define SSE_FAST_TAG_VALID(tp) (PyType_HasFeature((tp), Py_TPFLAGS_VALID_VERSION_TAG) && (tp)->tp_version_tag != 0)
    #else
    #define SSE_FAST_TAG_VALID(tp) ((tp)->tp_version_tag != 0)
    #endif

    static int sse_fast_slot_find(PyObject *obj, PyObject *name, sse_fast_slot *site) {
        PyTypeObject *tp = Py_TYPE(obj);
        if (site->type == tp && site->offset > 0 && tp->tp_version_tag == site->version && SSE_FAST_TAG_VALID(tp))
            return 1;
        PyObject *descr = _PyType_Lookup(tp, name);
        if (descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type)
                && ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX
                && !(((PyMemberDescrObject *)descr)->d_member->flags & READONLY)
                && SSE_FAST_TAG_VALID(tp)) {
            site->type = tp;
            site->version = tp->tp_version_tag;
            site->offset = ((PyMemberDescrObject *)descr)->d_member->offset;
            return 1;
        }
        site->offset = 0;
        return 0;
    }

    static PyObject *sse_fast_slot_get(PyObject *obj, PyObject *name, sse_fast_slot *site) {
        if (sse_fast_slot_find(obj, name, site)) {
            PyObject *value = *(PyObject **)((char *)obj + site->offset);
            if (value != NULL) { Py_INCREF(value); return value; }
        }
        return PyObject_GetAttr(obj, name);
    }

    static int sse_fast_slot_set(PyObject *obj, PyObject *name, PyObject *value, sse_fast_slot *site) {
        if (sse_fast_slot_find(obj, name, site)) {
            PyObject **at = (PyObject **)((char *)obj + site->offset);
            PyObject *old = *at;
            Py_INCREF(value);
            *at = value;
            Py_XDECREF(old);
            return 0;
        }
        return PyObject_SetAttr(obj, name, value);
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
    ctypedef struct sse_fast_slot:
        pass
    object sse_fast_slot_get(object obj, object name, sse_fast_slot *site)
    int sse_fast_slot_set(object obj, object name, object value, sse_fast_slot *site) except -1

cdef object _OPEN = State.OPEN
# the call sites of sse_fast_slot_get / _set: each keeps where its attribute lies
cdef sse_fast_slot _AT_SENDER, _AT_DEFAULT, _AT_STATE, _AT_LAST_WRITE
cdef Py_ssize_t HIGH_WATER = _HIGH_WATER
cdef Py_ssize_t MARK_EVERY = _MARK_EVERY

# _Write.step
cdef enum:
    NEW = 0  # not resumed yet
    SENDING = 1  # the frame is in the sink: resumes go to the sink's awaitable
    WAITING = 2  # queued past HIGH_WATER: resumes go to wait_for_room()
    OVER = 3


cdef class _Write


cdef class SenderCore:
    """What a write reads and changes: the queue, the send in flight, the marks of the loop turn."""

    cdef public object _writer, _loop, _sink, _send_timeout, _task, _started, _watchdog, _caller
    cdef public list pending
    cdef public Py_ssize_t size, _holds, _every, _unmarked
    cdef public bint stopped, _kick_due

    def __init__(self, writer, loop, sink, send_timeout):
        self._writer = writer
        self._loop = loop
        self._sink = sink
        self._send_timeout = send_timeout
        self._task = None
        self._started = None
        self._watchdog = None
        self._caller = None
        self.pending = []
        self.size = 0
        self.stopped = False
        self._holds = 0
        self._kick_due = False
        self._every = 1
        self._unmarked = 0

    def write(self, frame):
        """The writer's write of ``frame`` (see the twin); awaitable once."""
        return self._new_write(frame)

    cdef _Write _new_write(self, frame):
        cdef _Write w = _Write.__new__(_Write)
        w.sender = self
        w.frame = frame
        return w

    def _turn_marked(self):
        self._holds -= 1
        self._every = 1 if self.pending else min(2 * self._every, MARK_EVERY)

    def _due_kick(self):
        self._kick_due = False
        self.kick()

    # -- what ``Sender`` adds, and ``write`` calls

    def kick(self):
        raise NotImplementedError

    async def wait_for_room(self):
        raise NotImplementedError

    def _watch(self):
        raise NotImplementedError

    def _absorbs(self, exc):
        raise NotImplementedError


@cython.binding(True)
def write_event(writer, data):
    """``data: <json>``."""
    cdef SenderCore sender = sse_fast_slot_get(writer, "_sender", &_AT_SENDER)
    default = sse_fast_slot_get(writer, "_default", &_AT_DEFAULT)
    return sender._new_write(encode_json(data) if default is None else encode_json(data, None, None, None, default))


@cython.freelist(16)
cdef class _Write:
    """One ``SenderCore.write``: its steps run at the first resume, as a coroutine's body would."""

    cdef SenderCore sender
    cdef object frame
    cdef object inner  # the awaitable resumes go to, while SENDING or WAITING
    cdef object began  # time.monotonic() when the write began
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
            if self.step == SENDING and self.sender._caller is None:
                self._waits()
            return result
        if self.step == SENDING:
            self._sent()
        return self._end()

    cdef bint _begin(self) except -1:
        """The write's steps up to the sink's send; False when there is nothing to wait for."""
        cdef SenderCore s = self.sender
        writer = s._writer
        if sse_fast_slot_get(writer, "state", &_AT_STATE) is not _OPEN:
            self.step = OVER
            raise writer._refusal()
        now = sse_fast_monotonic()
        sse_fast_slot_set(writer, "_last_write", now, &_AT_LAST_WRITE)
        if s._holds or s._task is not None or s.pending or s.stopped:
            s.pending.append(self.frame)
            s.size += len(self.frame)
            if s._task is None and not s._kick_due:
                s._kick_due = True
                s._loop.call_soon(s._due_kick)
            if s.size >= HIGH_WATER:
                self.inner = sse_fast_awaited(s.wait_for_room())
                self.step = WAITING
                return True
            return False
        s._task = INLINE
        self.began = now  # the caller, the start and the watchdog are set once the send waits (_waits)
        s._unmarked += 1
        if s._unmarked >= s._every:
            s._unmarked = 0
            s._holds += 1
            s._loop.call_soon(s._turn_marked)
        self.step = SENDING
        try:
            self.inner = sse_fast_awaited(s._sink.send(self.frame))
        except BaseException as error:
            if not self._failed(error):
                raise
            return False
        return True

    cdef int _waits(self) except -1:
        """The send waits (most sends to a reading client do not): what the twin sets before it begins, here
        set only now, from the same task: who waits in it (``stop`` interrupts that task), since when, and the
        watchdog that bounds it."""
        cdef SenderCore s = self.sender
        s._caller = current_task(s._loop)
        s._started = self.began
        if s._watchdog is None and s._send_timeout is not None:
            s._watchdog = s._loop.call_later(s._send_timeout, s._watch)
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
        cdef SenderCore s = self.sender
        s._task = s._caller = s._started = None
        self.step = OVER
        self.inner = None
        if s.pending:  # written meanwhile by others (a heartbeat, a broker)
            s.kick()
        return 0

    cdef object _end(self):
        """The write is over: ``_OVER``, or the writer's refusal raised once the stream was dropped."""
        self.step = OVER
        self.inner = None
        if self.sender.stopped:
            raise self.sender._writer._refusal()
        return _OVER


cdef str _QUALNAME = "SenderCore.write"  # the twin's coroutine's name, in the never-awaited warning
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
