"""coloc: call functions that run on other jobs' idle cores, from Python.

This package is libfaas (faas(3)) for Python, over ctypes: no compiler, no
extension module. A lease names the workers and the function library; a
client connects to the workers and calls the library's functions on byte
buffers.

    import coloc

    with coloc.Client() as c:                 # the lease from FAAS_LEASE
        out = c.invoke("echo", b"hello")      # bytes in, bytes out
        fut = c.submit("echo", b"again")      # a concurrent.futures.Future
        for r in c.map("echo", [b"a", b"b"]):  # results in input order
            print(r)

Inputs are any C-contiguous object with the buffer protocol (bytes,
bytearray, memoryview, array.array, NumPy arrays): libfaas reads them where
they are, without a copy in Python. Outputs come back as bytes, or are
written straight into a writable buffer given as out=.

Errors are FaasError exceptions that carry libfaas's code (.code, .name)
and what libfaas knows about the failure (.detail, .fn_rc, .needed).

Threads: a Client may be shared by threads. Every libfaas call on it is made
under the client's lock, so one thread at a time is inside libfaas, as
faas(3) requires. libfaas has no thread of its own: the replies of calls
started with submit() or map() are read by the thread that waits for them
(Future.result(), map's iteration, close()), and, while calls are in
flight and nobody waits, by a helper thread of the client that polls them
(so that done-callbacks, concurrent.futures.wait() and as_completed() see
them complete). Every call ends within the client's timeout_ms: with its
result or with CallTimeout.

The library loaded is COLOC_LIBFAAS when set, else the libfaas installed
with this package, else libfaas.so.0 from the dynamic linker's path.
See coloc-python(3).
"""

import collections
import ctypes
import os
import threading
import time
import weakref
from concurrent.futures import Future

from . import _libfaas as _lf

try:
    from ._paths import VERSION as __version__
except ImportError:  # not installed: the source tree
    __version__ = "0+source"

__all__ = [
    "Lease",
    "Client",
    "Function",
    "FaasError",
    "InvalidArgumentError",
    "LeaseError",
    "NoFunctionError",
    "PayloadTooLargeError",
    "OutputSizeError",
    "FunctionError",
    "CallTimeout",
    "EvictedError",
    "UnavailableError",
    "BusyError",
    "strerror",
    "library_path",
]


# ---- errors -----------------------------------------------------------------


class FaasError(Exception):
    """A libfaas call failed.

    code    the negative FAAS_E* code (int), e.g. -7
    name    its name, e.g. "FAAS_EFUNC"
    detail  what libfaas said about this failure (a lease parser's message,
            the controller's answer, faas_last_error() of a call), or None
    fn_rc   FAAS_EFUNC: the function's own non-zero return code, when the
            libfaas in use reports it (faas_last_fn_rc), else None
    needed  FAAS_EOUTSIZE: the output size the function needed, when the
            libfaas in use reports it, else None
    function  the name of the function called, when there was a call

    str(e) is faas_strerror(code), preceded by the function's name and
    followed by the detail. Subclasses name the common codes; catch
    FaasError for all of them.
    """

    def __init__(self, code, detail=None, fn_rc=None, needed=None, function=None):
        self.code = code
        self.name = _lf.ERRORS.get(code, "FAAS_E%d" % -code if code < 0 else str(code))
        self.detail = detail or None
        self.fn_rc = fn_rc
        self.needed = needed
        self.function = function
        msg = strerror(code)
        if function:
            msg = "%s: %s" % (function, msg)
        if self.detail:
            msg = "%s: %s" % (msg, self.detail)
        elif fn_rc is not None:
            msg = "%s (it returned %d)" % (msg, fn_rc)
        if needed is not None:
            msg = "%s (it needs %d bytes of output)" % (msg, needed)
        super().__init__(msg)


class InvalidArgumentError(FaasError, ValueError):
    """FAAS_EINVAL: an argument, FAAS_LEASE or an option is invalid."""


class LeaseError(FaasError, ValueError):
    """FAAS_ELEASE: the lease document is malformed (detail names the field)."""


class NoFunctionError(FaasError, LookupError):
    """FAAS_ENOFUNC: no function of that name or id in the lease."""


