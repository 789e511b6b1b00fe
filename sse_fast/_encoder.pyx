# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: embedsignature=True, embedsignature.format=clinic, autotestdict=False
"""The compiled core of sse_fast: frames are measured once, then written in one pass into one buffer.

The twin of ``_encoder_py.py``: the same functions, the same bytes, the same errors, raised
through ``sse_fast._refusals``. Checks run in wire order (id, event, retry, then data); a text field
is first encoded as UTF-8, then searched for line breaks, then (id only) for NUL.

Every frame kind is filled into a ``Frame`` (pointers into the caller's objects) by one function,
then either copied into a fresh ``bytes`` or appended to a ``FrameBuffer`` by the same writer.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_CheckExact, PyByteArray_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.stdlib cimport free, realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.string cimport memchr, memcpy

from sse_fast._lines cimport Lines, _lines_next, _lines_start

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
    #include <stdint.h>
    #include <string.h>

    /* How many '\\n' bytes s holds: 32 narrow counters, one per byte of a 32-byte row, so that compilers
       vectorise the row and sum the lanes once every 255 rows. */
    static inline Py_ssize_t sse_count_lf_in(const char *s, Py_ssize_t n) {
        const unsigned char *p = (const unsigned char *)s;
        Py_ssize_t total = 0, rows, r;
        int j;
        while (n >= 32) {
            unsigned char lanes[32] = {0};
            rows = n / 32 < 255 ? n / 32 : 255;
            for (r = 0; r < rows; r++, p += 32)
                for (j = 0; j < 32; j++) lanes[j] += (unsigned char)(p[j] == '\\n');
            for (j = 0; j < 32; j++) total += lanes[j];
            n -= rows * 32;
        }
        for (r = 0; r < n; r++) total += p[r] == '\\n';
        return total;
    }

    /* The writers below are never inlined: _emit, which calls them, then stays small enough to be inlined
       into each frame kind (encode_json measured ~4% slower when it was not). */
    #if defined(_MSC_VER)
    #define SSE_NOINLINE __declspec(noinline)
    #else
    #define SSE_NOINLINE __attribute__((noinline))
    #endif

    /* The prefix of a data line (6 bytes) is a constant-size copy the compiler inlines. */
    static inline char *sse_put_prefix(char *out, const char *prefix, Py_ssize_t plen) {
        if (plen == 6) memcpy(out, prefix, 6); else memcpy(out, prefix, plen);
        return out + plen;
    }

    /* sse_put_lf_lines(out, prefix, plen, s, n) writes prefix + line + '\\n' for every line of s[0:n], whose
       line breaks are all '\\n', and returns the end of what it wrote; plen is at most 8. The measured frame
       has room for it and for the blank line after it.

       On x86-64 it copies 32-byte blocks (SSE2, or AVX2 where the CPU has it with GCC and Clang: both are
       compiled, sse_simd_init picks one at import); elsewhere, or built with -DSSE_FAST_NO_SIMD, it copies
       each line between two memchr hits. */
    #if (defined(__SSE2__) || defined(_M_X64)) && !defined(SSE_FAST_NO_SIMD)
    #include <emmintrin.h>
    #if defined(_MSC_VER)
    #include <intrin.h>
    static __inline int sse_ctz(uint32_t m) { unsigned long i; _BitScanForward(&i, m); return (int)i; }
    #else
    #define sse_ctz(m) __builtin_ctz(m)
    #endif

    /* sse_lf_mask32(s): where the '\\n' bytes among the 32 at s are (bit i for s[i]); sse_copy32(out, s):
       copies 32 bytes as whole vectors (compilers split a 32-byte memcpy into 16-byte halves). */
    static inline uint32_t sse_lf_mask32(const char *s) {
        const __m128i lf = _mm_set1_epi8('\\n');
        __m128i a = _mm_loadu_si128((const __m128i *)s), b = _mm_loadu_si128((const __m128i *)(s + 16));
        return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, lf))
               | ((uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(b, lf)) << 16);
    }
    static inline void sse_copy32(char *out, const char *s) {
        _mm_storeu_si128((__m128i *)out, _mm_loadu_si128((const __m128i *)s));
        _mm_storeu_si128((__m128i *)(out + 16), _mm_loadu_si128((const __m128i *)(s + 16)));
    }

    /* One pass, 32-byte blocks at fixed steps while 64 bytes are left: each piece of a block (up to and
       including a '\\n', or up to the block's end) is written with a 32-byte copy from where it starts, and
       the output advances by the piece's length, plus the prefix (stored as one 8-byte word) after a '\\n'.
       The next block's address never waits for this block's mask, so blocks overlap in the CPU (copying up
       to each '\\n' and restarting there would chain every line on the one before). 32 bytes of input at
       least follow each piece, so 32 bytes of output at least follow where it is written. The last 32 to 63
       bytes are copied 32 at a time from each line's start, then byte by byte. */
    #define SSE_DEFINE_LINES(ATTR, NAME, MASK32, COPY32)                                                   \\
    ATTR static char *NAME(char *out, const char *prefix, Py_ssize_t plen, const char *s, Py_ssize_t n) {   \\
        const char *end = s + n, *seg, *brk;                                                               \\
        uint32_t m;                                                                                        \\
        uint64_t word = 0;                                                                                 \\
        memcpy(&word, prefix, plen);                                                                       \\
        out = sse_put_prefix(out, prefix, plen);                                                           \\
        while (end - s >= 64) {                                                                            \\
            m = MASK32(s);                                                                                 \\
            seg = s;                                                                                       \\
            while (m != 0) {                                                                               \\
                brk = s + (size_t)sse_ctz(m) + 1;                                                          \\
                COPY32(out, seg);                                                                          \\
                out += brk - seg;                                                                          \\
                memcpy(out, &word, 8);                                                                     \\
                out += plen;                                                                               \\
                seg = brk;                                                                                 \\
                m &= m - 1;                                                                                \\
            }                                                                                              \\
            COPY32(out, seg);                                                                              \\
            out += s + 32 - seg;                                                                           \\
            s += 32;                                                                                       \\
        }                                                                                                  \\
        while (end - s >= 32) {                                                                            \\
            m = MASK32(s);                                                                                 \\
            COPY32(out, s);                                                                                \\
            if (m == 0) {                                                                                  \\
                s += 32;                                                                                   \\
                out += 32;                                                                                 \\
            } else {                                                                                       \\
                brk = s + (size_t)sse_ctz(m) + 1;                                                          \\
                out = sse_put_prefix(out + (brk - s), prefix, plen);                                       \\
                s = brk;                                                                                   \\
            }                                                                                              \\
        }                                                                                                  \\
        while (s < end) {                                                                                  \\
            char c = *s++;                                                                                 \\
            *out++ = c;                                                                                    \\
            if (c == '\\n') out = sse_put_prefix(out, prefix, plen);                                        \\
        }                                                                                                  \\
        *out = '\\n';                                                                                       \\
        return out + 1;                                                                                    \\
    }

    SSE_DEFINE_LINES(SSE_NOINLINE, sse_put_lf_lines_sse2, sse_lf_mask32, sse_copy32)
    SSE_NOINLINE static Py_ssize_t sse_count_lf_sse2(const char *s, Py_ssize_t n) { return sse_count_lf_in(s, n); }

    #if defined(__x86_64__) && defined(__GNUC__)
    #include <immintrin.h>
    #define SSE_AVX2 __attribute__((target("avx2")))
    SSE_AVX2 static inline uint32_t sse_lf_mask32_avx2(const char *s) {
        __m256i v = _mm256_loadu_si256((const __m256i *)s);
        return (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\n')));
    }
    SSE_AVX2 static inline void sse_copy32_avx2(char *out, const char *s) {
        _mm256_storeu_si256((__m256i *)out, _mm256_loadu_si256((const __m256i *)s));
    }
    SSE_DEFINE_LINES(SSE_AVX2, sse_put_lf_lines_avx2, sse_lf_mask32_avx2, sse_copy32_avx2)
    SSE_AVX2 static Py_ssize_t sse_count_lf_avx2(const char *s, Py_ssize_t n) { return sse_count_lf_in(s, n); }

    static int sse_avx2 = 0;
    static void sse_simd_init(void) {
        __builtin_cpu_init();
        sse_avx2 = __builtin_cpu_supports("avx2") != 0;
    }
    #define sse_count_lf(s, n) (sse_avx2 ? sse_count_lf_avx2(s, n) : sse_count_lf_sse2(s, n))
    #define sse_put_lf_lines(out, prefix, plen, s, n)                                                      \\
        (sse_avx2 ? sse_put_lf_lines_avx2(out, prefix, plen, s, n) : sse_put_lf_lines_sse2(out, prefix, plen, s, n))
    #else
    #define sse_simd_init()
    #define sse_count_lf sse_count_lf_sse2
    #define sse_put_lf_lines sse_put_lf_lines_sse2
    #endif

    #else
    #define sse_simd_init()
    #define sse_count_lf sse_count_lf_in
    SSE_NOINLINE static char *sse_put_lf_lines(char *out, const char *prefix, Py_ssize_t plen, const char *s,
                                               Py_ssize_t n) {
        const char *end = s + n, *brk;
        out = sse_put_prefix(out, prefix, plen);
        while ((brk = (const char *)memchr(s, '\\n', end - s)) != NULL) {
            memcpy(out, s, brk + 1 - s);
            out = sse_put_prefix(out + (brk + 1 - s), prefix, plen);
            s = brk + 1;
        }
        memcpy(out, s, end - s);
        out += end - s;
        *out = '\\n';
        return out + 1;
    }
    #endif
    """
    void _simd_init "sse_simd_init"() noexcept nogil
    Py_ssize_t _count_lf "sse_count_lf"(const char* s, Py_ssize_t n) noexcept nogil
    char* _put_lf_lines "sse_put_lf_lines"(char* out, const char* prefix, Py_ssize_t plen,
                                           const char* s, Py_ssize_t n) noexcept nogil

