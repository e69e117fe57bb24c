"""The subfield breadth report on constructed reading histories whose answers are known by hand.

Vectors are synthetic (8 dimensions, built from orthonormal axes) so every centroid, cosine and
distance below can be worked out on paper; no embedding model is loaded.
"""

from __future__ import annotations

import functools
import io
import math
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from pipelines.records import Paper
from pipelines.store import Store
from pipelines.taxonomy import lookup
from service.breadth import (
    BY_CATEGORY,
    BY_CENTROID,
    assign_subfield,
    breadth_context,
    breadth_figures,
    breadth_report,
    subfield_centroids,
    summary_line,
)
from service.chart import breadth_chart, chart_description

approx = functools.partial(pytest.approx, abs=1e-4)  # reports round to 4 decimals
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)
E = np.eye(8, dtype=np.float32)


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def sub(code: str) -> str:
    return lookup(code).subfield


# Subfield directions. Machine learning, language and vision are neighbours (cos 0.8 with ML);
# theory physics, econometrics and neuroscience are mutually orthogonal and far from all of them.
LG = E[0]
CL = unit(0.8 * E[0] + 0.6 * E[1])
CV = unit(0.8 * E[0] + 0.6 * E[2])
AI = unit(0.9 * E[0] + math.sqrt(1 - 0.81) * E[6])
NE = unit(0.6 * E[0] + 0.8 * E[7])
TH = E[4]
EM = E[3]
NC = E[5]
DIRECTIONS = {"cs.LG": LG, "cs.CL": CL, "cs.CV": CV, "cs.AI": AI, "cs.NE": NE, "hep-th": TH, "econ.EM": EM,
              "q-bio.NC": NC}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "home")
    yield s
    s.close()


def add(store: Store, pid: str, code: str | None, vector, *, classic: bool = False, published: datetime | None = None,
        title: str | None = None, field: str | None = None) -> str:
    source = "canon" if classic else ("arxiv" if code else "feed:X")
    store.upsert_papers([Paper(id=pid, title=title or pid, source=source,
                               primary_category=code, categories=[code] if code else [], is_classic=classic,
                               published=published.isoformat() if published else None,
                               year=(published.year if published else 1990), field=field)])
    store.replace_paper_vectors([(pid, "h", unit(vector))])
    return pid


def user(store: Store, email: str):
    return store.add_user(email=email, token_hash=f"hash-{email}", now=NOW.isoformat())


def read(store: Store, u, pids: list[str], when: datetime = NOW - timedelta(days=3)) -> None:
    store.add_reads(u.id, [(pid, when.isoformat()) for pid in pids])


def papers(store: Store, code: str, n: int, *, start: int = 0, when: datetime = NOW - timedelta(days=30)) -> list[str]:
    """n papers exactly on the subfield's direction, so its centroid is exactly DIRECTIONS[code]."""
    return [add(store, f"{code}:{start + i}", code, DIRECTIONS[code], published=when) for i in range(n)]


# -- the pure figures --------------------------------------------------------------------------------------


def test_one_subfield_is_one_effective_subfield_and_no_disparity():
    figures = breadth_figures({"A": 1.0}, {"A": LG})
    assert figures["effective_subfields"] == approx(1.0)
    assert figures["rao_stirling"] == approx(0.0)


def test_two_equal_distant_subfields():
    # p = ½, ½ and d = 1 − cos 90° = 1:
    # exp(H) = exp(ln 2) = 2, Rao–Stirling = Σ_{i≠j} d p_i p_j = 2·¼·1 = ½.
    figures = breadth_figures({"A": 0.5, "B": 0.5}, {"A": LG, "B": TH})
    assert figures["effective_subfields"] == approx(2.0)
    assert figures["rao_stirling"] == approx(0.5)
    # And with a known angle: cos = 0.8, d = 0.2, so ½·0.2 = 0.1.
    assert breadth_figures({"A": 0.5, "B": 0.5}, {"A": LG, "B": CL})["rao_stirling"] == approx(0.1)


