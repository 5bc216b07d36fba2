"""attacks.md #10-#13 - cells that raise KeyboardInterrupt, SystemExit, a custom BaseException and pytest.exit.

Cells are separated by `# %%` lines. The last cell proves the notebook kept running after them.
"""

raise KeyboardInterrupt("stop grading")
# %%
raise SystemExit(0)
# %%


class Escape(BaseException):
    pass


raise Escape("out of the grader")
# %%
import pytest  # noqa: E402

pytest.exit("all checks passed", returncode=0)
# %%


def scale(x, k):
    return x
