"""Where a submission's code runs. Every backend yields an object with the same interface (the
``submission`` fixture): attribute access for the notebook's top-level names, ``make_object`` for library
objects built on the submission's side, ``has`` and ``cell_errors``.
"""
