"""attacks.md #36 - carry a hidden check's inputs out through the feedback: raise them as an exception's message,
as the name of an exception class made on the spot, as the file name of the code that raises, and print them.
"""


def echo(x):
    raise ValueError(repr(x))


def echo_class(x):
    raise type("Leak" + "".join(c for c in str(x) if c.isalnum())[:80], (Exception,), {})()


def echo_file(x):
    scope = {}
    exec(compile("def leak():\n    raise RuntimeError('see the file name')\n", f"<{x}>", "exec"), scope)
    scope["leak"]()


def echo_print(x):
    print("ECHO", x, flush=True)
    return None
