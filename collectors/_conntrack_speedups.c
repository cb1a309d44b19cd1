/*
 * The common line shapes of conntrack text, parsed in C: an optional speed-up for
 * collectors/conntrack_text.py, which works the same without it.
 *
 * It owns one grammar: the lines that conntrack_text._pattern() matches (the kernel's
 * /proc/net/nf_conntrack lines and `conntrack -L` lines with every optional part), read left to
 * right without backtracking. Every optional part starts with its own literal (`zone=`,
 * `packets=`, `[UNREPLIED]`, ...), so taking it whenever it is there gives the same result as
 * the regular expression. A line outside the grammar (or with a byte it does not expect, or a
 * number of more than 4,000 digits) is not an error here: scan() hands it back and the per-line
 * parser in Python decides what it is, exactly as when this module is absent.
 *
 * scan(text)  -> (entries, others) or None
 *     Counts the lines in the grammar; others is [(line index, line)] for every other
 *     non-empty line. None when text is not stored one byte per character (then Python parses).
 * build(text, pos, line, limit, barrier, Entry, Tuple, protocols)
 *     -> (entries, pos, line, finished)
 *     Builds up to `limit` ConntrackEntry objects from the grammar's lines, starting at byte
 *     `pos` (the start of line number `line`), skipping other lines, and stopping before line
 *     `barrier` (-1: none). finished is true at the barrier or the end of the text.
 *
 * Values are built as the Python fast path builds them: addresses and states as str, numbers
 * as int, a missing port or counter as None (equal values close together share one object).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline)) /* literal sizes become constants */
#else
#define HOT static inline
#endif

#define MAX_DIGITS 4000 /* below CPython's int/str conversion limit (4,300 digits) */

typedef struct {
    const char *p;
    Py_ssize_t n; /* 0: absent (every value in the grammar is at least one character) */
} Span;

typedef struct {
    const char *p, *e;
} Cur;

typedef struct {
    int family; /* 4 or 6 from the ipv4/ipv6 prefix; 0 when there is none */
    int proto;  /* 0 tcp, 1 udp, 2 sctp, 3 icmp, 4 icmpv6 */
    Span timeout, state;
    Span tup[2][4]; /* original, reply: src, dst, sport, dport */
    Span zone[3];   /* in the original tuple, in the reply tuple, after the tuples */
    Span packets[2], bytes[2];
    int unreplied, assured;
    Span mark, id;
} Fields;

HOT int at(const Cur *c, const char *s, Py_ssize_t n) {
    return c->e - c->p >= n && memcmp(c->p, s, (size_t)n) == 0;
}

HOT int take(Cur *c, const char *s, Py_ssize_t n) {
    if (!at(c, s, n)) return 0;
    c->p += n;
    return 1;
}

#define TAKE(c, lit) take((c), (lit), (Py_ssize_t)(sizeof(lit) - 1))

HOT int spaces(Cur *c) {
    const char *s = c->p;
    while (c->p < c->e && *c->p == ' ') c->p++;
    return c->p > s;
}

HOT int digits(Cur *c, Span *out) {
    const char *s = c->p;
    while (c->p < c->e && (unsigned char)(*c->p - '0') < 10) c->p++;
    out->p = s;
    out->n = c->p - s;
    return out->n > 0 && out->n <= MAX_DIGITS;
}

HOT int address(Cur *c, Span *out) {
    const char *s = c->p;
    while (c->p < c->e) {
        char ch = *c->p;
        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') ||
            ch == '.' || ch == ':')
            c->p++;
        else
            break;
    }
    out->p = s;
    out->n = c->p - s;
    return out->n > 0;
}

/* `key=NUM` and at least one space; the cursor is left where it was when that is not next. */
HOT int keynum(Cur *c, const char *key, Py_ssize_t klen, Span *out) {
    Cur save = *c;
    if (take(c, key, klen) && digits(c, out) && spaces(c)) return 1;
    *c = save;
    out->n = 0;
    return 0;
}

#define KEYNUM(c, lit, out) keynum((c), (lit), (Py_ssize_t)(sizeof(lit) - 1), (out))

/* src= dst= then sport= dport= (or ICMP's type= code= id=), then at least one space. */
static int tuple_part(Cur *c, int icmp, Span t[4]) {
    if (!(TAKE(c, "src=") && address(c, &t[0]) && spaces(c))) return 0;
    if (!(TAKE(c, "dst=") && address(c, &t[1]) && spaces(c))) return 0;
    if (icmp) {
        Span ignored;
        if (!(TAKE(c, "type=") && digits(c, &ignored) && spaces(c) && TAKE(c, "code=") &&
              digits(c, &ignored) && spaces(c) && TAKE(c, "id=") && digits(c, &ignored)))
            return 0;
        t[2].n = t[3].n = 0;
    } else if (!(TAKE(c, "sport=") && digits(c, &t[2]) && spaces(c) && TAKE(c, "dport=") &&
                 digits(c, &t[3]))) {
        return 0;
    }
    return spaces(c);
}

