"""JupyterLab's "Check my work", in a real browser: JupyterLab headless, Debian's Chromium driven by Playwright.

A blank and a completed week-1 notebook are opened, the toolbar button is clicked, and the side panel must show
what `autograder check` finds: for the blank one "not ready" with each public check naming the function still to
write, for the completed one "ready" with every check passed. The endpoint's guards (the server's token, paths
outside its root) are checked over plain HTTP. Screenshots land in each test's tmp dir.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)  # the machine may be busy; a check's own wait is longer, where it is made

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"  # Debian's (make system); Playwright's own browser download is unreachable here
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
NOTEBOOKS = {"blank.ipynb": "release/week01-markov/markov.ipynb",
             "completed.ipynb": "solutions/week01-markov/markov.ipynb"}
# the week-1 public checks: section heading and the function each one calls first
WEEK1 = {"check-tokenize": ("2. Tokenization", "tokenize_chars"),
         "check-vocab": ("3. The vocabulary and the boundary token", "build_vocab"),
         "check-ngrams": ("4. Counting n-grams", "count_ngrams"),
         "check-bigrams": ("5. The bigram count matrix", "count_bigrams"),
         "check-probs": ("6. Transition probabilities and add-k smoothing", "transition_probs"),
         "check-temperature": ("7. Temperature", "apply_temperature"),
         "check-sample": ("8. Sampling the next token", "sample_next"),
         "check-generate": ("9. Generating text", "generate"),
         "check-nll": ("10. Negative log-likelihood and perplexity", "nll")}


@dataclass
class Lab:
    url: str
    token: str
    root: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _isolated_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        env[var] = str(home / var.lower())
    # no "get notified about Jupyter news?" toast over the toolbar and the screenshots
    settings = home / "jupyterlab_settings_dir/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer within {seconds:g} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    root.mkdir()
    for name, source in NOTEBOOKS.items():
        shutil.copy(REPO / source, root / name)
    port, token = _free_port(), secrets.token_hex(16)
    log = home / "server.log"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly", "--LabApp.notebook_starts_kernel=False"]
    with log.open("w") as out:
        # started in the repository, as `make lab` is: the check finds course.yml from here
        proc = subprocess.Popen(command, cwd=REPO, env=_isolated_env(home), stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(f"{url}/api/status?token={token}", proc, log)
        yield Lab(url, token, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


BUTTON = ".jp-NotebookPanel-toolbar .ag-check-button:visible"


def _open(browser: Browser, lab: Lab, name: str, workspace: str) -> Page:
    """A page showing only ``name``: each test has a workspace of its own, so none restores another's tabs."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # narrower: the button goes into "…"
    page.set_default_timeout(60_000)
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?token={lab.token}")
    return page


def _check(browser: Browser, lab: Lab, name: str, shots: Path) -> Page:
    page = _open(browser, lab, name, Path(name).stem)
    page.locator(BUTTON).click()
    expect(page.locator("#autograder-panel .ag-result")).to_be_visible(timeout=150_000)
    page.screenshot(path=shots / f"{Path(name).stem}.png")
    return page


def _row(page: Page, check: str):
    return page.locator(f"#autograder-panel .ag-check[data-check='{check}']")


def test_blank_notebook_is_not_ready_and_names_each_function(browser: Browser, lab: Lab, tmp_path: Path):
    page = _check(browser, lab, "blank.ipynb", tmp_path)
    panel = page.locator("#autograder-panel")
    expect(panel.locator(".ag-verdict")).to_have_text("Not ready yet: 9 of 9 public checks do not pass yet.")
    expect(panel.locator(".ag-check")).to_have_count(len(WEEK1))
    for check, (section, function) in WEEK1.items():
        row = _row(page, check)
        expect(row.locator(".ag-status")).to_have_text("not attempted")
        expect(row.locator(".ag-section")).to_have_text(section)
        expect(row.locator(".ag-message")).to_have_text(f"`{function}` is not implemented yet")
    assert "cell 2" not in panel.inner_text() and "NotImplementedError" not in panel.inner_text()
    # the exploration cells are not graded (skip-grading), so nothing else raised
    expect(panel.locator(".ag-error")).to_have_count(0)
    # a heading is a link to its cell: the notebook scrolls there and makes it the active cell
    _row(page, "check-bigrams").locator(".ag-goto").click()
    active = page.locator(".jp-Notebook .jp-Cell.jp-mod-active")
    expect(active).to_contain_text('N_small = count_bigrams(["ab", "b"]')
    expect(active).to_be_in_viewport()
    page.screenshot(path=tmp_path / "blank-after-link.png")
    page.close()


def test_completed_notebook_is_ready_with_every_check_passed(browser: Browser, lab: Lab, tmp_path: Path):
    # through the command palette this time (the same command as the button)
    page = _open(browser, lab, "completed.ipynb", "completed")
    expect(page.locator(BUTTON)).to_be_visible(timeout=90_000)
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Check my work")
    page.locator(".lm-CommandPalette-item", has_text="Check my work").first.click()
    panel = page.locator("#autograder-panel")
    expect(panel.locator(".ag-verdict")).to_have_text("Ready to submit: all 9 public checks pass.", timeout=150_000)
    expect(panel.locator(".ag-check.ag-passed")).to_have_count(len(WEEK1))
    expect(panel.locator(".ag-error")).to_have_count(0)
    for check, (section, _) in WEEK1.items():
        expect(_row(page, check).locator(".ag-section")).to_have_text(section)
    page.screenshot(path=tmp_path / "completed.png")
    page.close()


def _post(lab: Lab, body: object, token: bool = True) -> tuple[int, str]:
    request = urllib.request.Request(f"{lab.url}/autograder/check", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"token {lab.token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_endpoint_needs_the_token_and_stays_under_the_root(lab: Lab):
    assert _post(lab, {"path": "blank.ipynb"}, token=False)[0] == 403
    outside = lab.root.parent / "outside.ipynb"
    shutil.copy(lab.root / "blank.ipynb", outside)
    for path in ("../outside.ipynb", str(outside), "../../../../etc/passwd", "blank.ipynb/../../outside.ipynb"):
        status, body = _post(lab, {"path": path})
        assert status == 400 and "outside the folder" in body, (path, status, body)
    status, body = _post(lab, {"path": "missing.ipynb"})
    assert status == 400 and "does not exist" in body
    (lab.root / "notes.txt").write_text("hello")
    assert _post(lab, {"path": "notes.txt"})[0] == 400
    assert _post(lab, {})[0] == 400
