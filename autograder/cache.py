"""The grader's own cache folder: ``$AUTOGRADER_CACHE``, else ``~/.cache/cnn-autograder`` (never inside git).
Whoever reads an entry checks that only this user could have written it (it may decide scores)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("AUTOGRADER_CACHE") or "~/.cache/cnn-autograder").expanduser()
