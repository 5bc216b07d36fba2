"""The dashboard and a feedback page as a person sees them: opened in headless Chromium (Debian's, driven by
Playwright), screenshotted, no console errors, the plots drawn, the student links working, the feedback page
fitting a phone, and nothing of the hidden checks (code or expected values) anywhere in the HTML."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from autograder.config import load_course
from autograder.dashboard import write_gradebook, write_report
from autograder.release import release

from .conftest import FIXTURES, cli
from .test_late_roster import DUE, _incoming, _late_course, _put

CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
# What the toy course's hidden checks hold and a student must never see: their code and expected values.
HIDDEN = ["submission.add", "20, 22", "42", "0.75", "np.arange", "np.allclose", "assert ", "def test_",
          "result.shape"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser") / "course"
    shutil.copytree(FIXTURES / "toycourse", root, ignore=shutil.ignore_patterns("release", "solutions",
                                                                               "__pycache__"))
    course = load_course(root / "course.yml")
    release(course)
    course = _late_course(course)
    folder = _incoming(course)
    # fails two checks; handed in at a fixed time (its lateness is shown, and must not depend on the clock: a
    # lateness of "... 42 min" would read as a leaked expected value)
    _put(root / "solutions/week00-toy/wrong/add_subtracts.ipynb", folder / "gus.ipynb",
         DUE + dt.timedelta(days=9, hours=1))  # after the cut-off: 0
    run = cli("grade", "week00-toy", "--submissions", str(folder), "--jobs", "2", cwd=root)
    assert run.returncode == 0, run.stderr
    write_report(course, course.assignment("week00-toy"))
    write_gradebook(course)
    return root


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    assert CHROMIUM.is_file(), "Chromium is missing: `make system` installs it (apt-get install chromium)"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        yield browser
        browser.close()


def _open(browser, url: str, width: int, height: int):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}"))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, problems


def _visible_html(path: Path) -> str:
    """The page's HTML without its embedded images and style sheet (base64 and colours may spell anything)."""
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", path.read_text(encoding="utf-8"))
    return re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)


def _leaks(html: str) -> list[str]:
    return [s for s in HIDDEN if re.search(rf"(?<![\w.]){re.escape(s)}(?![\w])", html)]


def test_the_dashboard_shows_its_plots_and_links_to_feedback(graded: Path, browser, tmp_path: Path):  # noqa: ANN001
    report = graded / "reports/week00-toy.html"
    page, problems = _open(browser, report.as_uri(), 1280, 900)
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    sizes = page.eval_on_selector_all("img.plot", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) == 4 and all(done and width > 100 for done, width in sizes)  # score, checks, families, time
    assert page.locator("#stat-late").inner_text() == "4"
    assert "add subtracts instead of adding" in page.inner_text("body")             # the family gus fell into
    rows = page.locator("#students tr").count()
    assert rows == 1 + 7
    page.get_by_role("link", name="cho", exact=True).click()
    page.wait_for_load_state("load")
    assert page.url.endswith("feedback/cho/week00-toy/feedback.html")
    assert page.locator("#score").inner_text() == "4.8 / 6"
    assert problems == []
    assert _leaks(_visible_html(report)) == []
    page.close()


def test_a_feedback_page_reads_on_a_phone_and_hides_the_checks(graded: Path, browser, tmp_path: Path):  # noqa: ANN001
    feedback = graded / "feedback/gus/week00-toy/feedback.html"
    page, problems = _open(browser, feedback.as_uri(), 390, 844)
    page.screenshot(path=str(tmp_path / "feedback.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390             # no sideways scrolling
    text = page.inner_text("body")
    assert "add works on integers." in text and "add should return the sum of its arguments" in text
    assert "failed" in text and "0 / 6" in page.locator("#score").inner_text()
    assert problems == []
    html = _visible_html(feedback)
    assert _leaks(html) == [] and _leaks("<p>add(20, 22) should be 42</p>") == ["20, 22", "42"]
    page.close()


def test_the_course_gradebook_has_a_column_per_assignment_penalties_applied_and_totals(graded: Path, browser):  # noqa: ANN001
    import pandas as pd

    frame = pd.read_csv(graded / "exports/gradebook.csv")
    assert list(frame.columns) == ["student", "week00-toy", "total"]
    scores = dict(zip(frame["student"], frame["week00-toy"], strict=True))
    assert scores["cho"] == 4.8 and scores["eli"] == 0 and pd.isna(scores["gus"]) is False
    assert frame.set_index("student").loc["cho", "total"] == 4.8
    page, problems = _open(browser, (graded / "reports/gradebook.html").as_uri(), 1280, 800)
    assert page.locator("#gradebook tr").count() == 1 + len(frame) and problems == []
    page.get_by_role("link", name="week00-toy").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("reports/week00-toy.html")
    page.close()
