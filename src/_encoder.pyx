# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: embedsignature=True, embedsignature.format=clinic, autotestdict=False
"""The compiled core of sse_fast: frames are measured once, then written in one pass into one buffer.

The twin of ``sse_fast/_encoder_py.py``: the same functions, the same bytes, the same errors, raised
through ``sse_fast._refusals``. Checks run in wire order (id, event, retry, then data); a text field
is first encoded as UTF-8, then searched for line breaks, then (id only) for NUL.

Every frame kind is filled into a ``Frame`` (pointers into the caller's objects) by one function,
then either copied into a fresh ``bytes`` or appended to a ``FrameBuffer`` by the same writer.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_CheckExact, PyByteArray_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdlib cimport free, realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.string cimport memchr, memcpy

from _lines cimport Lines, _lines_next, _lines_start

import orjson

from sse_fast import _refusals

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

cdef extern from *:
    """
    /* Frame orjson's output where it lies: when only we hold the bytes object and it is one line,
       grow it by the 8 bytes of "data: " and "\\n\\n" instead of copying it into a new object.
       1: framed; 0: not ours alone or not one line, left as it was; -1: error, *payload is NULL. */
    static int sse_frame_json_in_place(PyObject **payload) {
        PyObject *p = *payload;
        Py_ssize_t m = PyBytes_GET_SIZE(p);
        char *s = PyBytes_AS_STRING(p);
        if (Py_REFCNT(p) != 1 || memchr(s, '\\n', m) != NULL || memchr(s, '\\r', m) != NULL)
            return 0;
        if (_PyBytes_Resize(payload, m + 8) < 0)
            return -1;
        s = PyBytes_AS_STRING(*payload);
        memmove(s + 6, s, m);
        memcpy(s, "data: ", 6);
        s[m + 6] = '\\n';
        s[m + 7] = '\\n';
        return 1;
    }
    """
    int sse_frame_json_in_place(PyObject** payload) except -1

cdef extern from *:
    """
    /* How many '\\n' bytes s holds: a loop over blocks with a narrow counter, which GCC, Clang and MSVC
       vectorise (a per-byte Py_ssize_t sum is not). */
    static Py_ssize_t sse_count_lf(const char *s, Py_ssize_t n) {
        const unsigned char *p = (const unsigned char *)s;
        Py_ssize_t total = 0;
        while (n > 0) {
            Py_ssize_t m = n < 255 ? n : 255, i;
            unsigned char k = 0;
            for (i = 0; i < m; i++) k += (unsigned char)(p[i] == '\\n');
            total += k;
            p += m;
            n -= m;
        }
        return total;
    }
    """
    Py_ssize_t _count_lf "sse_count_lf"(const char* s, Py_ssize_t n) noexcept nogil


cdef object _dumps = orjson.dumps

cdef const char* DATA = b"data: "
cdef const char* COMMENT = b": "


cdef struct Frame:
    # Head fields: NULL when absent. They point into the caller's objects or into retry_digits.
    const char* id
    Py_ssize_t id_len
    const char* event
    Py_ssize_t event_len
    const char* retry
    Py_ssize_t retry_len
    char retry_digits[24]
    # Body: every line of body gets prefix; prefix NULL means a frame without body lines.
    const char* prefix
    Py_ssize_t prefix_len
    const char* body
    Py_ssize_t body_len
    bint one_line          # set by _frame_size: body has no line break
    bint lf_only           # set by _frame_size: body's line breaks are all '\n'


# ---- measuring and writing a frame: the one implementation for bytes and FrameBuffer ----

cdef inline Py_ssize_t _frame_size(Frame* f) except -1:
    """The exact size of the frame in bytes; also records whether the body is one line."""
    cdef unsigned long long n = 1  # the blank line that ends the frame
    cdef Lines it
    cdef const char* line
    cdef Py_ssize_t k, lines = 0
    if f.id != NULL:
        n += 4 + <unsigned long long>f.id_len + 1
    if f.event != NULL:
        n += 7 + <unsigned long long>f.event_len + 1
    if f.retry != NULL:
        n += 7 + <unsigned long long>f.retry_len + 1
    if f.prefix != NULL:
        f.lf_only = memchr(f.body, b'\r', f.body_len) == NULL
        if f.lf_only:  # one vectorised count instead of a memchr per line
            line = <const char*>memchr(f.body, b'\n', f.body_len)
            k = 0 if line == NULL else 1 + _count_lf(line + 1, f.body + f.body_len - line - 1)
            n += <unsigned long long>((k + 1) * (f.prefix_len + 1) + f.body_len - k)
            f.one_line = k == 0
        else:
            _lines_start(&it, f.body, f.body_len)
            while True:
                k = _lines_next(&it, &line)
                if k < 0:
                    break
                n += <unsigned long long>(f.prefix_len + k + 1)
                lines += 1
            f.one_line = lines == 1
    if n > <unsigned long long>PY_SSIZE_T_MAX:
        raise MemoryError()
    return <Py_ssize_t>n


cdef inline char* _put(char* out, const char* s, Py_ssize_t n) noexcept nogil:
    memcpy(out, s, n)
    return out + n


cdef inline char* _put_field(char* out, const char* name, Py_ssize_t name_len,
                             const char* value, Py_ssize_t value_len) noexcept nogil:
    out = _put(_put(out, name, name_len), value, value_len)
    out[0] = b'\n'
    return out + 1


cdef inline void _write_frame(char* out, const Frame* f) noexcept nogil:
    """Writes exactly _frame_size(f) bytes at out (the size must have been measured first)."""
    cdef Lines it
    cdef const char* line
    cdef const char* p
    cdef const char* end
    cdef const char* brk
    cdef Py_ssize_t k
    if f.id != NULL:
        out = _put_field(out, b"id: ", 4, f.id, f.id_len)
    if f.event != NULL:
        out = _put_field(out, b"event: ", 7, f.event, f.event_len)
    if f.retry != NULL:
        out = _put_field(out, b"retry: ", 7, f.retry, f.retry_len)
    if f.prefix != NULL:
        if f.one_line:
            out = _put_field(out, f.prefix, f.prefix_len, f.body, f.body_len)
        elif f.lf_only:
            p = f.body
            end = f.body + f.body_len
            brk = <const char*>memchr(p, b'\n', end - p)
            while brk != NULL:
                out = _put_field(out, f.prefix, f.prefix_len, p, brk - p)
                p = brk + 1
                brk = <const char*>memchr(p, b'\n', end - p)
            out = _put_field(out, f.prefix, f.prefix_len, p, end - p)
        else:
            _lines_start(&it, f.body, f.body_len)
            while True:
                k = _lines_next(&it, &line)
                if k < 0:
                    break
                out = _put_field(out, f.prefix, f.prefix_len, line, k)
    out[0] = b'\n'


# ---- reading and checking the fields (all Python-level work happens here, before any writing) ----

cdef const char* _utf8(str what, object value, Py_ssize_t* n) except NULL:
    try:
        return PyUnicode_AsUTF8AndSize(value, n)
    except UnicodeEncodeError as exc:
        _refusals.not_utf8(what, value, exc)


cdef const char* _field(str what, object value, Py_ssize_t* n) except NULL:
    """The UTF-8 bytes of an ``id`` or ``event`` value, refused if it would break the frame."""
    if not isinstance(value, str):
        _refusals.not_str(what, value)
    cdef const char* s = _utf8(what, value, n)
    if memchr(s, b'\n', n[0]) != NULL or memchr(s, b'\r', n[0]) != NULL:
        _refusals.line_break_in(what, value)
    return s


cdef inline Py_ssize_t _digits(char* out, unsigned long long v) noexcept nogil:
    cdef char tmp[24]
    cdef Py_ssize_t i = 24, n
    while True:
        i -= 1
        tmp[i] = <char>(c'0' + v % 10)
        v //= 10
        if v == 0:
            break
    n = 24 - i
    memcpy(out, tmp + i, n)
    return n


cdef object _set_retry(Frame* f, object value):
    """Points the frame at the digits of ``value``; returns the object that holds them, if not the frame."""
    cdef int overflow = 0
    cdef long long v
    if PyLong_CheckExact(value):
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0 and v >= 0:
            f.retry_len = _digits(f.retry_digits, <unsigned long long>v)
            f.retry = f.retry_digits
            return None
        if overflow <= 0:
            _refusals.bad_retry(value)
    elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
        _refusals.bad_retry(value)
    # A huge int or an int subclass: formatted by Python, exactly as the twin does.
    cdef bytes text = b"%d" % value
    f.retry = PyBytes_AS_STRING(text)
    f.retry_len = PyBytes_GET_SIZE(text)
    return text


cdef inline object _set_head(Frame* f, object event, object id, object retry):
    """Checks id, event, retry in wire order; the frame gets no body. Returns what must stay alive."""
    f.id = f.event = f.retry = f.prefix = NULL
    if id is not None:
        f.id = _field("id", id, &f.id_len)
        if memchr(f.id, 0, f.id_len) != NULL:
            _refusals.nul_in_id(id)
    if event is not None:
        f.event = _field("event", event, &f.event_len)
    if retry is not None:
        return _set_retry(f, retry)
    return None


cdef object _set_text(Frame* f, str what, object value, const char* prefix):
    """Makes ``value`` the frame's body; returns the object that holds its bytes."""
    if isinstance(value, str):
        f.body = _utf8(what, value, &f.body_len)
    else:
        if PyBytes_CheckExact(value) or PyByteArray_CheckExact(value):
            pass
        elif isinstance(value, (bytes, bytearray)):
            value = bytes(value)
        elif isinstance(value, memoryview):
            value = value.tobytes()
        else:
            _refusals.not_text(what, value, none_allowed=what == "data")
        if PyByteArray_CheckExact(value):
            f.body = PyByteArray_AS_STRING(value)
            f.body_len = PyByteArray_GET_SIZE(value)
        else:
            f.body = PyBytes_AS_STRING(value)
            f.body_len = PyBytes_GET_SIZE(value)
    f.prefix = prefix
    f.prefix_len = len(prefix)
    return value


