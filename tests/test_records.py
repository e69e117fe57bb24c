import pytest

from pipelines.records import canonical_url, normalise_doi, split_arxiv_id, stable_id


@pytest.mark.parametrize("text, expected", [
    ("2401.01234", ("2401.01234", None)),
    ("2401.01234v3", ("2401.01234", 3)),
    ("arXiv:0704.0001v1", ("0704.0001", 1)),
    ("http://arxiv.org/abs/2202.12139v1", ("2202.12139", 1)),
    ("https://arxiv.org/pdf/2202.12139v2.pdf", ("2202.12139", 2)),
    ("hep-th/9901001", ("hep-th/9901001", None)),
    ("http://arxiv.org/abs/astro-ph/0601001v1", ("astro-ph/0601001", 1)),
    ("math.GT/0309136v2", ("math.GT/0309136", 2)),
])
def test_arxiv_ids(text, expected):
    assert split_arxiv_id(text) == expected


@pytest.mark.parametrize("bad", ["", "hello", "1234.5", "doi:10.1/x"])
def test_not_arxiv_ids(bad):
    with pytest.raises(ValueError):
        split_arxiv_id(bad)


def test_dois_are_normalised():
    assert normalise_doi("https://doi.org/10.1038/323533A0") == "10.1038/323533a0"
    assert normalise_doi("doi:10.1101/2023.12.16.571984") == "10.1101/2023.12.16.571984"
    with pytest.raises(ValueError):
        normalise_doi("not a doi")


def test_stable_id_prefers_arxiv_then_doi_then_url():
    assert stable_id(arxiv_id="2401.01234v2", doi="10.1234/x") == "arxiv:2401.01234"
    assert stable_id(doi="10.1234/X") == "doi:10.1234/x"
    a = stable_id(url="HTTP://Example.org/paper/?utm_source=rss#top")
    assert a == stable_id(url="http://example.org/paper") and a.startswith("url:")
    with pytest.raises(ValueError):
        stable_id()


def test_canonical_url_keeps_meaningful_query():
    assert canonical_url("https://x.org/a?id=3&utm_medium=feed") == "https://x.org/a?id=3"