def test_three_neighbours_count_for_less_than_three_distant_subfields():
    third = {"A": 1 / 3, "B": 1 / 3, "C": 1 / 3}
    near = breadth_figures(third, {"A": LG, "B": CL, "C": CV})
    far = breadth_figures(third, {"A": TH, "B": EM, "C": NC})
    assert near["effective_subfields"] == approx(3.0) == far["effective_subfields"]
    # d(LG,CL) = d(LG,CV) = 0.2, d(CL,CV) = 1 − 0.64 = 0.36; every p_i p_j = 1/9, each pair counted twice.
    assert near["rao_stirling"] == approx(2 / 9 * (0.2 + 0.2 + 0.36), abs=1e-6)
    assert far["rao_stirling"] == approx(2 / 9 * 3, abs=1e-6)
    assert near["rao_stirling"] < far["rao_stirling"]


def test_figures_renormalise_and_handle_missing_centroids():
    assert breadth_figures({}, {}) == {"effective_subfields": 0.0, "rao_stirling": 0.0, "shannon": 0.0}
    assert breadth_figures({"A": 2, "B": 2}, {"A": LG, "B": TH})["effective_subfields"] == approx(2.0)
    # "C" has no centroid: it sits at the mean distance of the known pairs (A–B: 1.0).
    assert breadth_figures({"A": 0.5, "C": 0.5}, {"A": LG, "B": TH})["rao_stirling"] == approx(0.5)
    # Identical centroids are no distance apart (d is clipped at 0 against rounding); opposite ones are 2.
    assert breadth_figures({"A": 0.5, "B": 0.5}, {"A": LG, "B": LG})["rao_stirling"] == approx(0.0)
    assert breadth_figures({"A": 0.5, "B": 0.5}, {"A": LG, "B": -LG})["rao_stirling"] == approx(1.0)


def test_assign_subfield_by_category_else_nearest_centroid():
    centroids = {sub("cs.LG"): LG, sub("hep-th"): TH, sub("econ.EM"): EM}
    categorised = Paper(id="x", title="x", source="arxiv", primary_category="cs.CL", categories=["cs.CL"])
    assert assign_subfield(categorised, TH, centroids) == (sub("cs.CL"), BY_CATEGORY)  # the category wins
    feed = Paper(id="y", title="y", source="feed:eLife", field="physics")
    assert assign_subfield(feed, unit(TH + 0.3 * LG), centroids) == (sub("hep-th"), BY_CENTROID)
    assert assign_subfield(feed, None, centroids) == (None, None)
    # An unknown sub-category falls back to its archive; a category list without a primary one still counts.
    listed = Paper(id="z", title="z", source="canon", categories=["nope", "econ.EM"])
    assert assign_subfield(listed, LG, centroids) == (sub("econ.EM"), BY_CATEGORY)


# -- reports on constructed histories ------------------------------------------------------------------------


def test_centroids_are_the_normalised_means(store):
    papers(store, "cs.LG", 3)
    add(store, "cl-a", "cs.CL", unit(E[1] + E[2]))
    add(store, "cl-b", "cs.CL", unit(E[1] - E[2]))
    add(store, "feed", None, E[3])  # no category: not part of any centroid
    centroids = subfield_centroids(store)
    assert set(centroids) == {sub("cs.LG"), sub("cs.CL")}
    assert centroids[sub("cs.LG")] == approx(LG)
    assert centroids[sub("cs.CL")] == approx(E[1], abs=1e-6)


def test_one_subfield_reader(store):
    u = user(store, "one@example.org")
    read(store, u, papers(store, "cs.LG", 5))
    papers(store, "hep-th", 2, start=10)
    report = breadth_report(store, None, u, NOW)
    assert report["shares"] == {sub("cs.LG"): 1.0}
    assert report["effective_subfields"] == approx(1.0)
    assert report["rao_stirling"] == approx(0.0)
    assert report["home_field"] == "Computer science" and report["outside_home_share"] == 0.0
    assert report["reads"] == 5 and report["assigned_by_centroid"] == 0 and "note" not in report


def test_two_distant_subfields_and_outside_home_share(store):
    u = user(store, "two@example.org")
    read(store, u, papers(store, "cs.LG", 3) + papers(store, "hep-th", 3))
    report = breadth_report(store, None, u, NOW)
    assert report["effective_subfields"] == approx(2.0)
    assert report["rao_stirling"] == approx(0.5)
    assert report["fields"] == {"Computer science": 0.5, "Physics": 0.5}
    assert report["home_field"] == "Computer science"  # a tie goes to the first name
    assert report["outside_home_share"] == approx(0.5)

    v = user(store, "mostly@example.org")
    read(store, v, papers(store, "cs.LG", 3, start=100) + papers(store, "hep-th", 1, start=100))
    report = breadth_report(store, None, v, NOW)
    assert report["home_field"] == "Computer science"
    assert report["outside_home_share"] == approx(0.25)
    assert list(report["shares"]) == [sub("cs.LG"), sub("hep-th")]  # largest first
    assert report["shares"][sub("cs.LG")] == 0.75