/* packets=NUM bytes=NUM, both or neither. */
static void counters(Cur *c, Span *packets, Span *bytes) {
    Cur save = *c;
    if (KEYNUM(c, "packets=", packets) && KEYNUM(c, "bytes=", bytes)) return;
    *c = save;
    packets->n = bytes->n = 0;
}

HOT int flag(Cur *c, const char *lit, Py_ssize_t n) {
    Cur save = *c;
    if (take(c, lit, n) && spaces(c)) return 1;
    *c = save;
    return 0;
}

#define FLAG(c, lit) flag((c), (lit), (Py_ssize_t)(sizeof(lit) - 1))

/* Parse the line [s, e) (without its newline). 1 when it is in the grammar. */
static int parse_line(const char *s, const char *e, Fields *f) {
    Cur c = {s, e};
    Span d;
    memset(f, 0, sizeof(*f));

    Cur save = c;
    if (TAKE(&c, "ipv4") && spaces(&c) && TAKE(&c, "2") && spaces(&c)) {
        f->family = 4;
    } else {
        c = save;
        if (TAKE(&c, "ipv6") && spaces(&c) && TAKE(&c, "10") && spaces(&c))
            f->family = 6;
        else
            c = save;
    }
    /* The protocol's name (not checked: its number decides), never a family prefix. */
    if (at(&c, "ipv4 ", 5) || at(&c, "ipv6 ", 5)) return 0;
    const char *name = c.p;
    while (c.p < c.e && ((*c.p >= 'a' && *c.p <= 'z') || (*c.p >= '0' && *c.p <= '9'))) c.p++;
    if (c.p == name || !spaces(&c)) return 0;
    if (!digits(&c, &d) || !spaces(&c)) return 0;
    if (d.n == 1 && d.p[0] == '6')
        f->proto = 0;
    else if (d.n == 2 && memcmp(d.p, "17", 2) == 0)
        f->proto = 1;
    else if (d.n == 3 && memcmp(d.p, "132", 3) == 0)
        f->proto = 2;
    else if (d.n == 1 && d.p[0] == '1')
        f->proto = 3;
    else if (d.n == 2 && memcmp(d.p, "58", 2) == 0)
        f->proto = 4;
    else
        return 0;
    int icmp = f->proto >= 3;
    if (!digits(&c, &f->timeout) || !spaces(&c)) return 0;
    if (c.p < c.e && *c.p >= 'A' && *c.p <= 'Z') {
        const char *st = c.p;
        while (c.p < c.e && ((*c.p >= 'A' && *c.p <= 'Z') || (*c.p >= '0' && *c.p <= '9') ||
                             *c.p == '_'))
            c.p++;
        f->state.p = st;
        f->state.n = c.p - st;
        if (!spaces(&c)) return 0;
    }
    if (!tuple_part(&c, icmp, f->tup[0])) return 0;
    KEYNUM(&c, "zone=", &f->zone[0]);
    counters(&c, &f->packets[0], &f->bytes[0]);
    f->unreplied = FLAG(&c, "[UNREPLIED]");
    if (!tuple_part(&c, icmp, f->tup[1])) return 0;
    KEYNUM(&c, "zone=", &f->zone[1]);
    counters(&c, &f->packets[1], &f->bytes[1]);
    f->assured = FLAG(&c, "[ASSURED]");
    KEYNUM(&c, "mark=", &f->mark);
    save = c;
    if (TAKE(&c, "secctx=")) {
        const char *v = c.p;
        while (c.p < c.e && *c.p > ' ' && *c.p < 0x7f) c.p++;
        if (c.p == v || !spaces(&c)) c = save;
    }
    KEYNUM(&c, "zone=", &f->zone[2]);
    KEYNUM(&c, "delta-time=", &d);
    if (!(TAKE(&c, "use=") && digits(&c, &d))) return 0;
    save = c;
    if (!(spaces(&c) && TAKE(&c, "id=") && digits(&c, &f->id))) {
        c = save;
        f->id.n = 0;
    }
    while (c.p < c.e && (*c.p == ' ' || *c.p == '\t' || *c.p == '\r')) c.p++;
    return c.p == c.e;
}

