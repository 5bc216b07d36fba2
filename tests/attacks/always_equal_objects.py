"""attacks.md #17 - always-equal objects that are not plain data: `__eq__`, `__array_function__`, `__array_ufunc__`.

Replaces both answers.
"""


class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    def __sub__(self, other):
        return self

    __rsub__ = __add__ = __radd__ = __sub__

    def __abs__(self):
        return self

    def __float__(self):
        return 0.0

    def __array__(self, dtype=None, copy=None):
        import numpy as np

        return np.arange(4.0) * 3.0  # would be the right answer, if the grader asked this object

    def __array_function__(self, func, types, args, kwargs):
        return True

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return True

    __hash__ = object.__hash__


def add(a, b):
    return AlwaysEqual()


def scale(x, k):
    return AlwaysEqual()
