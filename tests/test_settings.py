import re
from pathlib import Path

import pytest

from pipelines.settings import Settings, SettingsError, documented_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_environment_beats_dotenv_beats_default(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nGLEAN_ARXIV_DELAY=5\nGLEAN_ARXIV_CATEGORIES='cs.AI, cs.CL'\n")
    s = Settings.load(env={"GLEAN_ARXIV_DELAY": "7"}, dotenv=dotenv)
    assert s.arxiv_delay == 7.0
    assert s.arxiv_categories == ("cs.AI", "cs.CL")
    assert s.http_timeout == 30.0


def test_home_defaults_to_var(tmp_path):
    assert Settings.load(env={}, dotenv=tmp_path / "none").home.name == "var"


@pytest.mark.parametrize("key, value", [
    ("GLEAN_ARXIV_DELAY", "soon"),
    ("GLEAN_ARXIV_DELAY", "-1"),
    ("GLEAN_ARXIV_PAGE_SIZE", "0"),
])
def test_bad_values_name_the_key(tmp_path, key, value):
    with pytest.raises(SettingsError, match=key):
        Settings.load(env={key: value}, dotenv=tmp_path / "none")


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text()
    missing = [key for key, _, _ in documented_settings() if not re.search(rf"`{key}`", text)]
    assert not missing, f"settings missing from README.md: {missing}"


def test_unknown_glean_keys_are_warned_about_with_the_closest_known_one(tmp_path, caplog):
    dotenv = tmp_path / ".env"
    dotenv.write_text("GLEAN_HOMEE=/srv/glean\n")
    Settings.load(env={"GLEAN_ARXIV_DELAYY": "4", "GLEAN_ZZZ_UNRELATED": "1", "PATH": "/bin"}, dotenv=dotenv)
    warnings = [r.getMessage() for r in caplog.records]
    assert "unknown setting GLEAN_HOMEE is ignored: did you mean GLEAN_HOME?" in warnings
    assert "unknown setting GLEAN_ARXIV_DELAYY is ignored: did you mean GLEAN_ARXIV_DELAY?" in warnings
    assert any(w.startswith("unknown setting GLEAN_ZZZ_UNRELATED is ignored") for w in warnings)
    assert not any("PATH" in w for w in warnings)


@pytest.mark.parametrize("raw, level", [("debug", "DEBUG"), (" Warning ", "WARNING")])
def test_log_levels_are_checked(tmp_path, raw, level):
    assert Settings.load(env={"GLEAN_LOG_LEVEL": raw}, dotenv=tmp_path / "none").log_level == level
    with pytest.raises(SettingsError, match="GLEAN_LOG_LEVEL"):
        Settings.load(env={"GLEAN_LOG_LEVEL": "LOUD"}, dotenv=tmp_path / "none")


def test_followed_categories_must_be_arxivs(tmp_path):
    assert Settings.load(env={"GLEAN_ARXIV_CATEGORIES": "cs.HC, math.AG"}, dotenv=tmp_path / "none"
                         ).arxiv_categories == ("cs.HC", "math.AG")
    with pytest.raises(SettingsError, match="unknown arXiv categories cs.XX"):
        Settings.load(env={"GLEAN_ARXIV_CATEGORIES": "cs.CL,cs.XX"}, dotenv=tmp_path / "none")
