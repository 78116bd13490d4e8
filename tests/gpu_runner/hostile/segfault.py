# Dereferences a null pointer through ctypes.
import ctypes


def total(values):
    return ctypes.string_at(0)
