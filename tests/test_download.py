"""PDF downloads: once, capped, checked to be a PDF, politely spaced for arXiv."""

from __future__ import annotations

from pipelines.download import download_pdfs
from pipelines.records import Paper
from tests.corpus import PDFS
from tests.fakeweb import Reply

REAL_PDF = PDFS / "modern" / "arxiv_1111.2011v2.pdf"


def paper(fakeweb, pid, path, **kw):
    return Paper(id=pid, title=pid, source="arxiv", pdf_url=fakeweb.url(path), **kw)


def test_downloads_once_and_records_failures(fakeweb, make_settings, store, clock):
    pdf = REAL_PDF.read_bytes()
    fakeweb.add("/pdf/1111.2011v2", Reply(body=pdf, headers={"Content-Type": "application/pdf"}))
    fakeweb.add("/pdf/2401.00002v1", Reply(body=b"<html>Please verify you are human</html>"))
    fakeweb.add("/pdf/2401.00003v1", Reply(body=b"%PDF-1.5" + b"0" * 600_000))
    fakeweb.add("/pdf/2401.00004v1", Reply(404, b"gone"))
    store.upsert_papers([
        paper(fakeweb, "arxiv:1111.2011", "/pdf/1111.2011v2", version=2),
        paper(fakeweb, "arxiv:2401.00002", "/pdf/2401.00002v1"),
        paper(fakeweb, "arxiv:2401.00003", "/pdf/2401.00003v1"),
        paper(fakeweb, "arxiv:2401.00004", "/pdf/2401.00004v1"),
    ])
    settings = make_settings(pdf_max_bytes=len(pdf) + 10)

    report = download_pdfs(store, settings)

    assert report.ok
    assert (report.counts.new, report.counts.failed) == (1, 3)
    assert store.pdf_path("arxiv:1111.2011").read_bytes() == pdf
    assert store.pdf_record("arxiv:2401.00002")["status"] == "not_pdf"
    assert store.pdf_record("arxiv:2401.00003")["status"] == "too_large"
    assert store.pdf_record("arxiv:2401.00004")["status"] == "http_error"
    # arXiv's PDFs are fetched at arXiv's pace: the shared limiter spaced the four requests.
    assert clock.sleeps == [3.0, 3.0, 3.0]

    again = download_pdfs(store, settings)
    assert again.counts.new == 0 and again.counts.failed == 3  # failures get another try …
    download_pdfs(store, settings)
    final = download_pdfs(store, settings)
    assert final.details["pending"] == 0  # … up to GLEAN_DOWNLOAD_ATTEMPTS, then are left alone
    assert len(fakeweb.requests_to("/pdf/1111.2011v2")) == 1


def test_slow_download_is_cut_off(fakeweb, make_settings, store):
    fakeweb.add("/slow.pdf", Reply(body=b"%PDF-1.4", delay=30))
    store.upsert_papers([Paper(id="doi:10.1234/slow", title="slow", source="feed:x",
                               pdf_url=fakeweb.url("/slow.pdf"))])

    report = download_pdfs(store, make_settings(http_timeout=0.5))

    assert report.counts.failed == 1
    assert store.pdf_record("doi:10.1234/slow")["status"] == "timeout"


def test_limit(fakeweb, make_settings, store):
    fakeweb.add("/a.pdf", Reply(body=REAL_PDF.read_bytes()), optional=True)
    fakeweb.add("/b.pdf", Reply(body=REAL_PDF.read_bytes()), optional=True)
    store.upsert_papers([Paper(id=f"doi:10.1234/{n}", title=n, source="feed:x", pdf_url=fakeweb.url(f"/{n}.pdf"))
                         for n in "ab"])
    assert download_pdfs(store, make_settings(), limit=1).counts.new == 1
    assert download_pdfs(store, make_settings(), limit=1).counts.new == 1
    assert len(fakeweb.requests) == 2


def test_a_full_disk_stops_with_a_clear_error_and_leaves_no_partial_pdf(fakeweb, settings, store, monkeypatch):
    import errno
    import io

    fakeweb.add("/pdf/2401.00009v1", Reply(body=b"%PDF-1.5" + b"0" * 5000))
    store.upsert_papers([paper(fakeweb, "arxiv:2401.00009", "/pdf/2401.00009v1")])
    real_open = open

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        if "w" in mode and str(store.pdf_dir) in str(path):
            class Full(io.BytesIO):
                def write(self, data):  # half of it lands, then the disk is full
                    real_open(path, "ab").write(data[: len(data) // 2])
                    raise OSError(errno.ENOSPC, "No space left on device", str(path))
            return Full()
        return real_open(path, mode, *args, **kwargs)
    monkeypatch.setattr("builtins.open", open_on_a_full_disk)
    monkeypatch.setattr("pathlib.Path.write_bytes", lambda self, data: open_on_a_full_disk(self, "wb").write(data))

    report = download_pdfs(store, settings)

    assert not report.ok and "No space left on device" in report.error and "free some space" in report.error
    assert [p for p in store.pdf_dir.rglob("*") if p.is_file()] == []  # no partial PDF, no temp file


def test_a_rollback_sqlite_already_did_does_not_hide_the_error(store):
    import pytest
    with pytest.raises(RuntimeError, match="the error that matters"):
        with store.transaction() as conn:
            conn.execute("ROLLBACK")  # what SQLite does by itself on a full disk or an I/O error
            raise RuntimeError("the error that matters")