/* --- values ------------------------------------------------------------------------------ */

/* Equal values built close together share one object: the reply tuple repeats the original's
 * addresses and ports, and a table repeats its service and node addresses. A small
 * direct-mapped cache per build() call does that without a dictionary that grows with the
 * table (whose lookups, at a few hundred thousand distinct addresses, cost more than they save). */
#define SLOTS 1024

typedef struct {
    PyObject *text[SLOTS];
    PyObject *number[SLOTS];
    long long value[SLOTS];
} Shared;

static void shared_clear(Shared *sh) {
    for (int i = 0; i < SLOTS; i++) {
        Py_XDECREF(sh->text[i]);
        Py_XDECREF(sh->number[i]);
    }
}

static PyObject *number(Shared *sh, const Span *s) {
    if (s->n == 0) Py_RETURN_NONE;
    if (s->n <= 18) {
        long long v = 0;
        for (Py_ssize_t i = 0; i < s->n; i++) v = v * 10 + (s->p[i] - '0');
        if (v < 256) return PyLong_FromLongLong(v); /* CPython keeps these already */
        unsigned slot = (unsigned)(v ^ (v >> 10)) & (SLOTS - 1);
        PyObject *kept = sh->number[slot];
        if (kept != NULL && sh->value[slot] == v) {
            Py_INCREF(kept);
            return kept;
        }
        PyObject *made = PyLong_FromLongLong(v);
        if (made == NULL) return NULL;
        Py_INCREF(made);
        Py_XSETREF(sh->number[slot], made);
        sh->value[slot] = v;
        return made;
    }
    PyObject *text = PyUnicode_FromStringAndSize(s->p, s->n);
    if (text == NULL) return NULL;
    PyObject *v = PyLong_FromUnicodeObject(text, 10);
    Py_DECREF(text);
    return v;
}

/* The text of a span (ASCII by the grammar). */
static PyObject *shared_text(Shared *sh, const Span *s) {
    unsigned h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < s->n; i++) h = (h ^ (unsigned char)s->p[i]) * 16777619u;
    PyObject **slot = &sh->text[h & (SLOTS - 1)];
    PyObject *kept = *slot;
    if (kept != NULL && PyUnicode_GET_LENGTH(kept) == s->n &&
        memcmp(PyUnicode_1BYTE_DATA(kept), s->p, (size_t)s->n) == 0) {
        Py_INCREF(kept);
        return kept;
    }
    PyObject *text = PyUnicode_New(s->n, 127);
    if (text == NULL) return NULL;
    memcpy(PyUnicode_1BYTE_DATA(text), s->p, (size_t)s->n);
    Py_INCREF(text);
    Py_XSETREF(*slot, text);
    return text;
}

/* A tuple-subclass instance (a named tuple) of `n` new references; steals them, also on error. */
static PyObject *named(PyTypeObject *type, PyObject **items, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (items[i] == NULL) {
            for (Py_ssize_t j = 0; j < n; j++) Py_XDECREF(items[j]);
            return NULL;
        }
    }
    PyObject *obj = type->tp_alloc(type, n);
    if (obj == NULL) {
        for (Py_ssize_t j = 0; j < n; j++) Py_DECREF(items[j]);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(obj, i, items[i]);
    return obj;
}

typedef struct {
    PyTypeObject *entry, *tuple;
    PyObject *protocols; /* tuple of 5 str */
    Shared *shared;
} Builders;

static PyObject *direction(const Builders *b, const Span t[4]) {
    PyObject *items[4] = {shared_text(b->shared, &t[0]), shared_text(b->shared, &t[1]),
                          number(b->shared, &t[2]), number(b->shared, &t[3])};
    return named(b->tuple, items, 4);
}

static PyObject *entry(const Builders *b, const Fields *f) {
    int family = f->family;
    if (family == 0) family = memchr(f->tup[0][0].p, ':', (size_t)f->tup[0][0].n) ? 6 : 4;
    const Span *zone = f->zone[2].n ? &f->zone[2] : f->zone[1].n ? &f->zone[1] : &f->zone[0];
    PyObject *protocol = PyTuple_GET_ITEM(b->protocols, f->proto);
    Py_INCREF(protocol);
    PyObject *state;
    if (f->state.n) {
        state = shared_text(b->shared, &f->state);
    } else {
        state = Py_None;
        Py_INCREF(state);
    }
    PyObject *assured = f->assured ? Py_True : Py_False;
    PyObject *unreplied = f->unreplied ? Py_True : Py_False;
    Py_INCREF(assured);
    Py_INCREF(unreplied);
    Shared *sh = b->shared;
    PyObject *items[15] = {
        PyLong_FromLong(family),
        protocol,
        number(sh, &f->timeout),
        state,
        direction(b, f->tup[0]),
        direction(b, f->tup[1]),
        number(sh, &f->packets[0]),
        number(sh, &f->bytes[0]),
        number(sh, &f->packets[1]),
        number(sh, &f->bytes[1]),
        assured,
        unreplied,
        number(sh, &f->mark),
        number(sh, zone),
        number(sh, &f->id),
    };
    return named(b->entry, items, 15);
}

