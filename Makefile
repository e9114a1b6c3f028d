# The two commands a newcomer needs (see README.md):
#   make demo   - create .venv, release the assignments, grade sample submissions, print the scores
#   make test   - create .venv if needed, install the Debian packages the tests need (bubblewrap,
#                 chromium, dataset-fashion-mnist, LibreOffice Calc, acl), JupyterHub's proxy and axe-core (npm),
#                 type-check, lint and run the whole test suite
#   make test-fast - the unit layer alone (pure functions, goldens, fixture generators): well under a minute
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv system-deps demo test test-fast typecheck lint clean bench formgrader

venv: $(STAMP)

# The package's dependencies come from pyproject.toml, the development tools from requirements-dev.txt,
# every version from constraints.txt.
$(STAMP): requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -r requirements-dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt --no-build-isolation -e .
	# an editable install leaves out the package's data files: enable the Validate extension as a wheel does
	install -D -m 644 autograder/jupyter-config/autograder.json \
		$(VENV)/etc/jupyter/jupyter_server_config.d/autograder.json
	touch $(STAMP)

system-deps:
	bash .ci/system-deps

demo: venv
	$(BIN)/autograder demo

# nbgrader's formgrader on the demo course (after `make demo`); the token is printed in the log
formgrader: venv
	cd demo-output/course && ../../$(BIN)/jupyter server --ip=127.0.0.1 --port=8888 --no-browser $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

# The package, benchmarks and tests in one run; each hidden suite on its own (two suites both have a conftest.py,
# and their folder names are not package names)
typecheck: venv
	$(BIN)/python -m mypy
	for suite in autograder/hidden/*/; do $(BIN)/python -m mypy "$$suite"*.py || exit 1; done

lint: venv
	$(BIN)/python -m ruff check autograder tests benchmarks

# Whole test files spread over two processes (pytest-xdist): module fixtures that grade a batch run once. xdist
# sends the files with the most tests first; sending the longest first (--no-loadscope-reorder and a sorted
# collection) measured slower, 10m08s against 8m20s-8m59s: the CPU-heavy Keras modules then ran side by side.
test: venv system-deps typecheck lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-fast: venv
	$(BIN)/python -m pytest tests/unit -q

bench: venv
	$(BIN)/python benchmarks/grade_batch.py

clean:
	rm -rf $(VENV) demo-output .cache