class PayloadTooLargeError(FaasError, ValueError):
    """FAAS_ETOOBIG: the input is larger than Lease.max_payload."""


class OutputSizeError(FaasError):
    """FAAS_EOUTSIZE: the output is larger than out_cap (.needed, when
    known, is the size the function needed)."""


class FunctionError(FaasError):
    """FAAS_EFUNC: the function returned non-zero (.fn_rc, when known)."""


class CallTimeout(FaasError, TimeoutError):
    """FAAS_ETIMEDOUT: no reply within the client's timeout_ms (the function
    may still run; its late reply is dropped)."""


class EvictedError(FaasError):
    """FAAS_EEVICTED: the executor was evicted; the call did not complete."""


class UnavailableError(FaasError):
    """FAAS_EUNAVAIL: no executor of the lease (or no controller) answered."""


class BusyError(FaasError):
    """FAAS_EBUSY: no free slot (or, from Lease.acquire, no idle resources)."""


_ERROR_CLASSES = {
    _lf.FAAS_EINVAL: InvalidArgumentError,
    _lf.FAAS_ELEASE: LeaseError,
    _lf.FAAS_ENOFUNC: NoFunctionError,
    _lf.FAAS_ETOOBIG: PayloadTooLargeError,
    _lf.FAAS_EOUTSIZE: OutputSizeError,
    _lf.FAAS_EFUNC: FunctionError,
    _lf.FAAS_ETIMEDOUT: CallTimeout,
    _lf.FAAS_EEVICTED: EvictedError,
    _lf.FAAS_EUNAVAIL: UnavailableError,
    _lf.FAAS_EBUSY: BusyError,
}


def _error(code, detail=None, **kw):
    return _ERROR_CLASSES.get(code, FaasError)(code, detail, **kw)


def strerror(code):
    """faas_strerror(): the sentence that names a FAAS_E* code."""
    return _lf.strerror(_int_arg("code", code))


def library_path():
    """The libfaas this package loads (COLOC_LIBFAAS, the installed one, or
    the soname libfaas.so.0)."""
    return _lf.library_path()


# ---- argument checks ----------------------------------------------------------


def _int_arg(name, v, lo=None, hi=None):
    if isinstance(v, bool) or not isinstance(v, int):
        try:
            v = v.__index__()
        except AttributeError:
            raise TypeError("%s must be an int, not %s" % (name, type(v).__name__)) from None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError("%s must be in %s..%s, not %d" % (name, lo, hi, v))
    return v


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _size_arg(name, v):
    """An int, or a str such as "512M" (K, M, G, T: powers of 1024)."""
    if isinstance(v, str):
        s = v.strip().upper().rstrip("B").rstrip("I")
        unit = s[-1:] if s[-1:] in _UNITS else ""
        num = s[: len(s) - len(unit)]
        if not num.isdigit():
            raise ValueError("%s: %r is not a size (a number with K, M, G or T)" % (name, v))
        return int(num) * _UNITS[unit]
    return _int_arg(name, v, 0)


def _text_arg(name, v):
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode()
    raise TypeError("%s must be str or bytes, not %s" % (name, type(v).__name__))


def _path_arg(name, v):
    try:
        return os.fsencode(v)
    except TypeError:
        raise TypeError("%s must be a path, not %s" % (name, type(v).__name__)) from None


# ---- buffers --------------------------------------------------------------------


class _PyBuffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


def _declare_buffer_api():
    api = ctypes.pythonapi
    api.PyObject_GetBuffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
    api.PyObject_GetBuffer.restype = ctypes.c_int
    api.PyBuffer_Release.argtypes = [ctypes.POINTER(_PyBuffer)]
    api.PyBuffer_Release.restype = None


try:
    _declare_buffer_api()
except AttributeError:  # not CPython: read-only inputs are copied
    pass


class _ReadonlyView:
    """The address of a read-only buffer, held (PyObject_GetBuffer) until
    this object goes away."""

    def __init__(self, obj):
        api = ctypes.pythonapi
        self._view = _PyBuffer()
        self._api = api
        if api.PyObject_GetBuffer(obj, ctypes.byref(self._view), 0x38) != 0:  # PyBUF_C_CONTIGUOUS
            raise BufferError("cannot get the buffer of a %s" % type(obj).__name__)
        self.address = self._view.buf

    def __del__(self):
        if self._view.obj:
            self._api.PyBuffer_Release(ctypes.byref(self._view))


