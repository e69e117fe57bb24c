"""Extraction on small PDFs built here with PyMuPDF, one layout trick per test."""

from __future__ import annotations

import pymupdf
import pytest

from pipelines.extract import EXTRACTOR_VERSION, extract_pdf, to_json
from pipelines.extract.text import clean, join_lines

BODY = 10
FILLER = [
    "The method processes each document in a single pass over its pages and keeps",
    "the cost linear in the number of lines, which matters for large collections of",
    "papers that arrive every day from several sources with very different layouts.",
    "We report results on a held out set and compare against two simple baselines.",
]


def make_pdf(pages: list[list[tuple]], *, toc: list | None = None) -> bytes:
    """pages: per page a list of (x, y, text, font, size[, rotate]) text runs."""
    doc = pymupdf.open()
    for runs in pages:
        page = doc.new_page(width=612, height=792)
        for run in runs:
            x, y, text, font, size = run[:5]
            rotate = run[5] if len(run) > 5 else 0
            page.insert_text((x, y), text, fontname=font, fontsize=size, rotate=rotate)
    if toc:
        doc.set_toc(toc)
    return doc.tobytes()


def body(
    y: float, n: int = 4, x: float = 72, lines: list[str] | None = None
) -> list[tuple]:
    lines = lines or FILLER
    return [(x, y + 12 * i, lines[i % len(lines)], "helv", BODY) for i in range(n)]


def heading(y: float, text: str, x: float = 72, size: float = BODY) -> tuple:
    return (x, y, text, "hebo", size)


def titles(result) -> list[str]:
    return [f"{s.number + ' ' if s.number else ''}{s.title}" for s in result.sections]


def test_bold_headings_at_body_size_are_found():
    pdf = make_pdf(
        [
            [
                heading(72, "1 Introduction"),
                *body(90),
                heading(160, "2 Method"),
                *body(178),
                heading(248, "Limitations"),
                *body(266),
            ]
        ]
    )
    result = extract_pdf(pdf)
    assert result.status == "ok"
    assert titles(result)[-3:] == ["1 Introduction", "2 Method", "Limitations"]
    assert [s.kind for s in result.sections[-3:]] == [
        "introduction",
        "body",
        "limitations",
    ]


def test_section_number_on_its_own_baseline_fragment_is_merged_with_title():
    pdf = make_pdf(
        [
            [
                (72, 72, "3", "hebo", BODY),
                (90, 72, "Results", "hebo", BODY),
                *body(90),
                (72, 160, "3.2", "hebo", BODY),
                (96, 160, "Ablations", "hebo", BODY),
                *body(178),
            ]
        ]
    )
    result = extract_pdf(pdf)
    numbered = [(s.number, s.title, s.level) for s in result.sections if s.number]
    assert numbered == [("3", "Results", 1), ("3.2", "Ablations", 2)]


def test_two_columns_are_read_column_by_column():
    left = [
        (
            72,
            100 + 12 * i,
            f"left column line {i} with enough words to be text",
            "helv",
            BODY,
        )
        for i in range(8)
    ]
    right = [
        (
            320,
            100 + 12 * i,
            f"right column line {i} with enough words to be text",
            "helv",
            BODY,
        )
        for i in range(8)
    ]
    pdf = make_pdf([[heading(80, "1 Introduction"), *right, *left]])
    text = extract_pdf(pdf).sections[-1].text
    assert text.index("left column line 7") < text.index("right column line 0")


def test_run_in_limitations_paragraph_in_conclusion():
    pdf = make_pdf(
        [
            [*body(72, 12)],
            [
                heading(72, "5 Conclusion"),
                *body(90),
                (72, 150, "Limitations.", "hebo", BODY),
                (
                    135,
                    150,
                    "Our study covers only English papers and one field.",
                    "helv",
                    BODY,
                ),
                (
                    72,
                    162,
                    "Results may differ for other languages and fields of research.",
                    "helv",
                    BODY,
                ),
                heading(200, "References"),
                (72, 218, "[1] A. Author. A paper. 2020.", "helv", BODY),
            ],
        ]
    )
    result = extract_pdf(pdf)
    [span] = result.limitations
    assert span.kind == "paragraph" and span.title == "Limitations."
    assert span.text.startswith("Our study covers only English papers")
    assert span.text.endswith("other languages and fields of research.")
    assert span.page_start == span.page_end == 2