cdef inline object _emit(Frame* f, FrameBuffer sink):
    """The frame as new bytes, or appended to ``sink`` when one is given (then None)."""
    cdef Py_ssize_t n = _frame_size(f)
    if sink is not None:
        sink._append(f, n)
        return None
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    _write_frame(PyBytes_AS_STRING(out), f)
    return out


# ---- the four frame kinds, each shared by its function and its FrameBuffer method ----
# The keep_* locals hold the objects a Frame points into until the frame is written.

cdef object _data_frame(FrameBuffer sink, object data, object event, object id, object retry):
    cdef Frame f
    cdef object keep_retry = _set_head(&f, event, id, retry)
    cdef object keep_data = None
    if data is not None:
        keep_data = _set_text(&f, "data", data, DATA)
    return _emit(&f, sink)


cdef object _json_frame(FrameBuffer sink, object obj, object event, object id, object retry,
                        object default):
    cdef Frame f
    cdef object keep_retry = _set_head(&f, event, id, retry)
    cdef bytes payload
    try:
        # orjson treats default=None as no default; leaving the keyword out saves its parsing.
        payload = _dumps(obj) if default is None else _dumps(obj, default=default)
    except TypeError as exc:
        _refusals.not_json(obj, exc)
    cdef PyObject* raw
    cdef int framed
    if sink is None and f.id == NULL and f.event == NULL and f.retry == NULL:
        raw = <PyObject*>payload
        Py_INCREF(payload)  # raw's own reference...
        payload = None  # ...now the only one, unless orjson's output is held elsewhere
        framed = sse_frame_json_in_place(&raw)
        payload = <bytes>raw
        Py_DECREF(payload)  # raw's reference is payload's now
        if framed:
            return payload
    # Split like any data: an orjson.Fragment may hold raw line breaks.
    f.prefix = DATA
    f.prefix_len = len(DATA)
    f.body = PyBytes_AS_STRING(payload)
    f.body_len = PyBytes_GET_SIZE(payload)
    return _emit(&f, sink)


