#!/usr/bin/env bash
# Creates .venv with sagegam and every extra installed (editable), for development and
# for the README's quickstart. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