def test_in_text_mention_of_limitations_section_does_not_count():
    mention = [
        "We discuss this further in the Limitations section and in the appendix,",
        *FILLER,
    ]
    pdf = make_pdf(
        [
            [
                heading(72, "1 Introduction"),
                *body(90, 5, lines=mention),
                heading(170, "2 Method"),
                *body(188),
            ]
        ]
    )
    assert extract_pdf(pdf).limitations == []


def test_checklist_after_references_is_neither_limitations_nor_appendix():
    pdf = make_pdf(
        [
            [
                heading(72, "1 Introduction"),
                *body(90),
                heading(160, "2 Conclusion"),
                *body(178),
            ],
            [
                heading(72, "References"),
                (72, 90, "[1] A. Author. A paper. 2020.", "helv", BODY),
            ],
            [
                heading(72, "NeurIPS Paper Checklist", 12),
                heading(100, "1. Claims"),
                *body(118, 2),
                heading(160, "2. Limitations"),
                (
                    72,
                    178,
                    "Question: Does the paper discuss the limitations of the work?",
                    "helv",
                    BODY,
                ),
                (
                    72,
                    190,
                    "Answer: [Yes] Justification: see the Limitations paragraph.",
                    "helv",
                    BODY,
                ),
                *body(202, 2),
            ],
        ]
    )
    result = extract_pdf(pdf)
    assert result.limitations == []
    assert result.appendix is None
    assert {s.kind for s in result.sections if s.page_start == 3} == {"checklist"}


def test_appendix_after_references_is_listed_with_headings_and_pages():
    pdf = make_pdf(
        [
            [
                heading(72, "1 Introduction"),
                *body(90),
                heading(160, "Limitations and Future Work"),
                *body(178),
            ],
            [
                heading(72, "References"),
                (72, 90, "[1] A. Author. A paper. 2020.", "helv", BODY),
            ],
            [
                heading(72, "A Proofs"),
                *body(90, 6),
                heading(200, "A.1 Lemma"),
                *body(218),
            ],
            [heading(72, "B More Results"), *body(90, 6)],
        ]
    )
    result = extract_pdf(pdf)
    assert result.appendix is not None
    assert result.appendix.page_start == 3
    assert [(h.title, h.page_start, h.page_end) for h in result.appendix.sections] == [
        ("A Proofs", 3, 3),
        ("B More Results", 4, 4),
    ]
    [span] = result.limitations
    assert span.kind == "combined" and span.title == "Limitations and Future Work"


def test_numbered_limitations_subsection():
    pdf = make_pdf(
        [
            [
                heading(72, "8 Discussion"),
                *body(90),
                heading(160, "8.4 Limitations"),
                *body(178),
                heading(250, "9 Conclusion"),
                *body(268),
            ]
        ]
    )
    [span] = extract_pdf(pdf).limitations
    assert (span.kind, span.title) == ("subsection", "8.4 Limitations")
    assert "single pass" in span.text and "9 Conclusion" not in span.text


def test_hyphenation_and_ligatures_are_undone():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_font(fontname="F0", fontbuffer=pymupdf.Font("cjk").buffer)
    page.insert_text((72, 72), "1 Introduction", fontname="hebo", fontsize=BODY)
    lines = [
        "This shows the effi-",
        "ciency of the ﬁlter and the ﬂow of work in",
        *FILLER,
    ]
    for i, line in enumerate(lines):
        page.insert_text((72, 90 + 12 * i), line, fontname="F0", fontsize=BODY)
    text = extract_pdf(doc.tobytes()).sections[-1].text
    assert "efficiency of the filter and the flow of work" in text


