"""attacks.md #17 - always-equal subclasses of plain types: an int and an ndarray that claim equality with anything.

Replaces both answers; the values themselves are wrong (0 and zeros).
"""

import numpy as np


class Equal(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    def __sub__(self, other):
        return Equal(0)

    def __abs__(self):
        return Equal(0)

    __hash__ = int.__hash__


class EqualArray(np.ndarray):
    def __eq__(self, other):
        return True

    def __array_function__(self, func, types, args, kwargs):
        return True

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return True


def add(a, b):
    return Equal(0)


def scale(x, k):
    return np.zeros(len(x)).view(EqualArray)
