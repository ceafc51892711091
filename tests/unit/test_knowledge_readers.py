"""Read policy and help pages in every format into headed sections, and cut them into passages of 100–200 words."""

from __future__ import annotations

import numpy as np
import pytest

from hub.knowledge import encoder
from hub.knowledge.passages import Section, split_passages, split_sections
from hub.knowledge.readers import UnreadableDocumentError, read_document
from tests.knowledge_pages import CARE_PDF, GIFT_TXT, RETURNS_MD, SHIPPING_HTML, tiny_pdf


def test_markdown_is_split_on_its_headings_and_the_first_top_heading_is_the_title() -> None:
    doc = read_document("returns.md", RETURNS_MD)
    assert doc.title == "Returns Policy"
    assert [s.heading for s in doc.sections] == ["Returns Policy", "Return window", "Refund timing"]
    assert doc.sections[1].paragraphs == [
        "You may send back any unused item within 45 days of receiving it, in its original packaging with the labels "
        "on. Sale items can be sent back too."
    ]


def test_markdown_links_and_emphasis_read_as_plain_words() -> None:
    doc = read_document("faq.md", b"Read **our** [size guide](https://x.example/sizes) or *ask us*.\n")
    assert doc.title == "Faq" and doc.sections[0].paragraphs == ["Read our size guide or ask us."]


def test_html_keeps_headings_and_text_but_not_scripts_styles_or_navigation() -> None:
    doc = read_document("shipping-faq.html", SHIPPING_HTML)
    assert doc.title == "Shipping FAQ"
    assert [s.heading for s in doc.sections] == ["How much is delivery?", "Which countries do you send parcels to?"]
    assert "free on baskets above 900 kroner" in doc.text
    assert "- Finland with Posti" in doc.text
    for hidden in ("never quote this script", "color: red", "Home | Shop", "Fjord & Fern AS"):
        assert hidden not in doc.text


def test_plain_text_reads_a_short_line_alone_as_a_heading() -> None:
    doc = read_document("gift-wrapping.txt", GIFT_TXT)
    assert doc.title == "Gift wrapping" and len(doc.sections) == 1 and "recycled paper" in doc.sections[0].paragraphs[0]


def test_a_pdf_is_read_as_text_with_its_title() -> None:
    doc = read_document("care.pdf", CARE_PDF)
    assert doc.title == "Care and repairs"
    assert doc.sections[0].paragraphs == [
        "Every wool sweater is covered by our repair promise: we mend holes, loose seams and broken buttons free of "
        "charge for the first two years."
    ]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("scan.docx", b"PK\x03\x04", "unsupported file type '.docx'"),
        ("noext", b"hello", "unsupported file type '(none)'"),
        ("broken.pdf", b"%PDF-1.4 not really", "not a readable PDF"),
        ("binary.txt", b"\x00\x01\x02", "the file is binary"),
        ("empty.md", b"# Only a title\n", "no text found"),
        ("blank.pdf", tiny_pdf([]), "no text found"),
    ],
)
def test_an_unreadable_file_is_refused_with_its_reason(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableDocumentError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        read_document(name, data)


def test_short_paragraphs_share_a_passage_and_a_long_one_becomes_overlapping_windows() -> None:
    short = [f"Paragraph {i} has exactly ten words in it for test." for i in range(30)]
    packed = split_sections([Section("FAQ", short)])
    assert all(p.heading == "FAQ" for p in packed)
    assert [len(p.text.split()) for p in packed] == [200, 100]
    sentence = "This sentence has exactly eight words in it."
    long = " ".join([sentence] * 60)
    windows = split_passages(long)
    assert len(windows) > 2 and all(len(w.split()) <= 150 for w in windows)


def test_sections_never_share_a_passage() -> None:
    passages = split_sections([Section("Returns", ["Ten days."]), Section("Refunds", ["Five days."])])
    assert [(p.heading, p.text) for p in passages] == [("Returns", "Ten days."), ("Refunds", "Five days.")]


def test_the_encoder_gives_unit_vectors_that_match_across_languages() -> None:
    vectors = encoder.encode(["where is my order", "wo ist meine Bestellung", "the sweater is blue", ""])
    assert vectors.shape == (4, encoder.DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert np.array_equal(encoder.from_bytes(encoder.to_bytes(vectors[0])), vectors[0])