def test_text_helpers_expand_odd_ligature_glyphs_and_join_hyphenated_words():
    assert clean("e\u21b5ect of \ufb01ne \ufb03ce") == "effect of fine ffice"
    assert (
        join_lines(["multi-", "hop and well-", "Known"]) == "multihop and well- Known"
    )


def test_running_headers_page_numbers_and_rotated_stamp_are_removed():
    pages = []
    for n in range(1, 5):
        runs = [
            (200, 30, "Journal of Examples, Volume 3", "helv", 8),
            (300, 770, str(n), "helv", 8),
            (20, 500, "arXiv:2401.00001v1 [cs.CL] 1 Jan 2024", "helv", 14, 90),
            *body(100, 8),
        ]
        if n == 1:
            runs.insert(0, heading(72, "1 Introduction"))
        pages.append(runs)
    result = extract_pdf(make_pdf(pages))
    text = " ".join(s.text for s in result.sections)
    assert "Journal of Examples" not in text
    assert "arXiv:2401" not in text
    assert "single pass" in text


def test_outline_is_used_when_it_agrees_with_the_page_text():
    # "2 Method" is set in plain type: only the outline says it is a heading
    pdf = make_pdf(
        [
            [
                heading(72, "1 Introduction"),
                *body(90),
                (72, 160, "2 Method", "helv", BODY),
                *body(178),
                heading(250, "Limitations"),
                *body(268),
            ]
        ],
        toc=[[1, "1 Introduction", 1], [1, "2 Method", 1]],
    )
    result = extract_pdf(pdf)
    assert "2 Method" in titles(result)
    assert [s.title for s in result.limitations] == [
        "Limitations"
    ]  # not in the outline


def test_outline_that_disagrees_with_the_page_text_is_ignored():
    pdf = make_pdf(
        [[heading(72, "1 Introduction"), *body(90, 8)]],
        toc=[[1, "Completely Different", 1], [1, "Another Missing Title", 1]],
    )
    assert titles(extract_pdf(pdf))[-1] == "1 Introduction"


def test_paper_without_limitations_or_appendix_gets_none():
    pdf = make_pdf(
        [
            [
                heading(72, "1 Introduction"),
                *body(90),
                heading(160, "2 Conclusion"),
                *body(178),
            ],
            [
                heading(72, "References"),
                (72, 90, "[1] A. Author. A paper. 2020.", "helv", BODY),
            ],
        ]
    )
    result = extract_pdf(pdf)
    assert result.limitations == [] and result.appendix is None


def test_to_json_has_the_contract_shape():
    pdf = make_pdf(
        [
            [
                heading(72, "1 Introduction"),
                *body(90),
                heading(160, "Limitations"),
                *body(178),
            ]
        ]
    )
    result = extract_pdf(pdf)
    out = to_json(result, "paper.pdf", 12.34)
    assert set(out) >= {
        "file",
        "status",
        "pages",
        "title",
        "elapsed_ms",
        "sections",
        "limitations",
        "appendix",
    }
    assert (
        out["status"] == "ok"
        and out["file"] == "paper.pdf"
        and out["elapsed_ms"] == 12.3
    )
    assert set(out["sections"][0]) == {
        "title",
        "number",
        "level",
        "kind",
        "page_start",
        "page_end",
        "text",
    }
    assert set(out["limitations"][0]) == {
        "title",
        "kind",
        "page_start",
        "page_end",
        "text",
    }
    assert out["appendix"] is None
    assert isinstance(EXTRACTOR_VERSION, int)


@pytest.mark.parametrize("status", ["encrypted", "not_pdf"])
def test_to_json_for_failures_carries_the_status_and_no_sections(status):
    from pipelines.extract.document import failure

    out = to_json(failure(status, "why"), "x.pdf", 1.0)
    assert out["status"] == status and out["sections"] == [] and out["appendix"] is None
    assert out["error"] == "why"
