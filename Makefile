# Everything a fresh machine needs, from one command: `make test` or `make demo`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# message catalogs (make i18n, below)
LOCALE  := autograder/locale
PO_FILES:= $(wildcard $(LOCALE)/*/LC_MESSAGES/autograder.po)
MO_FILES:= $(PO_FILES:.po=.mo)
PYBABEL := $(BIN)/pybabel
export MPLBACKEND := Agg
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup system release test lint unit validate mutate mutate-fast demo lab lab-build bench clean docker-test ray-test i18n

setup: $(STAMP) system $(MO_FILES)

# Python packages: the whole tree pinned in requirements.lock (torch==2.13.0, CPU build here).
$(STAMP): requirements.lock requirements-cluster.lock requirements-dev.lock pyproject.toml lab/pyproject.toml lab/autograder_lab/labextension/package.json
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock -r requirements-cluster.lock -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	@# JupyterLab's "Check my work" (lab/): the committed front-end bundle and the server extension, no Node needed
	$(BIN)/pip install -q --no-deps -e ./lab
	@# one way to check work: nbgrader's own Validate button, assignment list and formgrader check differently
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1
	for ext in formgrader validate_assignment assignment_list course_list; do \
		$(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.$$ext >/dev/null 2>&1; done
	touch $(STAMP)

# System packages, installed when missing: bubblewrap and libseccomp for the sandbox (its system-call filter), and
# Debian's Chromium for the browser tests (the reports and JupyterLab, driven by Playwright; no browser download), and
# fonts-nanum (Korean text in plots and pages).
system:
	@command -v bwrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@/sbin/ldconfig -p | grep -q 'libseccomp\.so\.2 ' || { apt-get update -qq && apt-get install -y -qq libseccomp2 >/dev/null; }
	@# a Korean font for plots (matplotlib, through autograder/matplotlibrc) and Hangul in Chromium
	@[ -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf ] || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null; }
	@# matplotlib caches its font list and never notices fonts installed later: a list without Nanum is dropped
	@cache="$$($(BIN)/python -c 'import matplotlib; print(matplotlib.get_cachedir())' 2>/dev/null)"; \
		for f in "$$cache"/fontlist-*.json; do [ -f "$$f" ] && ! grep -q NanumGothic "$$f" && rm -f "$$f"; done; true

# Messages in the student's language (autograder/i18n.py): gettext catalogs, domain `autograder`, managed with
# Babel. `make i18n` extracts every marked message (autograder/, its templates, the hidden checks' messages and
# descriptions: babel.cfg) into the template, merges it into each language's .po (a changed message keeps its old
# translation marked fuzzy) and compiles; translators then edit autograder/locale/<lang>/LC_MESSAGES/autograder.po
# and `autograder i18n missing` lists what is left. `make setup` compiles the committed .po files.

$(LOCALE)/%/LC_MESSAGES/autograder.mo: $(LOCALE)/%/LC_MESSAGES/autograder.po $(STAMP)
	$(PYBABEL) -q compile -D autograder -d $(LOCALE) -l $* -i $< -o $@

i18n: $(STAMP)
	$(PYBABEL) -q extract -F babel.cfg -k N_ -k ngettext:1,2 --add-location=file --sort-by-file --no-wrap \
		--project=autograder --copyright-holder="the course staff" --ignore-dirs=".* _* lab release solutions source examples benchmarks deploy docker" \
		-o $(LOCALE)/autograder.pot .
	$(PYBABEL) -q update -D autograder -i $(LOCALE)/autograder.pot -d $(LOCALE) --no-wrap --ignore-obsolete
	$(PYBABEL) -q compile -D autograder -d $(LOCALE)
	$(BIN)/autograder i18n missing || true

release: setup
	$(BIN)/autograder release

lint: setup
	$(BIN)/ruff check .

unit: setup
	$(BIN)/pytest -q -m "not docker and not ray" --durations=15 tests

# The course itself: releases current, every reference notebook runs top to bottom and passes its public
# checks in a fresh kernel, and the hidden checks give reference = full, blank = 0, known-wrong = exact loss.
validate: setup
	$(BIN)/autograder release --check
	@for nb in solutions/*/*.ipynb; do $(BIN)/autograder check "$$nb" || exit 1; done
	$(BIN)/autograder validate --jobs 2

# Check strength: single-change mutants of every reference, graded like submissions; fails below each
# assignment's mutation_threshold (course.yml). `mutate` grades all of them (results in benchmarks/results/);
# `mutate-fast` a fixed sample per function (results cached in .mutation-cache/, so a re-run with unchanged checks
# and references grades nothing). See docs/authoring.md, "Measuring the checks".
mutate: setup
	nice $(BIN)/autograder mutate --jobs 2

# (every week: a mutant's checks start with those of the mutated function and stop at the first failure, so weeks
# 4-7 cost about 45-75 s each here; FAST_MUTATE="week01-markov" narrows it)
FAST_MUTATE ?=
mutate-fast: setup
	nice $(BIN)/autograder mutate $(FAST_MUTATE) --profile fast --jobs 2 --results benchmarks/scratch

test: lint unit validate mutate-fast docker-test ray-test

# The main job: release, then grade the bundled week-1 samples (perfect, partial, blank, corrupt, malicious) in
# the sandbox, into gradebook.db, autograded/<student>/ and feedback/<student>/, and export the CSV.
demo: setup
	$(BIN)/autograder release
	$(BIN)/python examples/build_samples.py
	$(BIN)/autograder grade week01-markov --submissions examples/submissions --jobs 2 --regrade
	$(BIN)/autograder export week01-markov --format csv
	$(BIN)/autograder export week01-markov --format nbgrader
	$(BIN)/autograder report week01-markov
	@echo "== the class dashboard and each student's feedback page (open them in a browser) =="
	@echo "dashboard: $(CURDIR)/reports/week01-markov.html"
	@ls $(CURDIR)/feedback/*/week01-markov/feedback.html
	@echo "== what a student runs before submitting: the reference passes every public check =="
	$(BIN)/autograder check solutions/week01-markov/markov.ipynb

bench: setup
	$(BIN)/python benchmarks/bench_grading.py
	$(NETNS) $(BIN)/python benchmarks/bench_ray.py

# The Docker backend against a real daemon, nothing mocked: installs docker.io when missing, starts dockerd when
# none answers, builds a local base image when none exists (no image registry here: debootstrap, with this venv's
# Python 3.11 copied in), the runner image offline from a wheelhouse (cached outside the clone, one per lock
# file), then the end-to-end tests. Cached runs take about a minute and a half; a cold machine about five.
DOCKER_BASE ?= autograder-base:bookworm
WHEELHOUSE  ?= /var/cache/autograder/wheelhouse-$(shell sha256sum requirements.lock | cut -c1-12)
docker-test: setup
	@command -v dockerd >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null; }
	@docker version >/dev/null 2>&1 || { (setsid nohup dockerd >/var/log/autograder-dockerd.log 2>&1 &); \
		for i in $$(seq 60); do docker version >/dev/null 2>&1 && break; sleep 1; done; docker version >/dev/null; }
	AG_PYTHON_PREFIX="$$($(BIN)/python -c 'import sys; print(sys.base_prefix)')" bash docker/build-base.sh $(DOCKER_BASE)
	$(BIN)/autograder image build --base $(DOCKER_BASE) --wheelhouse $(WHEELHOUSE)
	AUTOGRADER_DOCKER_TESTS=1 $(BIN)/pytest -q -m docker tests/test_docker.py

# Kernels and terminals inherit the server's PATH, so `!autograder check markov.ipynb` works in a cell; Jupyter
# refuses to run as root without --allow-root (containers and this machine run as root).
# A real Ray cluster on this machine (a head and two worker nodes, separate `ray start` processes), inside a
# network namespace with only loopback up: Ray probes outside addresses when it starts, and nothing may leave.
NETNS := unshare --net --pid --fork --mount-proc --kill-child sh -c 'ip link set lo up && exec "$$@"' sh
ray-test: setup
	$(NETNS) $(BIN)/pytest -q -m ray tests/test_ray.py

lab: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" MATPLOTLIBRC="$(CURDIR)/autograder/matplotlibrc" $(BIN)/jupyter lab --notebook-dir=release \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Rebuild the "Check my work" front-end from lab/src (TypeScript) into lab/autograder_lab/labextension, the
# bundle that is committed and installed by `make setup`. Needs Node and the npm registry (about a minute cold).
lab-build: setup
	cd lab && PATH="$(CURDIR)/$(BIN):$$PATH" jlpm install && PATH="$(CURDIR)/$(BIN):$$PATH" jlpm build:prod
	$(BIN)/pip install -q --no-deps -e ./lab
	@touch $(STAMP)

clean:
	rm -rf $(VENV) submitted autograded feedback exports reports
