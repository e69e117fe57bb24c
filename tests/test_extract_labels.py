"""Every hand-labelled corpus PDF, one test each: labels.json plus our own fixtures.

Labels: ../shared/corpus/pdfs/labels.json and tests/fixtures/pdfs/<name>.expected.json
(same format, plus "file"), made by reading page text, never from this extractor.
"""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from pipelines.extract import extract_pdf
from pipelines.extract.scoring import score_paper

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PDFS = CORPUS / "pdfs"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pdfs"

# Word F1 of each labelled span against the extracted span.
MIN_SPAN_F1 = 0.85

# Papers that genuinely fail, with the reason (strict: an unexpected pass fails too).
KNOWN_FAILURES: dict[str, str] = {}


def _labels() -> list[dict]:
    labels = json.loads((PDFS / "labels.json").read_text())
    labels += [
        json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.expected.json"))
    ]
    return [label for label in labels if label.get("text_layer", True)]


def _params():
    for label in _labels():
        marks = []
        if label["file"] in KNOWN_FAILURES:
            marks.append(
                pytest.mark.xfail(reason=KNOWN_FAILURES[label["file"]], strict=True)
            )
        yield pytest.param(label, id=label["file"], marks=marks)


def test_fixture_labels_name_real_unlabelled_corpus_files():
    official = {
        entry["file"] for entry in json.loads((PDFS / "labels.json").read_text())
    }
    fixtures = [
        json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.expected.json"))
    ]
    assert len(fixtures) >= 12
    for label in fixtures:
        assert (PDFS / label["file"]).is_file(), label["file"]
        assert label["file"] not in official, (
            f"{label['file']} is already in labels.json"
        )


@pytest.mark.parametrize("label", list(_params()))
def test_labelled_paper(label):
    data = (PDFS / label["file"]).read_bytes()
    result = extract_pdf(data)
    assert result.status == "ok", result.error
    assert result.pages == label["pages"]
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        score = score_paper(label, result, doc)

    if not label["limitations"]:
        assert result.limitations == [], f"invented limitations: {score.extra_spans}"
    assert not score.extra_spans, f"spans matching no label: {score.extra_spans}"
    for span in score.spans:
        assert span.found, (
            f"labelled span {span.label_heading!r} not found (best F1 {span.f1:.2f})"
        )
        assert span.kind == span.label_kind, (
            f"{span.label_heading!r}: kind {span.kind} != {span.label_kind}"
        )
        assert span.f1 >= MIN_SPAN_F1, f"{span.label_heading!r}: word F1 {span.f1:.2f}"
    assert score.appendix_ok, score.appendix_detail
