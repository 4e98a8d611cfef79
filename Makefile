# The two entry points of a fresh clone: `make demo` and `make test` (see README.md).
VENV := .venv

.PHONY: demo test lint

demo: $(VENV)/.installed
	$(VENV)/bin/sanwang demo

test: $(VENV)/.installed lint
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

$(VENV)/.installed: pyproject.toml deploy/install-system-packages.sh
	bash deploy/install-system-packages.sh
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@