cdef extern from *:
    """
    /* sse_ascii4x16(a, b, c, d): 1 if the four 16-byte pieces at a, b, c and d are all ASCII. */
    #if (defined(__SSE2__) || defined(_M_X64)) && !defined(SSE_FAST_NO_SIMD)
    static inline int sse_ascii4x16(const unsigned char *a, const unsigned char *b, const unsigned char *c,
                                    const unsigned char *d) {
        __m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)a), _mm_loadu_si128((const __m128i *)b));
        __m128i y = _mm_or_si128(_mm_loadu_si128((const __m128i *)c), _mm_loadu_si128((const __m128i *)d));
        return _mm_movemask_epi8(_mm_or_si128(x, y)) == 0;
    }
    #else
    static inline int sse_ascii4x16(const unsigned char *a, const unsigned char *b, const unsigned char *c,
                                    const unsigned char *d) {
        uint64_t w[8];
        memcpy(w, a, 16); memcpy(w + 2, b, 16); memcpy(w + 4, c, 16); memcpy(w + 6, d, 16);
        return ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) & 0x8080808080808080ULL) == 0;
    }
    #endif

    /* Where the 64-byte blocks from s stop being all ASCII: the first block that is not, or the last 64 bytes
       or less before end. The AVX2 twin (x86-64, GCC and Clang, where the CPU has it) reads 32 bytes a load. */
    static inline const unsigned char *sse_ascii_blocks(const unsigned char *s, const unsigned char *end) {
        while (end - s > 64 && sse_ascii4x16(s, s + 16, s + 32, s + 48))
            s += 64;
        return s;
    }
    #if defined(SSE_AVX2)
    SSE_AVX2 static const unsigned char *sse_ascii_blocks_avx2(const unsigned char *s, const unsigned char *end) {
        while (end - s > 64) {
            __m256i v = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)s),
                                        _mm256_loadu_si256((const __m256i *)(s + 32)));
            if (_mm256_movemask_epi8(v) != 0)
                break;
            s += 64;
        }
        return s;
    }
    /* short runs stay in the inlined loop: a call to the AVX2 one costs more than it saves there */
    #define sse_ascii_blocks_any(s, end) \
        (sse_avx2 && (end) - (s) >= 512 ? sse_ascii_blocks_avx2(s, end) : sse_ascii_blocks(s, end))
    #else
    #define sse_ascii_blocks_any sse_ascii_blocks
    #endif

    /* Where the bytes s[0:n] (n >= 16) stop being all ASCII, to 64 bytes or less (end if they never do):
       64-byte blocks, then the last 16 to 64 bytes as four 16-byte pieces that may overlap. */
    static inline const unsigned char *sse_ascii_run(const unsigned char *s, Py_ssize_t n) {
        const unsigned char *end = s + n, *q;
        Py_ssize_t step;
        s = sse_ascii_blocks_any(s, end);
        if (end - s > 64)
            return s;
        q = n < 64 ? s : end - 64;
        step = (end - q - 16) / 3;
        return sse_ascii4x16(q, q + step, q + 2 * step, end - 16) ? end : q;
    }

    /* 1 if s[0:n] is valid UTF-8 (Unicode's Table 3-7: no overlong form, no surrogate, nothing past
       U+10FFFF), else 0. The ASCII run it starts with (all of it, for JSON from orjson mostly) is skipped
       by sse_ascii_run; after it ASCII goes 8 bytes at a time, and each multi-byte sequence byte by byte. */
    static int sse_utf8_valid(const char *str, Py_ssize_t n) {
        const unsigned char *s = (const unsigned char *)str, *end = s + n;
        uint64_t w;
        unsigned char c, d;
        if (n >= 16)
            s = sse_ascii_run(s, n);
        while (s < end) {
            while (end - s >= 8) {
                memcpy(&w, s, 8);
                if ((w & 0x8080808080808080ULL) != 0)
                    break;
                s += 8;
            }
            while (s < end && *s < 0x80)
                s++;
            if (s == end)
                return 1;
            c = s[0];
            if (c >= 0xC2 && c <= 0xDF) {
                if (end - s < 2 || (s[1] & 0xC0) != 0x80) return 0;
                s += 2;
            } else if (c >= 0xE0 && c <= 0xEF) {
                if (end - s < 3 || (s[2] & 0xC0) != 0x80) return 0;
                d = s[1];
                if (c == 0xE0 ? (d < 0xA0 || d > 0xBF) : c == 0xED ? (d < 0x80 || d > 0x9F) : (d & 0xC0) != 0x80)
                    return 0;
                s += 3;
            } else if (c >= 0xF0 && c <= 0xF4) {
                if (end - s < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
                d = s[1];
                if (c == 0xF0 ? (d < 0x90 || d > 0xBF) : c == 0xF4 ? (d < 0x80 || d > 0x8F) : (d & 0xC0) != 0x80)
                    return 0;
                s += 4;
            } else {
                return 0;
            }
        }
        return 1;
    }
    """
    bint _utf8_valid "sse_utf8_valid"(const char* s, Py_ssize_t n) noexcept nogil