def test_neighbouring_subfields_count_for_less_in_a_report(store):
    near, far = user(store, "near@example.org"), user(store, "far@example.org")
    read(store, near, papers(store, "cs.LG", 2) + papers(store, "cs.CL", 2) + papers(store, "cs.CV", 2))
    read(store, far, papers(store, "hep-th", 2) + papers(store, "econ.EM", 2) + papers(store, "q-bio.NC", 2))
    a, b = breadth_report(store, None, near, NOW), breadth_report(store, None, far, NOW)
    assert a["effective_subfields"] == approx(3.0) == b["effective_subfields"]
    assert a["rao_stirling"] == approx(2 / 9 * 0.76, abs=1e-3)
    assert b["rao_stirling"] == approx(2 / 3, abs=1e-3)
    assert b["outside_home_share"] == approx(2 / 3)  # three fields, a third each
    assert a["outside_home_share"] == 0.0


def test_a_feed_paper_without_category_gets_its_nearest_centroid(store):
    u = user(store, "feeds@example.org")
    lg = papers(store, "cs.LG", 3)
    papers(store, "hep-th", 2)
    papers(store, "q-bio.NC", 2)
    feed = add(store, "url:cortex", None, unit(NC + 0.4 * LG), published=NOW - timedelta(days=5), field="neuroscience")
    read(store, u, lg + [feed])
    report = breadth_report(store, None, u, NOW)
    assert report["assigned_by_centroid"] == 1
    assert report["shares"] == {sub("cs.LG"): 0.75, sub("q-bio.NC"): 0.25}
    assert report["fields"] == {"Computer science": 0.75, "Quantitative biology": 0.25}
    # exp(H) of (¾, ¼), and the full distance 1 between the two orthogonal centroids: 2·¾·¼·1.
    assert report["effective_subfields"] == approx(math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))),
                                                          abs=1e-4)
    assert report["rao_stirling"] == approx(0.375)


def test_a_read_with_no_category_and_no_vector_is_left_out_with_a_note(store):
    u = user(store, "odd@example.org")
    store.upsert_papers([Paper(id="url:bare", title="Bare", source="feed:X", field="economics")])
    read(store, u, papers(store, "cs.LG", 2) + ["url:bare"])
    report = breadth_report(store, None, u, NOW)
    assert report["reads"] == 2 and report["unplaced"] == 1
    assert "could not be placed" in report["note"]


def test_monthly_figures(store):
    u = user(store, "monthly@example.org")
    lg, th = papers(store, "cs.LG", 6), papers(store, "hep-th", 3)
    read(store, u, lg[:2], datetime(2026, 8, 3, tzinfo=timezone.utc))  # August: one subfield
    read(store, u, [lg[2], th[0]], datetime(2026, 9, 30, 23, 30, tzinfo=timezone.utc))  # September: two, halves
    read(store, u, lg[3:6] + th[1:2], datetime(2026, 10, 1, 0, 30, tzinfo=timezone.utc))  # October: ¾ / ¼
    read(store, u, th[2:3], NOW + timedelta(days=3))  # after "now": not counted anywhere
    report = breadth_report(store, None, u, NOW)
    assert report["reads"] == 8
    months = {m["month"]: m for m in report["monthly"]}
    assert list(months) == ["2026-08", "2026-09", "2026-10"]
    assert months["2026-08"] == {"month": "2026-08", "reads": 2, "effective_subfields": 1.0, "rao_stirling": 0.0,
                                 "outside_home_share": 0.0}
    assert months["2026-09"]["effective_subfields"] == approx(2.0)
    assert months["2026-09"]["rao_stirling"] == approx(0.5)
    assert months["2026-09"]["outside_home_share"] == approx(0.5)  # against the overall home field
    assert months["2026-10"]["reads"] == 4
    assert months["2026-10"]["rao_stirling"] == approx(0.375)