/* --- the module's functions ---------------------------------------------------------------- */

/* The text as bytes, or NULL (no error set) when it is not stored one byte per character. */
static const char *latin1(PyObject *text, Py_ssize_t *size) {
#if PY_VERSION_HEX < 0x030C0000 /* every str is ready from 3.12 on */
    if (PyUnicode_READY(text) < 0) return NULL;
#endif
    if (PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND) return NULL;
    *size = PyUnicode_GET_LENGTH(text);
    return (const char *)PyUnicode_1BYTE_DATA(text);
}

static PyObject *scan(PyObject *module, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "scan() needs a str");
        return NULL;
    }
    Py_ssize_t size;
    const char *s = latin1(text, &size);
    if (s == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    const char *end = s + size;
    PyObject *others = PyList_New(0);
    if (others == NULL) return NULL;
    Py_ssize_t count = 0, line = 0;
    Fields f;
    for (const char *p = s;; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (e > p) {
            if (parse_line(p, e, &f)) {
                count++;
            } else {
                PyObject *row = Py_BuildValue("(nN)", line,
                                              PyUnicode_FromKindAndData(PyUnicode_1BYTE_KIND, p,
                                                                        e - p));
                if (row == NULL || PyList_Append(others, row) < 0) {
                    Py_XDECREF(row);
                    Py_DECREF(others);
                    return NULL;
                }
                Py_DECREF(row);
            }
        }
        if (nl == NULL) break;
        p = nl + 1;
    }
    return Py_BuildValue("(nN)", count, others);
}

static PyObject *build(PyObject *module, PyObject *args) {
    PyObject *text, *entry_type, *tuple_type, *protocols;
    Py_ssize_t pos, line, limit, barrier;
    if (!PyArg_ParseTuple(args, "UnnnnO!O!O!:build", &text, &pos, &line, &limit, &barrier,
                          &PyType_Type, &entry_type, &PyType_Type, &tuple_type, &PyTuple_Type,
                          &protocols))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)entry_type, &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)tuple_type, &PyTuple_Type) ||
        PyTuple_GET_SIZE(protocols) != 5) {
        PyErr_SetString(PyExc_TypeError, "build() needs tuple types and five protocol names");
        return NULL;
    }
    Py_ssize_t size;
    const char *s = latin1(text, &size);
    if (s == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "text is not one byte a char");
        return NULL;
    }
    if (pos < 0 || pos > size || limit < 1) {
        PyErr_SetString(PyExc_ValueError, "build(): position out of range");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    Shared *shared = PyMem_Calloc(1, sizeof(Shared));
    if (shared == NULL) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    Builders b = {(PyTypeObject *)entry_type, (PyTypeObject *)tuple_type, protocols, shared};
    /* The entries are acyclic: the cyclic collector's passes over them would only cost time. */
    int gc_was_on = PyGC_Disable();
    const char *end = s + size;
    const char *p = s + pos;
    Fields f;
    while (PyList_GET_SIZE(out) < limit) {
        if (p == NULL || line == barrier) break;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (e > p && parse_line(p, e, &f)) {
            PyObject *obj = entry(&b, &f);
            if (obj == NULL || PyList_Append(out, obj) < 0) {
                Py_XDECREF(obj);
                Py_CLEAR(out);
                break;
            }
            Py_DECREF(obj);
        }
        line++;
        p = nl ? nl + 1 : NULL; /* NULL: that was the last line */
    }
    shared_clear(shared);
    PyMem_Free(shared);
    if (gc_was_on) PyGC_Enable();
    if (out == NULL) return NULL;
    int finished = p == NULL || line == barrier;
    Py_ssize_t next = p == NULL ? size : p - s;
    return Py_BuildValue("(NnnO)", out, next, line, finished ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, "Count the lines in the grammar; the other non-empty lines."},
    {"build", build, METH_VARARGS, "Build entries from the grammar's lines, in chunks."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_conntrack_speedups",
    .m_doc = "The common conntrack text lines parsed in C (optional; see conntrack_text).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__conntrack_speedups(void) { return PyModule_Create(&module); }
