# cython: language_level=3
"""Line splitting on CRLF, CR and LF with memchr: shared by the encoder (data lines) and the parser (stream lines).

Every piece ``_lines_next`` returns ended with a line break, except the last one (returned as ``it.p``
becomes NULL): the text after the last break, possibly empty.
"""

from libc.string cimport memchr

cdef struct Lines:
    const char* p          # start of the next line; NULL after the last one
    const char* end
    const char* lf         # next '\n' at or after p, or NULL
    const char* cr         # next '\r' at or after p, or NULL


cdef inline void _lines_start(Lines* it, const char* s, Py_ssize_t n) noexcept nogil:
    it.p = s
    it.end = s + n
    it.lf = <const char*>memchr(s, b'\n', n)
    it.cr = <const char*>memchr(s, b'\r', n)


cdef inline Py_ssize_t _lines_next(Lines* it, const char** line) noexcept nogil:
    """The length of the next line (its start put in line[0]), or -1 when there is none left."""
    cdef const char* start = it.p
    cdef const char* brk = it.lf
    if start == NULL:
        return -1
    line[0] = start
    if it.cr != NULL and (brk == NULL or it.cr < brk):
        brk = it.cr
    if brk == NULL:
        it.p = NULL
        return it.end - start
    it.p = brk + 1
    if brk[0] == b'\r' and it.p < it.end and it.p[0] == b'\n':
        it.p += 1
    # Each memchr resumes after the break it found, so the whole body is scanned once per character.
    if it.lf != NULL and it.lf < it.p:
        it.lf = <const char*>memchr(it.p, b'\n', it.end - it.p)
    if it.cr != NULL and it.cr < it.p:
        it.cr = <const char*>memchr(it.p, b'\r', it.end - it.p)
    return brk - start
