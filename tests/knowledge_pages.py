"""A small shop's policy and help pages, one per format `hub knowledge add` reads, written for the tests."""

from __future__ import annotations

RETURNS_MD = b"""# Returns Policy

We want you to love what you buy from Fjord & Fern.

## Return window

You may send back any unused item within 45 days of receiving it, in its original packaging with the labels on.
Sale items can be sent back too.

## Refund timing

Once the parcel is back in our depot we pay the money back within 3 working days, to the card you paid with.
"""

SHIPPING_HTML = b"""<!doctype html>
<html><head><title>Shipping FAQ</title><script>var secret = "never quote this script";</script>
<style>p { color: red }</style></head>
<body><nav>Home | Shop | Cart</nav>
<h1>Shipping FAQ</h1>
<h2>How much is delivery?</h2>
<p>Delivery inside Norway costs 79 kroner and is <b>free</b> on baskets above 900 kroner.</p>
<h2>Which countries do you send parcels to?</h2>
<ul><li>Norway, Sweden and Denmark with PostNord</li><li>Finland with Posti</li></ul>
<footer>Fjord &amp; Fern AS</footer></body></html>
"""

GIFT_TXT = b"""Gift wrapping

We wrap any order in recycled paper with a hand-written card for 25 kroner; tick the box at checkout.
"""

CARE_PDF_LINES = [
    "Care and repairs",
    "",
    "Every wool sweater is covered by our repair promise: we mend holes, loose",
    "seams and broken buttons free of charge for the first two years.",
]


def tiny_pdf(lines: list[str], title: str = "") -> bytes:
    """A one-page PDF showing `lines` in Helvetica, built by hand (objects, then the cross-reference table)."""
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops += [f"({escaped}) Tj", "T*"]
    ops.append("ET")
    stream = "\n".join(ops).encode()
    info = f"<< /Title ({title}) >>".encode() if title else b"<< >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info,
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


CARE_PDF = tiny_pdf(CARE_PDF_LINES, title="Care and repairs")