def _view(name, obj):
    """A memoryview of obj, which must be a C-contiguous bytes-like object."""
    try:
        mv = memoryview(obj)
    except TypeError:
        raise TypeError(
            "%s must be a bytes-like object (bytes, bytearray, memoryview, a NumPy array), "
            "not %s" % (name, type(obj).__name__)
        ) from None
    if not mv.c_contiguous:
        raise ValueError("%s is not C-contiguous: pass a contiguous copy (numpy.ascontiguousarray)" % name)
    return mv


def _input(data):
    """(address, length, keepalive) of data, read where it is."""
    if data is None:
        return None, 0, None
    if isinstance(data, bytes):
        p = ctypes.c_char_p(data)  # points into the bytes object
        return ctypes.cast(p, ctypes.c_void_p).value, len(data), (p, data)
    if isinstance(data, str):
        raise TypeError("data must be a bytes-like object, not str: encode it first")
    mv = _view("data", data)
    n = mv.nbytes
    if n == 0:
        return None, 0, None
    if not mv.readonly:
        a = (ctypes.c_char * n).from_buffer(mv)
        return ctypes.addressof(a), n, (a, mv)
    try:
        v = _ReadonlyView(mv)
    except (AttributeError, BufferError):  # no pythonapi (not CPython): copy
        a = (ctypes.c_char * n).from_buffer_copy(mv)
        return ctypes.addressof(a), n, a
    return v.address, n, (v, mv)


def _output(out, out_cap, default_cap):
    """(address, capacity, keepalive) of the output buffer: out itself, or
    a new one of out_cap (default default_cap) bytes when out is None."""
    if out is None:
        cap = default_cap if out_cap is None else _int_arg("out_cap", out_cap, 0)
        if cap == 0:
            return None, 0, None
        a = ctypes.create_string_buffer(cap)
        return ctypes.addressof(a), cap, a
    mv = _view("out", out)
    if mv.readonly:
        raise TypeError("out is read-only: pass a writable buffer (bytearray, a NumPy array)")
    n = mv.nbytes
    cap = n if out_cap is None else _int_arg("out_cap", out_cap, 0, n)
    if cap == 0:
        return None, 0, None
    a = (ctypes.c_char * n).from_buffer(mv)
    return ctypes.addressof(a), cap, (a, mv)


# ---- leases -----------------------------------------------------------------------


