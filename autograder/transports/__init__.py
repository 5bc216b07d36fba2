"""How the ``submission`` fixture reaches a submission's code: the same interface either way (attribute access for
the notebook's top-level names, ``make_object`` for library objects built on the submission's side, ``has`` and
``cell_errors``), over one of two transports:

- :mod:`.remote`: calls cross the sandbox boundary as plain data (grading, validation through the sandbox);
- :mod:`.inprocess`: the notebook runs in this process (the authoring loop and `check`, on trusted notebooks).
"""