def test_monthly_series_keeps_the_last_twelve_months_with_reads(store):
    u = user(store, "years@example.org")
    lg = papers(store, "cs.LG", 15)
    for i, pid in enumerate(lg):  # one read a month, every other month, over 30 months
        read(store, u, [pid], datetime(2024, 1, 15, tzinfo=timezone.utc) + timedelta(days=61 * i))
    report = breadth_report(store, None, u, NOW)
    assert len(report["monthly"]) == 12
    assert report["monthly"][-1]["month"] == "2026-05" and report["monthly"][0]["month"] == "2024-07"
    assert report["reads"] == 15  # the headline figures cover the whole history


def test_median_user(store):
    lg, th, em = (papers(store, c, 3) for c in ("cs.LG", "hep-th", "econ.EM"))
    one, two, three, _idle = (user(store, f"{n}@example.org") for n in ("one", "two", "three", "idle"))
    read(store, one, lg[:2])  # 1 effective subfield
    read(store, two, lg[:1] + th[:1])  # 2, Rao–Stirling 0.5
    read(store, three, lg[:1] + th[:1] + em[:1])  # 3, Rao–Stirling 2/3
    report = breadth_report(store, None, two, NOW)
    median = report["median_user"]
    assert median["users"] == 3  # "idle" has no reads and does not count
    assert median["effective_subfields"] == approx(2.0)
    assert median["rao_stirling"] == approx(0.5)
    assert median["outside_home_share"] == approx(0.5)  # 0, ½, ⅔
    assert median["monthly"] == [{"month": "2026-10", "users": 3, "effective_subfields": 2.0}]
    # A context built once gives the same report, as the digest would use it.
    context = breadth_context(store, NOW)
    assert breadth_report(store, None, two, context=context) == report
    assert "median reader: 2.0" in summary_line(report)


def test_neighbours_with_entry_papers(store):
    u = user(store, "ml@example.org")
    recent = NOW - timedelta(days=100)
    lg = papers(store, "cs.LG", 18)
    cv = papers(store, "cs.CV", 2)
    # Language: the user has read one paper of it (1 of 21 reads, under 5 %), so it is still next door.
    # Pairs placed symmetrically around the subfield's direction keep its centroid exactly on it;
    # the "+" side leans towards machine learning, i.e. towards this user's reading.
    u_cl = unit(0.6 * E[0] - 0.8 * E[1])  # in the LG–CL plane, orthogonal to CL, pointing at LG
    cl_read = add(store, "cl-read", "cs.CL", unit(CL + 0.5 * u_cl), published=recent)  # the best, but read
    add(store, "cl-old", "cs.CL", unit(CL - 0.5 * u_cl), published=NOW - timedelta(days=2000))
    add(store, "cl-recent+", "cs.CL", unit(CL + 0.2 * u_cl), published=recent)
    add(store, "cl-recent-", "cs.CL", unit(CL - 0.2 * u_cl), published=recent)
    add(store, "cl-classic", "cs.CL", CL, classic=True)
    # Artificial intelligence: two classics, two recent papers, and two old non-classics that would
    # be the closest of all if "old but not classic" counted.
    u_ai = unit(math.sqrt(1 - 0.81) * E[0] - 0.9 * E[6])
    for name, sign in (("+", 1), ("-", -1)):
        add(store, f"ai-classic{name}", "cs.AI", unit(AI + sign * 0.2 * u_ai), classic=True, title=f"AI classic {name}")
        add(store, f"ai-recent{name}", "cs.AI", unit(AI + sign * 0.2 * u_ai), published=recent)
        add(store, f"ai-old{name}", "cs.AI", unit(AI + sign * 0.6 * u_ai), published=NOW - timedelta(days=1500))
    # Neural and evolutionary computing: only a classic.
    add(store, "ne-classic", "cs.NE", NE, classic=True)
    papers(store, "hep-th", 2)
    read(store, u, lg + cv + [cl_read])

    report = breadth_report(store, None, u, NOW)
    assert report["shares"][sub("cs.CV")] == approx(2 / 21, abs=1e-4)
    assert report["shares"][sub("cs.CL")] == approx(1 / 21, abs=1e-4)
    neighbours = report["neighbours"]
    # Reading centroid ∝ 20.4·e0 + 0.6·e1 + 1.2·e2 (+ a little of cl-read): AI ≈ 0.90, CL ≈ 0.82, NE ≈ 0.60;
    # vision (2/21 ≥ 5 %) and machine learning are read too much to be "next door".
    assert [n["subfield"] for n in neighbours] == [sub("cs.AI"), sub("cs.CL"), sub("cs.NE")]
    assert neighbours[0]["similarity"] == approx(0.898, abs=0.01)
    assert all(n["field"] == "Computer science" for n in neighbours)
    entries = {n["subfield"]: {p["kind"]: p["paper_id"] for p in n["entry_papers"]} for n in neighbours}
    assert entries[sub("cs.AI")] == {"classic": "ai-classic+", "recent": "ai-recent+"}
    assert entries[sub("cs.CL")] == {"classic": "cl-classic", "recent": "cl-recent+"}  # cl-read is already read
    assert entries[sub("cs.NE")] == {"classic": "ne-classic"}  # no recent paper in the store
    ai = neighbours[0]["entry_papers"]
    assert [p["kind"] for p in ai] == ["classic", "recent"]
    assert ai[0]["title"] == "AI classic +" and ai[0]["year"] == 1990

    line = summary_line(report)
    assert line.startswith("Your reading spans ")
    assert line.endswith("next door: Artificial intelligence, Computation and language and "
                         "Neural and evolutionary computing.")
    # Without entry papers (the digest's cheap path) the neighbours are the same.
    light = breadth_report(store, None, u, NOW, entry_papers=False)
    assert [n["subfield"] for n in light["neighbours"]] == [n["subfield"] for n in neighbours]
    assert all(n["entry_papers"] == [] for n in light["neighbours"])


