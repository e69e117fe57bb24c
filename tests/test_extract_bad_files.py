"""Hostile and broken inputs come back as typed outcomes, never as a crashed pipeline."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from pipelines.extract import extract_in_sandbox, extract_many, extract_pdf
from pipelines.extract.faults import DIE, HANG, HOG, misbehaving_extract

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
SCAN = (
    CORPUS
    / "pdfs"
    / "classic"
    / "flajolet_martin1985_probabilistic_counting_SCANNED.pdf"
)
GOOD = CORPUS / "pdfs" / "classic" / "nakamoto2008_bitcoin.pdf"


def text_pdf(pages: int = 1) -> pymupdf.Document:
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page()
        for i in range(12):
            page.insert_text(
                (72, 72 + 14 * i),
                f"Page {n} line {i}: some ordinary words of body text here.",
            )
    return doc


def test_encrypted_with_user_password():
    data = text_pdf().tobytes(
        encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner"
    )
    result = extract_pdf(data)
    assert result.status == "encrypted" and result.sections == []


def test_owner_password_only_still_opens():
    data = text_pdf().tobytes(
        encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", permissions=0
    )
    assert extract_pdf(data).status == "ok"


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.9])
def test_truncated_pdf_is_corrupt(fraction):
    data = GOOD.read_bytes()
    assert extract_pdf(data[: int(len(data) * fraction)]).status == "corrupt"


def test_garbage_after_pdf_header_is_corrupt():
    data = b"%PDF-1.7\n" + bytes((i * 7919) % 251 for i in range(20000))
    result = extract_pdf(data)
    assert result.status == "corrupt" and result.error


@pytest.mark.parametrize(
    "data",
    [b"<!doctype html><html><body>Not found</body></html>", b"", b"PK\x03\x04zip"],
)
def test_not_a_pdf(data):
    assert extract_pdf(data).status == "not_pdf"


def test_real_scan_without_text_layer():
    result = extract_pdf(SCAN.read_bytes())
    assert result.status == "no_text" and result.pages == 28


def test_generated_image_only_pdf():
    doc = pymupdf.open()
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 200, 100), 0)
    pix.clear_with(200)
    for _ in range(3):
        doc.new_page().insert_image(pymupdf.Rect(72, 72, 472, 272), pixmap=pix)
    assert extract_pdf(doc.tobytes()).status == "no_text"


def test_over_the_byte_cap():
    data = GOOD.read_bytes()
    result = extract_pdf(data, max_bytes=len(data) - 1)
    assert result.status == "too_large" and "byte" in result.error


def test_over_the_page_cap():
    result = extract_pdf(text_pdf(pages=5).tobytes(), max_pages=4)
    assert result.status == "too_large" and result.pages == 5


def test_sandbox_single_document():
    result, elapsed_ms = extract_in_sandbox(GOOD.read_bytes(), timeout_s=60)
    assert result.status == "ok" and result.title
    assert elapsed_ms > 0


def test_kept_sandbox_reuses_its_worker_and_replaces_a_dead_or_stuck_one():
    from pipelines.extract import sandbox
    from pipelines.extract.faults import misbehaving_extract

    good = GOOD.read_bytes()
    run = lambda data, timeout_s=60: sandbox.extract_in_kept_sandbox(data, timeout_s=timeout_s,
                                                                     extractor=misbehaving_extract)
    assert run(good)[0].status == "ok"
    first = sandbox._kept.pool._workers[0].process.pid
    assert run(good)[0].status == "ok"
    assert sandbox._kept.pool._workers[0].process.pid == first  # no new process per document
    assert run(DIE)[0].status == "crashed"
    assert run(HANG, timeout_s=1)[0].status == "timeout"
    result, _ = run(good)
    assert result.status == "ok" and sandbox._kept.pool._workers[0].process.pid != first
    sandbox._kept.pool.close()


def test_sandbox_timeout_crash_and_memory_cap_then_the_pool_carries_on():
    good = GOOD.read_bytes()
    items = [
        ("hang", HANG),
        ("die", DIE),
        ("after-die", good),
        ("hog", HOG),
        ("not-pdf", b"<html></html>"),
        ("last", good),
    ]
    results = {
        key: (result.status, elapsed_ms)
        for key, result, elapsed_ms in extract_many(
            items,
            workers=2,
            timeout_s=3,
            memory_mb=768,
            max_tasks_per_worker=2,
            extractor=misbehaving_extract,
        )
    }
    statuses = {key: status for key, (status, _) in results.items()}
    assert statuses == {
        "hang": "timeout",
        "die": "crashed",
        "after-die": "ok",
        "hog": "too_large",
        "not-pdf": "not_pdf",
        "last": "ok",
    }
    assert results["hang"][1] >= 3000


def test_workers_are_recycled_and_results_keep_their_keys():
    good = GOOD.read_bytes()
    keys = [f"doc{i}" for i in range(5)]
    out = list(
        extract_many(((k, good) for k in keys), workers=2, max_tasks_per_worker=1)
    )
    assert sorted(k for k, _, _ in out) == keys
    assert all(r.status == "ok" for _, r, _ in out)


def test_oversized_item_is_refused_without_a_worker():
    [(key, result, elapsed_ms)] = list(
        extract_many([("big", b"%PDF-" + b"0" * 100)], max_bytes=10)
    )
    assert (key, result.status, elapsed_ms) == ("big", "too_large", 0.0)
