"""Extraction quality and speed on the hand-labelled corpus, in one run.

    .venv/bin/python benchmarks/bench_extract.py            # table
    .venv/bin/python benchmarks/bench_extract.py --json     # the same figures as JSON
    .venv/bin/python benchmarks/bench_extract.py --quality  # skip the timing part
    .venv/bin/python benchmarks/bench_extract.py -v         # per-paper failures too

Labels: ../shared/corpus/pdfs/labels.json and tests/fixtures/pdfs/*.expected.json.
Timing runs plain `page.get_text()`, our extractor and `pymupdf4llm.to_markdown` over the
same PDFs in one process (one core), each `--repeats` times, and reports medians.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pymupdf

from pipelines.extract import extract_pdf
from pipelines.extract.scoring import (
    count_found,
    labelled_headings,
    score_paper,
)

CORPUS = ROOT.parent / "shared" / "corpus"
PDFS = CORPUS / "pdfs"
FIXTURES = ROOT / "tests" / "fixtures" / "pdfs"


def load_labels() -> list[dict]:
    labels = json.loads((PDFS / "labels.json").read_text())
    for path in sorted(FIXTURES.glob("*.expected.json")):
        labels.append(json.loads(path.read_text()))
    return [label for label in labels if label.get("text_layer", True)]


def quality(labels: list[dict]) -> tuple[dict, list]:
    tp = fp = fn = tn = 0
    f1s: list[float] = []
    kinds_right = kinds_total = 0
    appendix_right = 0
    false_on_negatives = 0
    negatives = 0
    ours_found = total_headings = 0
    failures: list[str] = []
    per_paper = []
    for label in labels:
        data = (PDFS / label["file"]).read_bytes()
        result = extract_pdf(data)
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            score = score_paper(label, result, doc)
        has_label, has_pred = score.labelled > 0, score.predicted > 0
        tp += has_label and has_pred
        fp += (not has_label) and has_pred
        fn += has_label and not has_pred
        tn += (not has_label) and not has_pred
        if not has_label:
            negatives += 1
            false_on_negatives += score.predicted
        for span in score.spans:
            f1s.append(span.f1)
            kinds_total += 1
            kinds_right += span.kind == span.label_kind
            if not span.found or span.f1 < 0.9 or span.kind != span.label_kind:
                failures.append(
                    f"{label['file']}: span {span.label_heading!r} kind {span.label_kind} -> "
                    f"{span.kind} f1={span.f1:.2f}"
                )
        for extra in score.extra_spans:
            failures.append(f"{label['file']}: extra span {extra}")
        appendix_right += score.appendix_ok
        if not score.appendix_ok:
            failures.append(f"{label['file']}: appendix {score.appendix_detail}")
        names = labelled_headings(label)
        candidates = [f"{s.number or ''} {s.title}".strip() for s in result.sections]
        candidates += [s.title for s in result.sections]
        candidates += [s.title for s in result.limitations if s.title]
        if result.appendix:
            candidates += [h.title for h in result.appendix.sections]
        total_headings += len(names)
        ours_found += count_found(names, candidates)
        per_paper.append((label, data))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    figures = {
        "papers": len(labels),
        "papers_with_limitations": tp + fn,
        "limitations_precision": precision,
        "limitations_recall": recall,
        "limitations_f1": f1,
        "span_word_f1_mean": statistics.fmean(f1s) if f1s else 0.0,
        "span_kind_accuracy": kinds_right / kinds_total if kinds_total else 1.0,
        "appendix_accuracy": appendix_right / len(labels),
        "false_limitations_on_negatives": false_on_negatives,
        "negative_papers": negatives,
        "labelled_headings": total_headings,
        "headings_found_ours": ours_found,
        "failures": failures,
    }
    return figures, per_paper


def timing(per_paper: list, repeats: int, llm_repeats: int) -> dict:
    """Plain get_text() and our extractor, interleaved file by file (order alternating
    between repeats) so that load from other processes hits both alike; wall and CPU
    time, medians over repeats."""
    datas = [data for _, data in per_paper]

    def plain(data: bytes) -> None:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            for page in doc:
                page.get_text()

    pages = 0
    for data in datas:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            pages += doc.page_count
    runs = {"plain_wall": [], "plain_cpu": [], "ours_wall": [], "ours_cpu": []}
    for repeat in range(repeats):
        totals = dict.fromkeys(runs, 0.0)
        order = [("plain", plain), ("ours", extract_pdf)]
        if repeat % 2:
            order.reverse()  # neither side always runs first on a file
        for data in datas:
            for name, fn in order:
                wall, cpu = time.perf_counter(), time.process_time()
                fn(data)
                totals[f"{name}_wall"] += time.perf_counter() - wall
                totals[f"{name}_cpu"] += time.process_time() - cpu
        for name, value in totals.items():
            runs[name].append(value)
    med = {name: statistics.median(values) for name, values in runs.items()}
    figures = {
        "pages": pages,
        "repeats": repeats,
        "plain_get_text_s": med["plain_wall"],
        "ours_s": med["ours_wall"],
        "plain_get_text_cpu_s": med["plain_cpu"],
        "ours_cpu_s": med["ours_cpu"],
        "ratio": med["ours_wall"] / med["plain_wall"],
        "ratio_cpu": med["ours_cpu"] / med["plain_cpu"],
        "ours_pages_per_s_per_core": pages / med["ours_cpu"],
        "plain_pages_per_s_per_core": pages / med["plain_cpu"],
    }
    if llm_repeats:
        import pymupdf4llm

        markdowns: list[str] = []
        times = []
        for _ in range(llm_repeats):
            markdowns.clear()
            start = time.perf_counter()
            for data in datas:
                with (
                    pymupdf.open(stream=data, filetype="pdf") as doc,
                    contextlib.redirect_stdout(io.StringIO()),
                ):
                    # no OCR: our extractor does none either, and every file has text
                    markdowns.append(
                        pymupdf4llm.to_markdown(doc, show_progress=False, use_ocr=False)
                    )
            times.append(time.perf_counter() - start)
        figures["pymupdf4llm_s"] = statistics.median(times)
        found = 0
        for (label, _), markdown in zip(per_paper, markdowns):
            found += count_found(labelled_headings(label), _markdown_headings(markdown))
        figures["headings_found_pymupdf4llm"] = found
    return figures


def _markdown_headings(markdown: str) -> list[str]:
    """Heading lines ('#') and bold runs (how pymupdf4llm marks body-size bold headings)."""
    import re

    out = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            out.append(stripped.lstrip("#").replace("**", "").replace("_", " ").strip())
        out.extend(m.strip() for m in re.findall(r"\*\*(.+?)\*\*", stripped))
    return out


def table(q: dict, t: dict | None) -> str:
    rows = [
        (
            "labelled papers",
            f"{q['papers']} ({q['papers_with_limitations']} with limitations)",
        ),
        (
            "limitations paper-level P / R / F1",
            f"{q['limitations_precision']:.3f} / {q['limitations_recall']:.3f} / {q['limitations_f1']:.3f}",
        ),
        ("limitations span word F1 (mean)", f"{q['span_word_f1_mean']:.3f}"),
        ("limitations span kind right", f"{q['span_kind_accuracy']:.3f}"),
        ("appendix start page + first heading right", f"{q['appendix_accuracy']:.3f}"),
        (
            "false limitations on papers without any",
            f"{q['false_limitations_on_negatives']} (over {q['negative_papers']} papers)",
        ),
    ]
    if t:
        rows += [
            ("pages timed", f"{t['pages']}"),
            (
                "plain page.get_text() total (wall / CPU)",
                f"{t['plain_get_text_s']:.2f} s / {t['plain_get_text_cpu_s']:.2f} s",
            ),
            (
                "our extractor total (wall / CPU)",
                f"{t['ours_s']:.2f} s / {t['ours_cpu_s']:.2f} s",
            ),
            (
                "ratio ours / plain (wall / CPU)",
                f"{t['ratio']:.2f}x / {t['ratio_cpu']:.2f}x",
            ),
            (
                "our pages per second per core (CPU)",
                f"{t['ours_pages_per_s_per_core']:.0f}",
            ),
        ]
        if "pymupdf4llm_s" in t:
            rows.append(
                (
                    "pymupdf4llm.to_markdown total (wall)",
                    f"{t['pymupdf4llm_s']:.1f} s ({t['pymupdf4llm_s'] / t['ours_s']:.0f}x ours)",
                )
            )
            rows.append(
                (
                    "labelled headings found: ours / pymupdf4llm",
                    f"{q['headings_found_ours']} / {t['headings_found_pymupdf4llm']} of {q['labelled_headings']}",
                )
            )
    else:
        rows.append(
            (
                "labelled headings found (ours)",
                f"{q['headings_found_ours']} of {q['labelled_headings']}",
            )
        )
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'measure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON instead of a table"
    )
    parser.add_argument(
        "--quality", action="store_true", help="quality only, no timing"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timing repeats (median)"
    )
    parser.add_argument(
        "--llm-repeats",
        type=int,
        default=1,
        help="pymupdf4llm repeats (0 skips it; one pass takes minutes)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list per-paper failures"
    )
    args = parser.parse_args(argv)
    labels = load_labels()
    q, per_paper = quality(labels)
    t = None if args.quality else timing(per_paper, args.repeats, args.llm_repeats)
    if args.json:
        print(json.dumps({"quality": q, "timing": t}, indent=2))
    else:
        print(table(q, t))
        if args.verbose and q["failures"]:
            print("\n" + "\n".join(q["failures"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
