"""README.md's ```console transcripts are what the commands print now (scripts/readme_transcripts.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.corpus import REPO


@pytest.mark.slow  # the transcripts include `glean index`, which loads the embedding model
def test_readme_transcripts_are_current():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "readme_transcripts.py"), "--check", "--quiet"],
                            capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, (
        "README.md's transcripts differ from what the commands print now; "
        "run python scripts/readme_transcripts.py and review the diff\n" + result.stdout[-8000:] + result.stderr[-4000:])
