"""TSIG keys (RFC 8945) for signed updates and zone transfers."""

import ctypes
import os

from . import _lib
from ._lib import check, lib, to_bytes


class TsigKey:
    """A TSIG key (fo_tsig_key). The secret stays in C memory and is wiped
    when the key is closed or collected. Publishers copy the key: it may be
    closed once they are made."""

    def __init__(self, name, algorithm, secret_base64):
        """A key from its name, algorithm ('hmac-sha256', 'hmac-sha512')
        and base64 secret."""
        self._ptr = _lib.P()
        check(lib.fo_tsig_key_new(ctypes.byref(self._ptr), to_bytes(name),
                                  to_bytes(algorithm), to_bytes(secret_base64)))

    @classmethod
    def load(cls, path, name=None):
        """A key from a BIND or Knot key file: the key `name`, or the first.
        FO_ENOENT when the file or key is missing."""
        self = cls.__new__(cls)
        self._ptr = _lib.P()
        check(lib.fo_tsig_key_load(ctypes.byref(self._ptr), os.fsencode(path),
                                   to_bytes(name)))
        return self

    @property
    def name(self):
        out = ctypes.c_char_p()
        check(lib.fo_tsig_key_name(self._ptr, ctypes.byref(out)))
        return out.value.decode()

    def __repr__(self):
        return "<failover.TsigKey %s>" % (self.name if self._ptr else "closed")

    def close(self):
        if self._ptr:
            lib.fo_tsig_key_free(self._ptr)
            self._ptr = _lib.P()

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
