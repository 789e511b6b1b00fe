# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: embedsignature=True, embedsignature.format=clinic, autotestdict=False
"""The compiled twin of ``_parser_py.py``: the same events, the same state, the same errors.

A chunk is split into lines by the encoder's memchr splitter (``_lines.pxd``), so each byte is looked at a
bounded number of times whatever the chunking. A line cut between chunks and the data of the event being
read wait in growable C buffers; each value is decoded from UTF-8 once, at dispatch for the data.
Refusals are raised through ``sse_fast._refusals``, as the twin raises them.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport free, realloc
from libc.string cimport memchr, memcmp, memcpy

from sse_fast._lines cimport Lines, _lines_next, _lines_start

from sse_fast import _refusals
from sse_fast._received import DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE, ServerSentEvent

cdef extern from *:
    """
    /* A ServerSentEvent (a NamedTuple: a tuple subclass without a __dict__) filled the way
       tuple.__new__(cls, items) fills it, minus the temporary tuple and the Python-level __new__. */
    static PyObject *sse_new_event(PyObject *cls, PyObject *event, PyObject *data, PyObject *id, PyObject *retry) {
        PyTypeObject *type = (PyTypeObject *)cls;
        PyObject *obj = type->tp_alloc(type, 4);
        if (obj == NULL)
            return NULL;
        Py_INCREF(event); PyTuple_SET_ITEM(obj, 0, event);
        Py_INCREF(data); PyTuple_SET_ITEM(obj, 1, data);
        Py_INCREF(id); PyTuple_SET_ITEM(obj, 2, id);
        Py_INCREF(retry); PyTuple_SET_ITEM(obj, 3, retry);
        return obj;
    }
    """
    object sse_new_event(object cls, object event, object data, object id, object retry)

cdef object _Event = ServerSentEvent
cdef str _MESSAGE = "message"
cdef str _EMPTY = ""
cdef const char* BOM = b"\xef\xbb\xbf"
cdef Py_ssize_t KEEP = 1 << 16  # a buffer grown past this is given back after use


cdef struct Buf:
    char* p
    Py_ssize_t n
    Py_ssize_t cap


cdef int _buf_add(Buf* b, const char* s, Py_ssize_t n) except -1:
    cdef Py_ssize_t cap
    cdef char* p
    if b.n + n > b.cap:
        cap = max(b.cap * 2, b.n + n, 256)
        p = <char*>realloc(b.p, cap)
        if p == NULL:
            raise MemoryError()
        b.p = p
        b.cap = cap
    memcpy(b.p + b.n, s, n)
    b.n += n
    return 0


cdef inline void _buf_reset(Buf* b) noexcept:
    b.n = 0
    if b.cap > KEEP:
        free(b.p)
        b.p = NULL
        b.cap = 0


cdef inline str _decode(const char* s, Py_ssize_t n):
    return PyUnicode_DecodeUTF8(s, n, "replace")


cdef class EventParser:
    """EventParser(*, last_event_id='', retry=None, max_line=1048576, max_event=16777216)
--