class Lease:
    """A lease: the right to call one function library on a set of workers.

    Make one with Lease.from_env() (FAAS_LEASE, as srun --faas-workers
    sets it), Lease.from_json(text), Lease.from_file(path) or
    Lease.acquire(...) (asks coloc's controller). The lease must outlive its
    clients: close() closes them first.

    Used as a context manager, a lease is closed on exit and, when it was
    acquired with Lease.acquire() and not released yet, released first, so
    that its executors stop.
    """

    def __init__(self, _handle, _acquired=False, _conf=None):
        if not isinstance(_handle, ctypes.c_void_p) or not _handle.value:
            raise TypeError("use Lease.from_env(), Lease.from_json() or Lease.acquire()")
        self._h = _handle
        self._acquired = _acquired
        self._released = False
        self._clients = weakref.WeakSet()
        self._lock = threading.Lock()

    @classmethod
    def from_json(cls, text):
        """Parses a lease document (JSON, str or bytes). LeaseError names
        the bad field."""
        lib = _lf.load()
        h = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_lf.ERRLEN)
        rc = lib.faas_lease_from_json(_text_arg("text", text), ctypes.byref(h), err, _lf.ERRLEN)
        if rc:
            raise _error(rc, err.value.decode(errors="replace"))
        return cls(h)

    @classmethod
    def from_file(cls, path):
        """Reads the lease document in the file at path."""
        with open(path, "rb") as f:
            return cls.from_json(f.read().strip())

    @classmethod
    def from_env(cls):
        """The lease in FAAS_LEASE: the JSON document or the path of a file
        holding it. InvalidArgumentError when FAAS_LEASE is unset."""
        lib = _lf.load()
        h = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_lf.ERRLEN)
        rc = lib.faas_lease_from_env(ctypes.byref(h), err, _lf.ERRLEN)
        if rc:
            raise _error(rc, err.value.decode(errors="replace") or "FAAS_LEASE is unset")
        return cls(h)

    @classmethod
    def acquire(cls, workers, lib, mem_per_worker=0, gpus=0, minutes=0, pack=False, conf=None):
        """Asks coloc's controller (coloc.conf: conf, else COLOC_CONF, else
        the default) for workers workers serving the function library lib.

        mem_per_worker: bytes (int) or a size such as "2G"; 0 = the site
        default. gpus: 0..64. minutes: 1..527040, 0 = DefaultLeaseTime.
        pack: place on as few nodes as possible. Waits at most
        FAAS_CONTROLLER_TIMEOUT_MS (default 30 s). Errors: BusyError (not
        enough idle resources now), UnavailableError (no controller),
        InvalidArgumentError, FaasError (EAUTH, ELEASE, ...); detail says
        what and the remedy.
        """
        req = _lf.LeaseRequest()
        req.workers = _int_arg("workers", workers, 1, 4096)
        req.lib = _path_arg("lib", lib)
        req.mem_per_worker = _size_arg("mem_per_worker", mem_per_worker)
        req.gpus = _int_arg("gpus", gpus, 0, 64)
        req.minutes = _int_arg("minutes", minutes, 0, 527040)
        req.pack = 1 if pack else 0
        req.conf = None if conf is None else _path_arg("conf", conf)
        h = ctypes.c_void_p()
        err = ctypes.create_string_buffer(_lf.ERRLEN)
        rc = _lf.load().faas_lease_acquire(ctypes.byref(req), ctypes.byref(h), err, _lf.ERRLEN)
        if rc:
            raise _error(rc, err.value.decode(errors="replace"))
        return cls(h, _acquired=True)

    def _handle(self):
        if not self._h:
            raise ValueError("the lease is closed")
        return self._h

    def release(self):
        """Tells the controller the lease is no longer needed: its executors
        stop. Closes the lease's clients first. Only for a lease the
        controller granted; a second release() does nothing."""
        if self._released:
            return
        h = self._handle()
        for c in list(self._clients):
            c.close()
        err = ctypes.create_string_buffer(_lf.ERRLEN)
        rc = _lf.load().faas_lease_release(h, err, _lf.ERRLEN)
        if rc:
            raise _error(rc, err.value.decode(errors="replace"))
        self._released = True

    def close(self):
        """Closes the lease's clients and frees the lease (the executors go
        on serving it until it ends or is released). Idempotent."""
        for c in list(self._clients):
            c.close()
        with self._lock:
            h, self._h = self._h, None
        if h:
            _lf.load().faas_lease_destroy(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if self._acquired and self._h:
                self.release()
        finally:
            self.close()
        return False

    def __del__(self):
        if getattr(self, "_h", None) and not self._clients:
            try:
                self.close()
            except Exception:
                pass

    @property
    def workers(self):
        """Number of workers the lease grants."""
        return _lf.load().faas_lease_workers(self._handle())

    @property
    def id(self):
        """The lease id (str)."""
        return _lf.load().faas_lease_id(self._handle()).decode(errors="replace")

    @property
    def provider(self):
        """The libfabric provider, e.g. "tcp;ofi_rxm"."""
        return _lf.load().faas_lease_provider(self._handle()).decode(errors="replace")

    @property
    def max_payload(self):
        """The largest input (bytes) one call may carry."""
        return _lf.load().faas_lease_max_payload(self._handle())

    @property
    def closed(self):
        return not self._h

    def __repr__(self):
        if not self._h:
            return "<coloc.Lease closed>"
        return "<coloc.Lease %s: %d workers over %s>" % (self.id, self.workers, self.provider)


# ---- clients -----------------------------------------------------------------------


class Function:
    """A function of the lease's library, bound to a client: call it like a
    Python function (Client.invoke), or use .submit() and .map()."""

    def __init__(self, client, name, fid):
        self.client, self.name, self.id = client, name, fid

    def __call__(self, data=None, out=None, out_cap=None):
        return self.client.invoke(self, data, out=out, out_cap=out_cap)

    def submit(self, data=None, out=None, out_cap=None):
        return self.client.submit(self, data, out=out, out_cap=out_cap)

    def map(self, inputs, out_cap=None, inflight=None):
        return self.client.map(self, inputs, out_cap=out_cap, inflight=inflight)

    def __repr__(self):
        return "<coloc.Function %s (id %d)>" % (self.name, self.id)


class _Call:
    """A call in flight: its future and what must live until it completes."""

    __slots__ = ("future", "name", "out_cap", "out_addr", "keep", "returns_len")

    def __init__(self, future, name, out_addr, out_cap, keep, returns_len):
        self.future, self.name, self.out_addr, self.out_cap = future, name, out_addr, out_cap
        self.keep, self.returns_len = keep, returns_len


class _CallFuture(Future):
    """A concurrent.futures.Future whose result() and exception() read the
    replies themselves when nobody else does."""

    def __init__(self, client):
        super().__init__()
        self._client = client

    def result(self, timeout=None):
        self._client._drive(self, timeout)
        return super().result(timeout)

    def exception(self, timeout=None):
        self._client._drive(self, timeout)
        return super().exception(timeout)


class Client:
    """A connection to every worker of a lease.

    lease: a Lease; None reads FAAS_LEASE (the client then owns that lease
    and closes it with itself). timeout_ms: the per-call timeout (default
    1000, or FAAS_TIMEOUT_MS). connect_timeout_ms: the handshake (default
    5000). blocking: wait for replies on the completion queue instead of
    busy-polling. depth: calls in flight per worker (default 16 up to 4
    workers, 4 up to 16, 2 beyond). src_addr: the local fabric address
    (default FAAS_ADDR or the provider's choice).

    UnavailableError when no worker answers within connect_timeout_ms.
    Used as a context manager, the client is closed on exit.
    """

    def __init__(self, lease=None, timeout_ms=None, connect_timeout_ms=None, blocking=False,
                 depth=None, src_addr=None):
        self._lib = _lf.load()
        self._lock = threading.Lock()
        self._h = None
        self._pending = {}
        self._functions = {}
        self._poller = None
        self._owns_lease = lease is None
        if lease is None:
            lease = Lease.from_env()
        elif not isinstance(lease, Lease):
            raise TypeError("lease must be a coloc.Lease, not %s" % type(lease).__name__)
        o = _lf.ClientOptions()
        o.timeout_ms = 0 if timeout_ms is None else _int_arg("timeout_ms", timeout_ms, 1, 2**31 - 1)
        o.connect_timeout_ms = (
            0 if connect_timeout_ms is None else _int_arg("connect_timeout_ms", connect_timeout_ms, 1, 2**31 - 1)
        )
        o.blocking = 1 if blocking else 0
        o.depth = 0 if depth is None else _int_arg("depth", depth, 1, 1024)
        o.src_addr = None if src_addr is None else _text_arg("src_addr", src_addr)
        h = ctypes.c_void_p()
        try:
            rc = self._lib.faas_client_create(lease._handle(), ctypes.byref(o), ctypes.byref(h))
            if rc:
                raise _error(rc, "lease %s: no worker of the lease answered or the handshake failed"
                             % lease.id if rc == _lf.FAAS_EUNAVAIL else None)
        except BaseException:
            if self._owns_lease:
                lease.close()
            raise
        self._h = h
        self.lease = lease
        lease._clients.add(self)
        self._default_cap = lease.max_payload

    # -- state --

    def _handle(self):
        if not self._h:
            raise ValueError("the client is closed")
        return self._h

    @property
    def closed(self):
        return not self._h

    @property
    def workers(self):
        """Number of workers this client is connected to."""
        with self._lock:
            return self._lib.faas_client_workers(self._handle())

    @property
    def inflight(self):
        """Calls started (submit, map) and not completed yet."""
        with self._lock:
            return len(self._pending)

    @property
    def retries(self):
        """Calls moved to another worker after an eviction."""
        with self._lock:
            return self._lib.faas_client_retries(self._handle())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        if getattr(self, "_h", None):
            try:
                self.close()
            except Exception:
                pass

    def __repr__(self):
        return "<coloc.Client %s>" % ("closed" if not self._h else "of lease %s" % self.lease.id)

    def close(self):
        """Waits for the calls in flight (each within its timeout), then
        disconnects. Closes the lease too when the client read it from
        FAAS_LEASE. Idempotent."""
        done = []
        with self._lock:
            if not self._h:
                return
            while self._pending:
                done += self._wait_any_locked()
            h, self._h = self._h, None
            self._lib.faas_client_destroy(h)
        self._resolve(done)
        self.lease._clients.discard(self)
        if self._owns_lease:
            self.lease.close()

    # -- functions --

    def function(self, name):
        """The Function called name; NoFunctionError when the lease's library
        has none."""
        if isinstance(name, Function):
            if name.client is not self:
                raise ValueError("%r belongs to another client" % name)
            return name
        key = _text_arg("name", name)
        f = self._functions.get(key)
        if f is None:
            with self._lock:
                fid = self._lib.faas_function(self._handle(), key)
            if fid < 0:
                raise _error(fid, "no function %r in lease %s" % (key.decode(errors="replace"), self.lease.id))
            f = self._functions[key] = Function(self, key.decode(errors="replace"), fid)
        return f

    def _fn(self, fn):
        if isinstance(fn, (str, bytes, Function)):
            f = self.function(fn)
            return f.id, f.name
        return _int_arg("fn", fn, 0), "function %d" % fn

    # -- the libfaas calls, under self._lock --

    def _failure(self, rc, call_name, out_len, out_cap, completed=True):
        """The FaasError of a call; libfaas's last_error and last_fn_rc
        describe calls that completed, not calls that could not start."""
        detail = fn_rc = needed = None
        if completed and self._h and _lf.has("faas_last_error"):
            s = self._lib.faas_last_error(self._h)
            detail = s.decode(errors="replace") if s else None
        if rc == _lf.FAAS_EFUNC and self._h and _lf.has("faas_last_fn_rc"):
            fn_rc = self._lib.faas_last_fn_rc(self._h)
        if rc == _lf.FAAS_EOUTSIZE and out_len > out_cap:
            needed = out_len
        return _error(rc, detail, fn_rc=fn_rc, needed=needed, function=call_name)

    def _complete(self, call, rc, out_len):
        """(future, result or exception) of a collected call."""
        if rc:
            return call.future, self._failure(rc, call.name, out_len, call.out_cap)
        if call.returns_len:
            return call.future, out_len
        return call.future, ctypes.string_at(call.out_addr, out_len) if out_len else b""

    def _wait_any_locked(self):
        """Waits for one call to complete: [(future, result or exception)]."""
        ptr, n = ctypes.c_void_p(), ctypes.c_size_t(0)
        rc = self._lib.faas_wait_any(self._h, ctypes.byref(ptr), ctypes.byref(n))
        call = self._pending.pop(ptr.value, None) if ptr.value else None
        if call is not None:
            return [self._complete(call, rc, n.value)]
        # libfaas knows none of our calls (cannot happen while it and
        # _pending agree): fail them all rather than wait forever
        err = FaasError(rc or _lf.FAAS_EPROTO, "libfaas lost track of the calls in flight")
        done = [(c.future, err) for c in self._pending.values()]
        self._pending.clear()
        return done

    def _poll_locked(self):
        done, n = [], ctypes.c_size_t(0)
        for ptr in list(self._pending):
            n.value = 0
            rc = self._lib.faas_test(self._h, ptr, ctypes.byref(n))
            if rc != _lf.FAAS_EINPROGRESS:
                done.append(self._complete(self._pending.pop(ptr), rc, n.value))
        return done

    def _start_locked(self, fid, name, data, out, out_cap, done):
        """Starts a call; collects finished calls into done while every slot
        is taken by one. Returns (call handle, _Call without future)."""
        in_addr, in_len, keep_in = _input(data)
        out_addr, cap, keep_out = _output(out, out_cap, self._default_cap)
        ptr = ctypes.c_void_p()
        while True:
            rc = self._lib.faas_invoke_async(self._handle(), fid, in_addr, in_len, out_addr, cap,
                                             ctypes.byref(ptr))
            if rc != _lf.FAAS_EBUSY or not self._pending:
                break
            done += self._wait_any_locked()  # frees a slot
        if rc:
            raise self._failure(rc, name, 0, cap, completed=False)
        return ptr.value, _Call(None, name, out_addr, cap, (keep_in, keep_out), out is not None)

    @staticmethod
    def _resolve(done):
        for fut, res in done:
            if fut is None:
                continue
            if isinstance(res, BaseException):
                fut.set_exception(res)
            else:
                fut.set_result(res)

    # -- calls --

    def invoke(self, fn, data=None, out=None, out_cap=None):
        """Calls fn (a name, a Function or an id) on data and waits.

        data: any C-contiguous bytes-like object (bytes, bytearray,
        memoryview, a NumPy array), read in place; None for no input.
        Without out, returns the output as bytes (out_cap bytes at most,
        default Lease.max_payload). With out, a writable C-contiguous
        buffer, the output is written into it (up to out_cap, default its
        size) and the number of bytes written is returned.
        Raises FaasError (FunctionError, CallTimeout, ...) on failure.
        """
        fid, name = self._fn(fn)
        done = []
        try:
            with self._lock:
                ptr, call = self._start_locked(fid, name, data, out, out_cap, done)
                n = ctypes.c_size_t(0)
                rc = self._lib.faas_wait(self._h, ptr, ctypes.byref(n))
                _, res = self._complete(call, rc, n.value)
        finally:
            self._resolve(done)
        if isinstance(res, BaseException):
            raise res
        return res

    def submit(self, fn, data=None, out=None, out_cap=None):
        """Starts a call as invoke() does and returns at once with a
        concurrent.futures.Future of its result. data may be reused at once
        (libfaas copies it); out must not be touched until the future is
        done. A call that cannot start (an unknown function, an input over
        max_payload, an evicted lease) raises here."""
        fid, name = self._fn(fn)
        fut = _CallFuture(self)
        fut.set_running_or_notify_cancel()
        done = []
        try:
            with self._lock:
                ptr, call = self._start_locked(fid, name, data, out, out_cap, done)
                call.future = fut
                self._pending[ptr] = call
                self._start_poller_locked()
        finally:
            self._resolve(done)
        return fut

    def map(self, fn, inputs, out_cap=None, inflight=None):
        """Calls fn on every input of the iterable inputs and returns an
        iterator of the outputs (bytes), in the order of the inputs, that
        keeps up to inflight calls (default 2 per worker) running. The first
        failed call raises its FaasError from the iteration; the calls
        already started still complete."""
        self._fn(fn)
        window = 2 * self.workers if inflight is None else _int_arg("inflight", inflight, 1)
        if out_cap is not None:
            _int_arg("out_cap", out_cap, 0)
        return self._map(fn, iter(inputs), out_cap, window)

    def _map(self, fn, inputs, out_cap, window):
        futs = collections.deque()
        for data in inputs:
            futs.append(self.submit(fn, data, out_cap=out_cap))
            if len(futs) >= window:
                yield futs.popleft().result()
        while futs:
            yield futs.popleft().result()

    # -- progress --

    def _drive(self, fut, timeout):
        """Reads replies until fut is done (or timeout seconds passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.00005
        while not fut.done():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            if not self._lock.acquire(timeout=-1 if left is None else left):
                return
            try:
                if fut.done() or not self._h or not self._pending:
                    done = []
                elif deadline is None:
                    done = self._wait_any_locked()
                else:
                    done = self._poll_locked()
            finally:
                self._lock.release()
            self._resolve(done)
            if not done:  # another thread collects fut, or nothing completed
                time.sleep(pause)
                pause = min(pause * 2, 0.002)

    def _start_poller_locked(self):
        if self._poller is None or not self._poller.is_alive():
            self._poller = threading.Thread(target=self._poll_loop, name="coloc-progress",
                                            daemon=True)
            self._poller.start()

    def _poll_loop(self):
        """The helper thread: polls the calls in flight while there are any
        and nobody else reads their replies (then it finds the lock taken or
        the calls done), backing off to 2 ms when nothing completes."""
        pause = 0.0001
        while True:
            with self._lock:
                if not self._h or not self._pending:
                    self._poller = None
                    return
                done = self._poll_locked()
            self._resolve(done)
            if done:
                pause = 0.0001
            else:
                time.sleep(pause)
                pause = min(pause * 2, 0.002)