cdef object _comment_frame(FrameBuffer sink, object text):
    cdef Frame f
    _set_head(&f, None, None, None)
    cdef object keep_text = _set_text(&f, "comment", text, COMMENT)
    return _emit(&f, sink)


cdef object _retry_frame(FrameBuffer sink, object ms):
    cdef Frame f
    _set_head(&f, None, None, None)
    cdef object keep_retry = _set_retry(&f, ms)  # None is refused here, not taken as "no retry"
    return _emit(&f, sink)


def encode(data, event=None, id=None, retry=None):
    """One frame: ``id``, ``event``, ``retry``, then ``data`` split on CRLF, CR and LF into ``data:`` lines."""
    return _data_frame(None, data, event, id, retry)


def encode_json(obj, event=None, id=None, retry=None, default=None):
    """One frame whose data is ``orjson.dumps(obj, default=default)``."""
    return _json_frame(None, obj, event, id, retry, default)


def encode_comment(text):
    """A comment frame: every line of ``text`` starts with ``: ``."""
    return _comment_frame(None, text)


def encode_retry(ms):
    """A ``retry:`` frame telling the browser how long to wait before reconnecting."""
    return _retry_frame(None, ms)


@cython.auto_pickle(False)
cdef class FrameBuffer:
    """FrameBuffer()
--

Frames gathered for one write; ``take()`` returns them and keeps the memory for the next batch."""

    cdef char* _buf
    cdef Py_ssize_t _len
    cdef Py_ssize_t _cap

    def __init__(self):
        """An empty buffer (it takes no arguments, like the twin); memory comes with the first frame."""

    def __dealloc__(self):
        free(self._buf)

    def __len__(self):
        return self._len

    cdef int _append(self, const Frame* f, Py_ssize_t n) except -1:
        """Writes a measured frame of n bytes at the end, growing the buffer first if needed."""
        cdef Py_ssize_t cap
        cdef char* grown
        if n > self._cap - self._len:
            if n > PY_SSIZE_T_MAX - self._len:
                raise MemoryError()
            cap = self._cap * 2 if self._cap <= PY_SSIZE_T_MAX // 2 else PY_SSIZE_T_MAX
            cap = max(cap, self._len + n, 512)
            grown = <char*>realloc(self._buf, cap)
            if grown == NULL:
                raise MemoryError()  # the old buffer and its frames are untouched
            self._buf = grown
            self._cap = cap
        _write_frame(self._buf + self._len, f)
        self._len += n
        return 0

    def add(self, data, event=None, id=None, retry=None):
        """Appends ``encode(data, event, id, retry)``."""
        _data_frame(self, data, event, id, retry)

    def add_json(self, obj, event=None, id=None, retry=None, default=None):
        """Appends ``encode_json(obj, event, id, retry, default)``."""
        _json_frame(self, obj, event, id, retry, default)

    def add_comment(self, text):
        """Appends ``encode_comment(text)``."""
        _comment_frame(self, text)

    def add_retry(self, ms):
        """Appends ``encode_retry(ms)``."""
        _retry_frame(self, ms)

    def take(self):
        """All frames added since the last ``take()``, as bytes; the buffer is emptied, its memory kept."""
        cdef bytes out = PyBytes_FromStringAndSize(self._buf, self._len)
        self._len = 0
        return out