Feed it bytes as they arrive; each ``feed`` returns the events completed by them.

    ``last_event_id`` and ``retry`` give the state to start from (a reconnection carries them over).
    A line over ``max_line`` bytes or an event with over ``max_event`` bytes of data raises ``LineTooLong``
    or ``EventTooLarge`` (both ``StreamTooLarge``), whose ``events`` are those the same feed completed first.
    """

    cdef Buf _line  # the start of a line not yet ended
    cdef Buf _data  # the event's data lines, each followed by "\n"
    cdef Py_ssize_t _max_line, _max_event
    cdef Py_ssize_t _held  # how many of the BOM's bytes the stream has begun with so far
    cdef bint _started, _after_cr
    cdef str _event  # the event type; "" until an "event:" line
    cdef str _id  # the last event ID buffer: set by "id:", copied at dispatch
    cdef str _last_id
    cdef object _retry

    def __init__(
        self,
        *,
        last_event_id=_EMPTY,
        retry=None,
        max_line=DEFAULT_MAX_LINE,
        max_event=DEFAULT_MAX_EVENT,
    ):
        self._max_line = _refusals.checked_limit("max_line", max_line)
        self._max_event = _refusals.checked_limit("max_event", max_event)
        self._last_id, self._retry = _refusals.checked_start(last_event_id, retry)
        self._id = self._last_id
        self._event = _EMPTY
        self._started = False
        self._after_cr = False
        self._held = 0
        self._line.n = 0
        self._data.n = 0

    def __dealloc__(self):
        free(self._line.p)
        free(self._data.p)

    @property
    def last_event_id(self):
        """The last event ID string: what ``Last-Event-ID`` carries when reconnecting."""
        return self._last_id

    @property
    def retry(self):
        """The reconnection time the stream asked for, in milliseconds (None until it asks)."""
        return self._retry

    @property
    def max_line(self):
        return self._max_line

    @property
    def max_event(self):
        return self._max_event

    def feed(self, chunk):
        """Parse ``chunk``; returns the events it completed, in order."""
        cdef list events = []
        cdef Py_ssize_t k
        if not PyBytes_CheckExact(chunk):
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                _refusals.not_bytes("chunk", chunk)
            chunk = bytes(chunk)
        cdef const char* s = PyBytes_AS_STRING(chunk)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(chunk)
        if not self._started:
            k = 0
            while self._held + k < 3 and k < n and s[k] == BOM[self._held + k]:
                k += 1
            if self._held + k == 3:  # a BOM: dropped
                s += k
                n -= k
            elif k == n:  # it may still become one
                self._held += k
                return events
            else:  # the bytes held back were the start of the first line
                _buf_add(&self._line, BOM, self._held)
            self._started = True
            self._held = 0
        if self._after_cr and n:
            self._after_cr = False
            if s[0] == b'\n':
                s += 1
                n -= 1
        if n:
            self._scan(s, n, events)
            self._after_cr = s[n - 1] == b'\r'
        return events

    cdef int _scan(self, const char* s, Py_ssize_t n, list events) except -1:
        """Interpret the lines ``s`` completes; keep back the piece after its last line break."""
        cdef Lines it
        cdef const char* line
        cdef Py_ssize_t k
        _lines_start(&it, s, n)
        while True:
            k = _lines_next(&it, &line)
            if it.p == NULL:  # the piece after the last break: not a line yet
                if k:
                    _buf_add(&self._line, line, k)
                    if self._line.n > self._max_line:
                        _refusals.line_too_long(self._line.n, self._max_line, events)
                return 0
            if self._line.n:
                if self._line.n + k > self._max_line:
                    _refusals.line_too_long(self._line.n + k, self._max_line, events)
                _buf_add(&self._line, line, k)
                self._interpret(self._line.p, self._line.n, events)
                _buf_reset(&self._line)
            else:
                if k > self._max_line:
                    _refusals.line_too_long(k, self._max_line, events)
                self._interpret(line, k, events)

    cdef int _interpret(self, const char* p, Py_ssize_t k, list events) except -1:
        """One complete line."""
        cdef const char* colon
        cdef const char* v
        cdef Py_ssize_t name_len, v_len, i, size
        if k == 0:
            return self._dispatch(events)
        colon = <const char*>memchr(p, b':', k)
        if colon == NULL:
            name_len = k
            v = p + k
            v_len = 0
        else:
            name_len = colon - p
            v = colon + 1
            v_len = k - name_len - 1
            if v_len and v[0] == b' ':
                v += 1
                v_len -= 1
        if name_len == 4 and memcmp(p, b"data", 4) == 0:
            size = self._data.n + v_len + 1
            if size > self._max_event:
                _refusals.event_too_large(size, self._max_event, events)
            _buf_add(&self._data, v, v_len)
            _buf_add(&self._data, b"\n", 1)
        elif name_len == 5 and memcmp(p, b"event", 5) == 0:
            self._event = _decode(v, v_len)
        elif name_len == 2 and memcmp(p, b"id", 2) == 0:
            if memchr(v, 0, v_len) == NULL:
                self._id = _decode(v, v_len)
        elif name_len == 5 and memcmp(p, b"retry", 5) == 0 and v_len:
            for i in range(v_len):
                if not (b'0' <= v[i] <= b'9'):
                    return 0
            self._retry = int(PyBytes_FromStringAndSize(v, v_len))
        # a comment (empty name) or any other field is ignored
        return 0

    cdef int _dispatch(self, list events) except -1:
        self._last_id = self._id
        if self._data.n:
            PyList_Append(events, sse_new_event(
                _Event,
                self._event if self._event else _MESSAGE,
                _decode(self._data.p, self._data.n - 1),
                self._id,
                self._retry,
            ))
            _buf_reset(&self._data)
        self._event = _EMPTY
        return 0
