"""ctypes bindings of libfaas (faas.h), for the coloc package only.

Which library is loaded: the path in the COLOC_LIBFAAS environment variable
when it is set (the tests point it at the build tree's libfaas.so.0), else
the path fixed when the package was installed (_paths.LIBFAAS,
$(libdir)/libfaas.so.0) when that file exists, else the soname libfaas.so.0
through the dynamic linker's search path. The library is loaded once, on first use.

Everything here mirrors faas.h one to one; the Pythonic layer is in
__init__.py. Functions that later versions of libfaas add (faas_last_error,
faas_last_fn_rc) are bound only when the library exports them.
"""

import ctypes
import os
import threading

SONAME = "libfaas.so.0"

# enum faas_error (faas.h)
ERRORS = {
    0: "FAAS_OK",
    -1: "FAAS_EINVAL",
    -2: "FAAS_ENOMEM",
    -3: "FAAS_ELEASE",
    -4: "FAAS_ENOFUNC",
    -5: "FAAS_ETOOBIG",
    -6: "FAAS_EOUTSIZE",
    -7: "FAAS_EFUNC",
    -8: "FAAS_ETIMEDOUT",
    -9: "FAAS_EAUTH",
    -10: "FAAS_EEVICTED",
    -11: "FAAS_EUNAVAIL",
    -12: "FAAS_ETRANSPORT",
    -13: "FAAS_EPROTO",
    -14: "FAAS_EBUSY",
    -15: "FAAS_EINPROGRESS",
    -16: "FAAS_ENOSESSION",
    -17: "FAAS_ESTATELOST",
}
globals().update({name: code for code, name in ERRORS.items()})

ERRLEN = 512


class LeaseRequest(ctypes.Structure):
    """struct faas_lease_request"""

    _fields_ = [
        ("workers", ctypes.c_int),
        ("lib", ctypes.c_char_p),
        ("mem_per_worker", ctypes.c_size_t),
        ("gpus", ctypes.c_int),
        ("minutes", ctypes.c_int),
        ("pack", ctypes.c_int),
        ("conf", ctypes.c_char_p),
    ]


class ClientOptions(ctypes.Structure):
    """struct faas_client_options"""

    _fields_ = [
        ("timeout_ms", ctypes.c_int),
        ("connect_timeout_ms", ctypes.c_int),
        ("blocking", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("src_addr", ctypes.c_char_p),
    ]


_vp = ctypes.c_void_p
_int = ctypes.c_int
_size = ctypes.c_size_t
_psize = ctypes.POINTER(ctypes.c_size_t)
_pvp = ctypes.POINTER(ctypes.c_void_p)
_str = ctypes.c_char_p

# name: (restype, argtypes); the opaque handles are void pointers
_PROTOTYPES = {
    "faas_strerror": (_str, [_int]),
    "faas_lease_from_json": (_int, [_str, _pvp, ctypes.c_char_p, _size]),
    "faas_lease_from_env": (_int, [_pvp, ctypes.c_char_p, _size]),
    "faas_lease_destroy": (None, [_vp]),
    "faas_lease_workers": (_int, [_vp]),
    "faas_lease_id": (_str, [_vp]),
    "faas_lease_provider": (_str, [_vp]),
    "faas_lease_max_payload": (_size, [_vp]),
    "faas_lease_acquire": (_int, [ctypes.POINTER(LeaseRequest), _pvp, ctypes.c_char_p, _size]),
    "faas_lease_release": (_int, [_vp, ctypes.c_char_p, _size]),
    "faas_client_create": (_int, [_vp, ctypes.POINTER(ClientOptions), _pvp]),
    "faas_client_destroy": (None, [_vp]),
    "faas_client_workers": (_int, [_vp]),
    "faas_function": (_int, [_vp, _str]),
    "faas_invoke": (_int, [_vp, _int, _vp, _size, _vp, _size, _psize]),
    "faas_invoke_async": (_int, [_vp, _int, _vp, _size, _vp, _size, _pvp]),
    "faas_wait": (_int, [_vp, _vp, _psize]),
    "faas_test": (_int, [_vp, _vp, _psize]),
    "faas_wait_any": (_int, [_vp, _pvp, _psize]),
    "faas_inflight": (_int, [_vp]),
    "faas_client_retries": (ctypes.c_long, [_vp]),
}
# Added by later versions of libfaas: bound when present.
_OPTIONAL = {
    "faas_last_error": (_str, [_vp]),
    "faas_last_fn_rc": (_int, [_vp]),
}

_lock = threading.Lock()
_lib = None


def library_path():
    """The path (or soname) of the libfaas that load() opens."""
    path = os.environ.get("COLOC_LIBFAAS")
    if path:
        return path
    try:
        from . import _paths  # written by make install
    except ImportError:
        return SONAME
    path = getattr(_paths, "LIBFAAS", None)
    # a copy moved elsewhere (a DESTDIR staging tree) finds it by soname
    return path if path and os.path.exists(path) else SONAME


def load():
    """Opens libfaas once and declares its prototypes; raises OSError with
    the path tried and the remedy when the library cannot be opened."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        path = library_path()
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise OSError(
                "coloc: cannot load libfaas from %r (%s); install coloc's libfaas "
                "or set COLOC_LIBFAAS to the path of libfaas.so.0" % (path, e)
            ) from None
        for name, (res, args) in _PROTOTYPES.items():
            try:
                f = getattr(lib, name)
            except AttributeError:
                raise OSError(
                    "coloc: %s does not export %s: it is not coloc's libfaas, or "
                    "older than this package" % (path, name)
                ) from None
            f.restype, f.argtypes = res, args
        for name, (res, args) in _OPTIONAL.items():
            if hasattr(lib, name):
                f = getattr(lib, name)
                f.restype, f.argtypes = res, args
        _lib = lib
        return lib


def has(name):
    """Whether the loaded libfaas exports the function name."""
    return hasattr(load(), name)


def strerror(code):
    """faas_strerror(code) as str."""
    return load().faas_strerror(code).decode("utf-8", "replace")