_simd_init()


cdef object _dumps = orjson.dumps
cdef long long MAX_RETRY = _refusals.MAX_RETRY

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
            k = 0 if line == NULL else _count_lf(line, f.body + f.body_len - line)
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
            out = _put_lf_lines(out, f.prefix, f.prefix_len, f.body, f.body_len)
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


cdef int _refuse_utf8(const char* s, Py_ssize_t n, str what, str given) except -1:
    """Raises the refusal for s[0:n], which ``_utf8_valid`` found invalid, as the twin raises it."""
    try:
        PyUnicode_DecodeUTF8(s, n, NULL)
    except UnicodeDecodeError as exc:
        _refusals.not_utf8_bytes(what, given, exc)
    return 0


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
        if overflow == 0 and 0 <= v <= MAX_RETRY:
            f.retry_len = _digits(f.retry_digits, <unsigned long long>v)
            f.retry = f.retry_digits
            return None
        _refusals.bad_retry(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_RETRY:
        _refusals.bad_retry(value)
    # An int subclass: formatted by Python, exactly as the twin does.
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
    cdef object given = value
    if isinstance(value, str):
        f.body = _utf8(what, value, &f.body_len)  # valid UTF-8 by construction
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
        if not _utf8_valid(f.body, f.body_len):
            _refuse_utf8(f.body, f.body_len, what, type(given).__name__)
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
# The _keep_* locals hold the objects a Frame points into until the frame is written.

cdef object _data_frame(FrameBuffer sink, object data, object event, object id, object retry):
    cdef Frame f
    cdef object _keep_retry = _set_head(&f, event, id, retry)
    cdef object _keep_data = None
    if data is not None:
        _keep_data = _set_text(&f, "data", data, DATA)
    return _emit(&f, sink)


cdef object _json_frame(FrameBuffer sink, object obj, object event, object id, object retry,
                        object default):
    cdef Frame f
    cdef object _keep_retry = _set_head(&f, event, id, retry)
    cdef bytes payload
    try:
        # orjson treats default=None as no default; leaving the keyword out saves its parsing.
        payload = _dumps(obj) if default is None else _dumps(obj, default=default)
    except TypeError as exc:
        _refusals.not_json(obj, exc)
    # An orjson.Fragment may hold any bytes: checked like any data (and split like it, below).
    if not _utf8_valid(PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload)):
        _refuse_utf8(PyBytes_AS_STRING(payload), PyBytes_GET_SIZE(payload), "JSON data", _refusals.FRAGMENT)
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
    f.prefix = DATA
    f.prefix_len = len(DATA)
    f.body = PyBytes_AS_STRING(payload)
    f.body_len = PyBytes_GET_SIZE(payload)
    return _emit(&f, sink)


cdef object _comment_frame(FrameBuffer sink, object text):
    cdef Frame f
    _set_head(&f, None, None, None)
    cdef object _keep_text = _set_text(&f, "comment", text, COMMENT)
    return _emit(&f, sink)


cdef object _retry_frame(FrameBuffer sink, object ms):
    cdef Frame f
    _set_head(&f, None, None, None)
    cdef object _keep_retry = _set_retry(&f, ms)  # None is refused here, not taken as "no retry"
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