def test_an_empty_history_gives_zeros_and_a_note(store):
    papers(store, "cs.LG", 2)
    u = user(store, "new@example.org")
    report = breadth_report(store, None, u, NOW)
    assert report["reads"] == 0 and report["shares"] == {} and report["neighbours"] == []
    assert report["effective_subfields"] == 0.0 and report["rao_stirling"] == 0.0
    assert report["outside_home_share"] == 0.0 and report["monthly"] == [] and report["home_field"] is None
    assert report["median_user"]["users"] == 0
    assert "No reads yet" in report["note"]
    assert summary_line(report) == "Glean has no reading of yours to measure breadth on yet."
    # And on an empty store, too.
    assert chart_description(report).startswith("Reading breadth chart: no reads yet")


def test_report_is_json_ready(store):
    import json

    u = user(store, "json@example.org")
    read(store, u, papers(store, "cs.LG", 2) + papers(store, "hep-th", 1))
    report = breadth_report(store, None, u, NOW)
    again = json.loads(json.dumps(report))
    assert again == report
    assert {"shares", "effective_subfields", "rao_stirling", "outside_home_share", "neighbours", "monthly",
            "median_user", "fields", "home_field", "assigned_by_centroid"} <= set(report)


# -- the chart --------------------------------------------------------------------------------------------------


def _busy_report(store) -> dict:
    codes = list(DIRECTIONS)
    u = user(store, "busy@example.org")
    extra = ["cs.DS", "cs.RO", "stat.ME", "math.OC", "astro-ph.GA"]
    pids = []
    for i, code in enumerate(codes):
        pids += papers(store, code, 8 - i)
    for j, code in enumerate(extra):
        pids.append(add(store, f"x{j}", code, unit(E[j] + E[(j + 3) % 8])))
    for k, pid in enumerate(pids):
        read(store, u, [pid], NOW - timedelta(days=9 * k))
    other = user(store, "other@example.org")
    read(store, other, pids[:10], NOW - timedelta(days=40))
    return breadth_report(store, None, u, NOW)


def test_chart_png_and_svg(store, tmp_path):
    report = _busy_report(store)
    assert len(report["shares"]) == 13
    png = breadth_chart(report, "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1200, 520)
    assert png == breadth_chart(report, "png")  # deterministic

    svg = breadth_chart(report, "svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = svg.decode()
    assert "Other (4 subfields)" in text and "Machine learning" in text and "median reader" in text
    assert "<dc:date>" not in text
    assert svg == breadth_chart(report, "svg")

    description = chart_description(report)
    assert description.startswith("Bar chart of the share of reads per subfield (13 subfields; "
                                   "largest: Machine learning")
    assert "line chart of effective subfields per month" in description
    with pytest.raises(ValueError):
        breadth_chart(report, "gif")


def test_chart_of_an_empty_report_renders(store):
    report = breadth_report(store, None, user(store, "empty@example.org"), NOW)
    png = breadth_chart(report, "png")
    assert png.startswith(b"\x89PNG")
    ET.fromstring(breadth_chart(report, "svg"))
