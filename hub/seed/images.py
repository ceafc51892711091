"""Draw the demo shop's reference product photos and its logo."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from hub.seed.catalog import COLOUR_HEX, Category, DemoShop, ProductType

RGB = tuple[int, int, int]
Point = tuple[float, float]
Box = tuple[float, float, float, float]
Layer = Literal["body", "trim", "shade"]

SUPERSAMPLE = 2
"""Shapes are drawn at this multiple of the output size and scaled down, for smooth edges."""
BACKGROUND_TOP: RGB = (247, 245, 241)
BACKGROUND_BOTTOM: RGB = (226, 222, 214)
SHADOW: RGB = (70, 62, 54)
UNKNOWN_COLOUR = "#8A8F98"

_CATEGORY_TYPES: dict[str, ProductType] = {
    Category.TSHIRTS: ProductType.TEE,
    Category.HOODIES: ProductType.HOODIE,
    Category.BOTTOMS: ProductType.TROUSERS,
    Category.DRESSES: ProductType.DRESS,
    Category.OUTERWEAR: ProductType.JACKET,
    Category.FOOTWEAR: ProductType.SNEAKER,
    Category.BAGS: ProductType.TOTE,
    Category.ACCESSORIES: ProductType.BEANIE,
    Category.HOME: ProductType.CUSHION,
}
"""What to draw for a product whose attributes do not name its type."""


def _hex(value: str) -> RGB:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _luminance(c: RGB) -> float:
    return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255


def _curve(p0: Point, p1: Point, p2: Point, steps: int = 12) -> list[Point]:
    """Sample a quadratic Bézier from p0 to p2 pulled towards p1."""
    out: list[Point] = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        out.append(
            (u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0], u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1])
        )
    return out


def _mirror(points: list[Point]) -> list[Point]:
    return [(1 - x, y) for x, y in points]


class _Sketch:
    """Three masks in unit coordinates: the product's body, a second material (soles, buckles), and darker detail."""

    def __init__(self, px: int) -> None:
        self.px = px
        self.layers = {name: Image.new("L", (px, px), 0) for name in ("body", "trim", "shade")}
        self._draw = {name: ImageDraw.Draw(img) for name, img in self.layers.items()}

    def _xy(self, points: list[Point]) -> list[tuple[float, float]]:
        return [(x * self.px, y * self.px) for x, y in points]

    def _box(self, box: Box) -> tuple[float, float, float, float]:
        return box[0] * self.px, box[1] * self.px, box[2] * self.px, box[3] * self.px

    def polygon(self, points: list[Point], layer: Layer = "body", value: int = 255) -> None:
        self._draw[layer].polygon(self._xy(points), fill=value)

    def ellipse(self, box: Box, layer: Layer = "body", value: int = 255, width: float = 0) -> None:
        if width:
            self._draw[layer].ellipse(self._box(box), outline=value, width=max(1, round(width * self.px)))
        else:
            self._draw[layer].ellipse(self._box(box), fill=value)

    def rect(self, box: Box, layer: Layer = "body", value: int = 255, radius: float = 0, width: float = 0) -> None:
        r = round(radius * self.px)
        if width:
            self._draw[layer].rounded_rectangle(self._box(box), r, outline=value, width=max(1, round(width * self.px)))
        else:
            self._draw[layer].rounded_rectangle(self._box(box), r, fill=value)

    def line(self, points: list[Point], width: float, layer: Layer = "shade", value: int = 255) -> None:
        self._draw[layer].line(self._xy(points), fill=value, width=max(1, round(width * self.px)), joint="curve")

    def arc(self, box: Box, start: float, end: float, width: float, layer: Layer = "shade", value: int = 255) -> None:
        self._draw[layer].arc(self._box(box), start, end, fill=value, width=max(1, round(width * self.px)))

    def chord(self, box: Box, start: float, end: float, layer: Layer = "body", value: int = 255) -> None:
        self._draw[layer].chord(self._box(box), start, end, fill=value)


# --- garments --------------------------------------------------------------------------------------


def _torso(
    s: _Sketch,
    *,
    sleeves: Literal["short", "long", "none"],
    hem: float,
    half_width: float = 0.19,
    shoulder: float = 0.70,
) -> None:
    right = 0.5 + half_width
    right_side = [(0.59, 0.22), (shoulder, 0.255), (right, 0.41), (right, hem)]
    s.polygon(right_side + _mirror(right_side)[::-1])
    if sleeves == "short":
        sleeve = [(shoulder - 0.02, 0.25), (shoulder + 0.15, 0.385), (shoulder + 0.09, 0.475), (right, 0.42)]
        hem_line = [(shoulder + 0.135, 0.40), (shoulder + 0.08, 0.465)]
    elif sleeves == "long":
        sleeve = [
            (shoulder - 0.02, 0.25),
            (shoulder + 0.11, 0.40),
            (shoulder + 0.165, 0.765),
            (shoulder + 0.085, 0.78),
            (right + 0.025, 0.50),
            (right, 0.43),
        ]
        hem_line = [(shoulder + 0.088, 0.745), (shoulder + 0.16, 0.73)]
    else:
        return
    for side in (sleeve, _mirror(sleeve)):
        s.polygon(side)
    for side in (hem_line, _mirror(hem_line)):
        s.line(side, 0.006, value=110)
    # The seam where the sleeve joins the body.
    for side in ([(shoulder - 0.01, 0.26), (right, 0.42)], _mirror([(shoulder - 0.01, 0.26), (right, 0.42)])):
        s.line(side, 0.004, value=70)


def _crew_neck(s: _Sketch, rib: float = 0.012) -> None:
    s.ellipse((0.41, 0.175, 0.59, 0.265), "shade", 150)
    s.arc((0.40, 0.165, 0.60, 0.28), 0, 180, rib, value=95)


def _hem_line(s: _Sketch, hem: float, half_width: float = 0.19, value: int = 80) -> None:
    s.line([(0.5 - half_width + 0.01, hem - 0.03), (0.5 + half_width - 0.01, hem - 0.03)], 0.004, value=value)


def _tee(s: _Sketch, fit: str | None) -> None:
    half = 0.21 if fit == "boxy" else 0.19
    hem = 0.77 if fit == "boxy" else 0.80
    _torso(s, sleeves="short", hem=hem, half_width=half, shoulder=0.5 + half + 0.01)
    _crew_neck(s)
    _hem_line(s, hem, half)


def _long_sleeve_tee(s: _Sketch, fit: str | None) -> None:
    _torso(s, sleeves="long", hem=0.80)
    _crew_neck(s)
    _hem_line(s, 0.80)


def _tank(s: _Sketch, fit: str | None) -> None:
    neckline = _curve((0.44, 0.19), (0.50, 0.30), (0.56, 0.19))
    armhole = _curve((0.63, 0.19), (0.63, 0.38), (0.69, 0.42))
    s.polygon([(0.37, 0.19), *neckline, (0.63, 0.19), *armhole, (0.69, 0.80), (0.31, 0.80), *_mirror(armhole)[::-1]])
    s.line(neckline, 0.012, value=90)
    _hem_line(s, 0.80)


def _hoodie(s: _Sketch, fit: str | None) -> None:
    _torso(s, sleeves="long", hem=0.82, half_width=0.20, shoulder=0.71)
    s.ellipse((0.365, 0.09, 0.635, 0.34))
    s.ellipse((0.405, 0.13, 0.595, 0.32), "shade", 175)
    for x0, x1 in ((0.465, 0.455), (0.535, 0.545)):
        s.line([(x0, 0.31), (x1, 0.45)], 0.007, value=200)
    pocket = [(0.37, 0.58), (0.63, 0.58), (0.665, 0.735), (0.335, 0.735), (0.37, 0.58)]
    s.line(pocket, 0.005, value=120)
    s.line([(0.31, 0.785), (0.69, 0.785)], 0.005, value=110)


def _sweatshirt(s: _Sketch, fit: str | None) -> None:
    _torso(s, sleeves="long", hem=0.80, half_width=0.20, shoulder=0.71)
    _crew_neck(s, rib=0.02)
    s.line([(0.31, 0.765), (0.69, 0.765)], 0.005, value=110)


def _jacket(s: _Sketch, fit: str | None, *, hem: float = 0.80, quilted: bool = False, belted: bool = False) -> None:
    _torso(s, sleeves="long", hem=hem, half_width=0.205, shoulder=0.715)
    if quilted:
        s.rect((0.40, 0.16, 0.60, 0.26), radius=0.03)
        s.line([(0.5, 0.17), (0.5, hem)], 0.006, value=210)
        y = 0.31
        while y < hem - 0.02:
            s.line([(0.10, y), (0.90, y + 0.01)], 0.005, value=120)
            y += 0.075
        return
    depth = 0.44 if hem > 0.84 else 0.34
    lapel = [(0.41, 0.215), (0.46, 0.30), (0.50, depth)]
    for side in (lapel, _mirror(lapel)):
        s.line(side, 0.008, value=200)
    s.polygon([(0.41, 0.215), (0.50, depth), (0.59, 0.215)], "shade", 150)
    s.line([(0.5, depth), (0.5, hem)], 0.005, value=170)
    for i in range(3 if hem < 0.84 else 4):
        y = depth + 0.06 + i * 0.09
        s.ellipse((0.515, y - 0.011, 0.537, y + 0.011), "shade", 220)
    for x in (0.35, 0.54):
        s.rect((x, 0.60, x + 0.11, 0.71), "shade", 120, width=0.004)
    if belted:
        s.rect((0.295, 0.50, 0.705, 0.545), "shade", 110)


def _puffer(s: _Sketch, fit: str | None) -> None:
    _jacket(s, fit, quilted=True)


def _coat(s: _Sketch, fit: str | None) -> None:
    _jacket(s, fit, hem=0.88, belted=fit == "relaxed")


def _dress_skirt(s: _Sketch, waist: float, hem: float, flare: float) -> None:
    left, right = 0.5 - flare, 0.5 + flare
    bottom = _curve((right, hem), (0.5, hem + 0.03), (left, hem))
    s.polygon([(0.40, waist), (0.60, waist), *bottom])
    s.line([(0.40, waist), (0.60, waist)], 0.006, value=110)
    for x in (0.44, 0.50, 0.56):
        s.line([(x, waist + 0.04), (0.5 + (x - 0.5) * 2.6, hem - 0.03)], 0.004, value=60)


def _dress(s: _Sketch, fit: str | None) -> None:
    neck = _curve((0.43, 0.18), (0.50, 0.28), (0.57, 0.18))
    bodice = [
        *neck,
        (0.64, 0.20),
        (0.73, 0.30),
        (0.67, 0.34),
        (0.62, 0.32),
        (0.60, 0.46),
        (0.40, 0.46),
        (0.38, 0.32),
        (0.33, 0.34),
        (0.27, 0.30),
        (0.36, 0.20),
    ]
    s.polygon(bodice)
    s.line(neck, 0.01, value=110)
    _dress_skirt(s, 0.45, 0.86, 0.29)


def _slip_dress(s: _Sketch, fit: str | None) -> None:
    for x0, x1 in ((0.415, 0.405), (0.585, 0.595)):
        s.line([(x0, 0.13), (x1, 0.285)], 0.008, "body")
    neck = _curve((0.40, 0.27), (0.50, 0.36), (0.60, 0.27))
    s.polygon([*neck, (0.625, 0.30), (0.60, 0.47), (0.40, 0.47), (0.375, 0.30)])
    s.line(neck, 0.008, value=110)
    _dress_skirt(s, 0.46, 0.87, 0.25)


def _trousers(s: _Sketch, fit: str | None) -> None:
    flare = {"wide": 0.06, "relaxed": 0.03, "straight": 0.015, "slim": -0.02, "tapered": -0.025}.get(fit or "", 0.0)
    s.rect((0.325, 0.13, 0.675, 0.20), radius=0.01)
    s.polygon(
        [
            (0.33, 0.19),
            (0.67, 0.19),
            (0.69 + flare, 0.87),
            (0.535, 0.87),
            (0.50, 0.37),
            (0.465, 0.87),
            (0.31 - flare, 0.87),
        ]
    )
    s.line([(0.33, 0.20), (0.67, 0.20)], 0.005, value=130)
    s.line([(0.5, 0.20), (0.5, 0.34)], 0.005, value=130)
    s.line(_curve((0.5, 0.34), (0.53, 0.34), (0.54, 0.29)), 0.004, value=110)
    for side in (
        _curve((0.37, 0.20), (0.38, 0.27), (0.43, 0.28)),
        _mirror(_curve((0.37, 0.20), (0.38, 0.27), (0.43, 0.28))),
    ):
        s.line(side, 0.005, value=120)
    for x in (0.36, 0.43, 0.57, 0.64):
        s.rect((x - 0.008, 0.125, x + 0.008, 0.205), "shade", 90)
    s.ellipse((0.488, 0.152, 0.512, 0.176), "trim")
    for x0, x1 in ((0.31 - flare, 0.465), (0.535, 0.69 + flare)):
        s.line([(x0 + 0.005, 0.845), (x1 - 0.005, 0.845)], 0.004, value=90)


# --- footwear --------------------------------------------------------------------------------------


def _sneaker(s: _Sketch, fit: str | None) -> None:
    heel = [(0.165, 0.60), (0.155, 0.45)]
    collar = _curve((0.165, 0.42), (0.26, 0.38), (0.34, 0.43))
    tongue = [(0.40, 0.37), (0.46, 0.355)]
    vamp = _curve((0.48, 0.38), (0.60, 0.46), (0.78, 0.49))
    toe = _curve((0.78, 0.49), (0.855, 0.51), (0.855, 0.60))
    s.polygon([*heel, *collar, *tongue, *vamp, *toe])
    s.ellipse((0.19, 0.40, 0.36, 0.47), "shade", 170)
    for i in range(4):
        t = 0.30 + i * 0.17
        x, y = 0.44 + t * 0.20, 0.40 + t * 0.08
        s.line([(x - 0.02, y - 0.03), (x + 0.03, y + 0.02)], 0.008, value=200)
    s.line(_curve((0.72, 0.60), (0.70, 0.50), (0.79, 0.49)), 0.004, value=90)
    s.line(_curve((0.21, 0.59), (0.23, 0.48), (0.30, 0.46)), 0.004, value=90)
    s.rect((0.145, 0.585, 0.865, 0.665), "trim", radius=0.03)
    s.line([(0.16, 0.615), (0.85, 0.615)], 0.004, value=60)


def _boot(s: _Sketch, fit: str | None) -> None:
    front = _curve((0.40, 0.19), (0.41, 0.42), (0.55, 0.46))
    toe = _curve((0.55, 0.46), (0.84, 0.49), (0.835, 0.60))
    s.polygon([(0.19, 0.60), (0.195, 0.22), (0.22, 0.19), *front, *toe])
    s.rect((0.20, 0.15, 0.245, 0.22), radius=0.01)
    s.polygon([(0.265, 0.20), (0.355, 0.20), (0.345, 0.42), (0.30, 0.44), (0.275, 0.42)], "shade", 120)
    s.line(_curve((0.20, 0.50), (0.45, 0.47), (0.60, 0.56)), 0.004, value=90)
    s.rect((0.17, 0.585, 0.85, 0.65), "trim", radius=0.015)
    s.rect((0.17, 0.60, 0.33, 0.69), "trim", radius=0.01)


def _loafer(s: _Sketch, fit: str | None) -> None:
    vamp = _curve((0.44, 0.475), (0.60, 0.44), (0.76, 0.49))
    toe = _curve((0.76, 0.49), (0.85, 0.52), (0.85, 0.60))
    s.polygon([(0.17, 0.60), (0.16, 0.48), (0.22, 0.455), (0.34, 0.48), *vamp, *toe])
    s.ellipse((0.20, 0.455, 0.44, 0.50), "shade", 170)
    s.line([(0.50, 0.47), (0.64, 0.49)], 0.014, value=150)
    s.ellipse((0.555, 0.468, 0.585, 0.49), "shade", 230)
    s.line(_curve((0.47, 0.52), (0.62, 0.45), (0.80, 0.53)), 0.004, value=110)
    s.rect((0.155, 0.59, 0.86, 0.635), "trim", radius=0.015)
    s.rect((0.16, 0.60, 0.30, 0.67), "trim", radius=0.008)


def _sandal(s: _Sketch, fit: str | None) -> None:
    s.rect((0.15, 0.55, 0.85, 0.67), "trim", radius=0.05)
    s.line([(0.17, 0.60), (0.83, 0.60)], 0.004, value=70)
    strap = _curve((0.40, 0.565), (0.52, 0.27), (0.80, 0.565))
    s.polygon(strap)
    s.line(_curve((0.43, 0.55), (0.53, 0.34), (0.77, 0.55)), 0.004, value=110)


# --- bags ------------------------------------------------------------------------------------------


def _tote(s: _Sketch, fit: str | None) -> None:
    for box in ((0.31, 0.15, 0.53, 0.66), (0.47, 0.15, 0.69, 0.66)):
        s.arc(box, 180, 360, 0.028, "body")
    s.polygon([(0.25, 0.40), (0.75, 0.40), (0.79, 0.83), (0.21, 0.83)])
    s.rect((0.25, 0.40, 0.75, 0.435), "shade", 110)
    s.line([(0.24, 0.46), (0.76, 0.46)], 0.004, value=90)
    for x in (0.32, 0.47, 0.53, 0.68):
        s.rect((x - 0.015, 0.40, x + 0.015, 0.49), "shade", 140)


def _backpack(s: _Sketch, fit: str | None) -> None:
    s.arc((0.43, 0.13, 0.57, 0.28), 180, 360, 0.018, "body")
    for x in (0.255, 0.705):
        s.rect((x, 0.34, x + 0.04, 0.76), radius=0.015)
    s.rect((0.29, 0.21, 0.71, 0.85), radius=0.09)
    s.arc((0.32, 0.24, 0.68, 0.62), 195, 345, 0.007, value=170)
    s.rect((0.35, 0.53, 0.65, 0.79), "shade", 60, radius=0.05)
    s.rect((0.35, 0.53, 0.65, 0.79), "shade", 140, radius=0.05, width=0.006)
    s.rect((0.485, 0.53, 0.515, 0.58), "trim", radius=0.006)


def _crossbody(s: _Sketch, fit: str | None) -> None:
    s.arc((0.30, 0.14, 0.70, 0.82), 180, 360, 0.016, "body")
    s.rect((0.27, 0.46, 0.73, 0.79), radius=0.05)
    flap = [(0.27, 0.47), (0.73, 0.47), (0.73, 0.62), *_curve((0.73, 0.62), (0.50, 0.70), (0.27, 0.62))]
    s.polygon(flap, "shade", 55)
    s.line([*flap, (0.27, 0.47)], 0.005, value=140)
    s.ellipse((0.485, 0.625, 0.515, 0.655), "trim")
    for x in (0.30, 0.70):
        s.ellipse((x - 0.018, 0.46, x + 0.018, 0.495), "trim", width=0.008)


def _duffel(s: _Sketch, fit: str | None) -> None:
    s.arc((0.34, 0.22, 0.66, 0.60), 180, 360, 0.024, "body")
    s.rect((0.15, 0.40, 0.85, 0.77), radius=0.15)
    s.line([(0.24, 0.43), (0.76, 0.43)], 0.007, value=170)
    for box in ((0.15, 0.40, 0.31, 0.77), (0.69, 0.40, 0.85, 0.77)):
        s.ellipse(box, "shade", 110, width=0.006)
    for x in (0.33, 0.63):
        s.rect((x, 0.40, x + 0.04, 0.47), "trim", radius=0.008)


# --- accessories -----------------------------------------------------------------------------------


def _ribs(s: _Sketch, x0: float, x1: float, y0: float, y1: float, step: float = 0.035, value: int = 55) -> None:
    x = x0 + step / 2
    while x < x1:
        s.line([(x, y0), (x, y1)], 0.004, value=value)
        x += step


def _beanie(s: _Sketch, fit: str | None) -> None:
    s.chord((0.27, 0.20, 0.73, 0.84), 180, 360)
    s.rect((0.27, 0.50, 0.73, 0.60))
    s.rect((0.25, 0.56, 0.75, 0.75), radius=0.035)
    _ribs(s, 0.27, 0.73, 0.20, 0.56)
    _ribs(s, 0.25, 0.75, 0.58, 0.74, value=75)
    s.line([(0.26, 0.565), (0.74, 0.565)], 0.006, value=130)


def _cap(s: _Sketch, fit: str | None) -> None:
    s.chord((0.18, 0.30, 0.68, 0.86), 180, 360)
    brim = [
        (0.50, 0.53),
        *_curve((0.62, 0.53), (0.80, 0.53), (0.86, 0.60)),
        (0.80, 0.625),
        *_curve((0.72, 0.60), (0.60, 0.585), (0.50, 0.585)),
    ]
    s.polygon(brim)
    s.ellipse((0.41, 0.285, 0.45, 0.315))
    s.arc((0.30, 0.30, 0.56, 0.86), 180, 270, 0.004, value=100)
    s.arc((0.42, 0.30, 0.74, 0.86), 210, 320, 0.004, value=100)
    s.line([(0.19, 0.57), (0.66, 0.57)], 0.006, value=120)
    s.line(_curve((0.62, 0.56), (0.76, 0.56), (0.82, 0.60)), 0.004, value=90)


def _bucket_hat(s: _Sketch, fit: str | None) -> None:
    s.rect((0.33, 0.27, 0.67, 0.55), radius=0.07)
    s.polygon([(0.33, 0.52), (0.67, 0.52), (0.69, 0.57), (0.31, 0.57)])
    brim = [(0.30, 0.54), (0.70, 0.54), *_curve((0.85, 0.71), (0.50, 0.77), (0.15, 0.71))]
    s.polygon(brim)
    s.line([(0.31, 0.55), (0.69, 0.55)], 0.007, value=140)
    for k in (0.3, 0.55, 0.8):
        s.line(
            _curve((0.30 - 0.15 * k, 0.55 + 0.16 * k), (0.5, 0.56 + 0.21 * k), (0.70 + 0.15 * k, 0.55 + 0.16 * k)),
            0.003,
            value=90,
        )


def _scarf(s: _Sketch, fit: str | None) -> None:
    s.ellipse((0.33, 0.10, 0.63, 0.26))
    s.ellipse((0.39, 0.14, 0.57, 0.22), "shade", 130)
    s.rect((0.33, 0.17, 0.49, 0.79), radius=0.02)
    s.polygon([(0.47, 0.18), (0.63, 0.18), (0.68, 0.83), (0.52, 0.83)])
    s.line([(0.49, 0.22), (0.52, 0.83)], 0.006, value=140)
    for x0, x1, y in ((0.33, 0.49, 0.79), (0.52, 0.68, 0.83)):
        steps = 7
        for i in range(steps + 1):
            x = x0 + (x1 - x0) * i / steps
            s.line([(x, y - 0.01), (x, y + 0.05)], 0.005, "body")
        for dy in (0.06, 0.09):
            s.line([(x0, y - dy), (x1, y - dy)], 0.012, value=90)


def _belt(s: _Sketch, fit: str | None) -> None:
    s.ellipse((0.21, 0.23, 0.77, 0.79), width=0.075)
    s.ellipse((0.31, 0.33, 0.67, 0.69), width=0.07)
    s.ellipse((0.23, 0.25, 0.75, 0.77), "shade", 100, width=0.004)
    s.ellipse((0.33, 0.35, 0.65, 0.67), "shade", 100, width=0.004)
    s.rect((0.60, 0.46, 0.78, 0.56))
    s.rect((0.71, 0.42, 0.85, 0.60), "trim", radius=0.02, width=0.02)
    s.line([(0.72, 0.51), (0.80, 0.51)], 0.01, "trim")


def _socks(s: _Sketch, fit: str | None) -> None:
    for x0 in (0.21, 0.50):
        s.rect((x0, 0.18, x0 + 0.14, 0.70), radius=0.03)
        s.rect((x0, 0.64, x0 + 0.26, 0.80), radius=0.08)
        s.rect((x0, 0.18, x0 + 0.14, 0.26), "shade", 70)
        _ribs(s, x0, x0 + 0.14, 0.18, 0.26, step=0.023, value=120)
        s.ellipse((x0 - 0.04, 0.66, x0 + 0.08, 0.84), "shade", 80)
        s.ellipse((x0 + 0.18, 0.62, x0 + 0.30, 0.82), "shade", 80)


def _card_holder(s: _Sketch, fit: str | None) -> None:
    s.rect((0.30, 0.27, 0.66, 0.36), "trim", radius=0.01)
    s.rect((0.24, 0.33, 0.76, 0.70), radius=0.03)
    for y in (0.42, 0.50):
        s.line(_curve((0.24, y), (0.50, y + 0.035), (0.76, y)), 0.006, value=160)
    s.rect((0.255, 0.345, 0.745, 0.685), "shade", 110, radius=0.025, width=0.003)


# --- home ------------------------------------------------------------------------------------------


def _mug(s: _Sketch, fit: str | None) -> None:
    s.ellipse((0.555, 0.38, 0.79, 0.66), width=0.045)
    s.rect((0.23, 0.30, 0.62, 0.79), radius=0.045)
    s.ellipse((0.23, 0.26, 0.62, 0.34))
    s.ellipse((0.25, 0.275, 0.60, 0.33), "shade", 150)
    s.line([(0.25, 0.765), (0.60, 0.765)], 0.004, value=80)


def _candle(s: _Sketch, fit: str | None) -> None:
    s.rect((0.30, 0.30, 0.70, 0.80), radius=0.035)
    s.ellipse((0.30, 0.26, 0.70, 0.34))
    s.ellipse((0.325, 0.28, 0.675, 0.335), "trim")
    s.line([(0.50, 0.305), (0.505, 0.27)], 0.008, value=230)
    s.rect((0.36, 0.48, 0.64, 0.66), "trim", radius=0.01)
    for y, w in ((0.54, 0.10), (0.58, 0.07)):
        s.line([(0.5 - w, y), (0.5 + w, y)], 0.006, value=170)


def _cushion(s: _Sketch, fit: str | None) -> None:
    a, b = 0.20, 0.80
    corners = [(a, a), (b, a), (b, b), (a, b)]
    outline: list[Point] = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True):
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        # Each side bulges outwards between pointed corners, like a stuffed cushion.
        outline += _curve((x0, y0), (mx + (mx - 0.5) * 0.12, my + (my - 0.5) * 0.12), (x1, y1))
    s.polygon(outline)
    inset = [(0.5 + (x - 0.5) * 0.94, 0.5 + (y - 0.5) * 0.94) for x, y in outline]
    s.line([*inset, inset[0]], 0.006, value=120)
    for x, y in corners:
        s.line(
            [(x + (0.5 - x) * 0.1, y + (0.5 - y) * 0.1), (x + (0.5 - x) * 0.45, y + (0.5 - y) * 0.45)], 0.004, value=60
        )


def _throw(s: _Sketch, fit: str | None) -> None:
    for i in range(10):
        y = 0.37 + i * 0.035
        s.line([(0.15, y), (0.21, y)], 0.006, "body")
    s.rect((0.19, 0.34, 0.81, 0.72), radius=0.04)
    for y in (0.465, 0.595):
        s.line([(0.20, y), (0.80, y)], 0.007, value=130)
    s.rect((0.76, 0.34, 0.81, 0.72), "shade", 50, radius=0.02)


_DRAWERS: dict[ProductType, Callable[[_Sketch, str | None], None]] = {
    ProductType.TEE: _tee,
    ProductType.LONG_SLEEVE_TEE: _long_sleeve_tee,
    ProductType.TANK: _tank,
    ProductType.HOODIE: _hoodie,
    ProductType.SWEATSHIRT: _sweatshirt,
    ProductType.TROUSERS: _trousers,
    ProductType.DRESS: _dress,
    ProductType.SLIP_DRESS: _slip_dress,
    ProductType.JACKET: _jacket,
    ProductType.PUFFER: _puffer,
    ProductType.COAT: _coat,
    ProductType.SNEAKER: _sneaker,
    ProductType.BOOT: _boot,
    ProductType.LOAFER: _loafer,
    ProductType.SANDAL: _sandal,
    ProductType.TOTE: _tote,
    ProductType.BACKPACK: _backpack,
    ProductType.CROSSBODY: _crossbody,
    ProductType.DUFFEL: _duffel,
    ProductType.BEANIE: _beanie,
    ProductType.CAP: _cap,
    ProductType.BUCKET_HAT: _bucket_hat,
    ProductType.SCARF: _scarf,
    ProductType.BELT: _belt,
    ProductType.SOCKS: _socks,
    ProductType.CARD_HOLDER: _card_holder,
    ProductType.MUG: _mug,
    ProductType.CANDLE: _candle,
    ProductType.CUSHION: _cushion,
    ProductType.THROW: _throw,
}

_TRIM: dict[ProductType, RGB] = {
    ProductType.SNEAKER: (242, 239, 232),
    ProductType.BOOT: (46, 38, 34),
    ProductType.LOAFER: (58, 45, 38),
    ProductType.SANDAL: (201, 162, 122),
    ProductType.BELT: (200, 162, 74),
    ProductType.TROUSERS: (176, 141, 70),
    ProductType.BACKPACK: (60, 60, 62),
    ProductType.CROSSBODY: (200, 162, 74),
    ProductType.DUFFEL: (150, 98, 60),
    ProductType.CARD_HOLDER: (214, 220, 228),
    ProductType.CANDLE: (243, 235, 221),
}
"""The second material: soles, buckles, leather patches, wax."""

_STANDING = frozenset(
    {
        ProductType.SNEAKER,
        ProductType.BOOT,
        ProductType.LOAFER,
        ProductType.SANDAL,
        ProductType.TOTE,
        ProductType.BACKPACK,
        ProductType.CROSSBODY,
        ProductType.DUFFEL,
        ProductType.BEANIE,
        ProductType.CAP,
        ProductType.BUCKET_HAT,
        ProductType.MUG,
        ProductType.CANDLE,
    }
)
"""Items photographed standing on the studio floor, so they also cast a contact shadow."""


@lru_cache(maxsize=4)
def _background(px: int) -> Image.Image:
    ramp = Image.linear_gradient("L").resize((px, px))
    return Image.composite(
        Image.new("RGB", (px, px), BACKGROUND_BOTTOM), Image.new("RGB", (px, px), BACKGROUND_TOP), ramp
    )


@lru_cache(maxsize=4)
def _lighting(px: int) -> Image.Image:
    """Key light from the upper left: 0 where the product is brightest, 255 in its darkest corner."""
    big = round(px * 1.6)
    glow = Image.radial_gradient("L").resize((big, big))
    left, top = round(big / 2 - px * 0.38), round(big / 2 - px * 0.32)
    return glow.crop((left, top, left + px, top + px))


def _product_type(product: dict[str, Any]) -> ProductType:
    named = product.get("attributes", {}).get("product_type")
    if named is not None:
        return ProductType(named)
    try:
        return _CATEGORY_TYPES[product["category"]]
    except KeyError:
        raise ValueError(
            f"cannot tell what to draw for product {product.get('sku')!r}: no product_type or known category"
        ) from None


def _product_colour(product: dict[str, Any]) -> RGB:
    colours: list[str] = product.get("attributes", {}).get("colours") or []
    name = colours[0] if colours else ""
    if name.startswith("#") and len(name) == 7:
        return _hex(name)
    return _hex(COLOUR_HEX.get(name, UNKNOWN_COLOUR))


def _shadow(silhouette: Image.Image, standing: bool) -> Image.Image:
    """Return the shadow's strength: a soft drop shadow, plus a contact shadow under standing items."""
    size = silhouette.width
    small_px = max(8, size // 2)
    small = silhouette.reduce(size // small_px) if size % small_px == 0 else silhouette.resize((small_px, small_px))
    cast = Image.new("L", small.size, 0)
    cast.paste(small, (round(small_px * 0.012), round(small_px * 0.025)))
    cast = cast.filter(ImageFilter.GaussianBlur(small_px * 0.025)).point(lambda v: v * 0.30)
    bbox = small.getbbox()
    if standing and bbox:
        x0, _, x1, y1 = bbox
        floor = Image.new("L", small.size, 0)
        inset, h = (x1 - x0) * 0.04, small_px * 0.035
        ImageDraw.Draw(floor).ellipse((x0 + inset, y1 - h, x1 - inset, y1 + h * 0.8), fill=255)
        floor = floor.filter(ImageFilter.GaussianBlur(small_px * 0.02)).point(lambda v: v * 0.45)
        cast = ImageChops.lighter(cast, floor)
    return cast.resize((size, size), Image.Resampling.BILINEAR)


def render_product_image(product: dict[str, Any], size: int = 384) -> Image.Image:
    """Draw a studio reference photo of `product`: its silhouette in its first colour, centred, with a soft shadow."""
    kind = _product_type(product)
    colour = _product_colour(product)
    sketch = _Sketch(size * SUPERSAMPLE)
    _DRAWERS[kind](sketch, product.get("attributes", {}).get("fit"))
    # Only the masks are drawn large; scaling them down gives smooth edges, and colour work runs at output size.
    body, trim, shade = (sketch.layers[name].reduce(SUPERSAMPLE) for name in ("body", "trim", "shade"))
    silhouette = ImageChops.lighter(body, trim)

    def solid(rgb: RGB) -> Image.Image:
        return Image.new("RGB", (size, size), rgb)

    image = Image.composite(solid(SHADOW), _background(size), _shadow(silhouette, kind in _STANDING))
    surface = Image.composite(
        solid(_mix(colour, (0, 0, 0), 0.22)), solid(_mix(colour, (255, 255, 255), 0.10)), _lighting(size)
    )
    surface.paste(_TRIM.get(kind, _mix(colour, (0, 0, 0), 0.35)), mask=trim)
    dark = _luminance(colour) < 0.22
    surface.paste(_mix(colour, (255, 255, 255), 0.30) if dark else _mix(colour, (0, 0, 0), 0.38), mask=shade)
    image.paste(surface, mask=silhouette)
    # A fine edge keeps pale products readable against the pale backdrop.
    halo = silhouette.filter(ImageFilter.BoxBlur(1))

    def doubled(v: int) -> int:  # a mask: Pillow calls this once per grey level
        return min(255, v * 2)

    edge = ImageChops.subtract(halo, silhouette).point(doubled)
    image.paste(_mix(colour, (0, 0, 0), 0.25) if not dark else _mix(colour, BACKGROUND_BOTTOM, 0.2), mask=edge)
    return image


def render_logo(shop_name: str, brand: dict[str, Any], size: tuple[int, int] = (512, 160)) -> Image.Image:
    """Draw the shop's logo: a monogram badge and the name in the brand colours, on transparency."""
    width, height = size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE
    primary, accent = _hex(brand["primary_colour"]), _hex(brand["accent_colour"])
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    pad = round(height * 0.12)
    badge = height - 2 * pad
    draw.rounded_rectangle((pad, pad, pad + badge, pad + badge), radius=round(badge * 0.22), fill=primary)
    initials = "".join(word[0] for word in shop_name.split()[:2]).upper() or "?"
    draw.text(
        (pad + badge / 2, pad + badge / 2),
        initials,
        font=ImageFont.load_default(size=round(badge * 0.46)),
        fill=accent,
        anchor="mm",
    )
    text_x = pad * 2 + badge
    room = width - text_x - pad
    font_size = round(height * 0.34)
    font = ImageFont.load_default(size=font_size)
    while font_size > 8 and draw.textlength(shop_name, font=font) > room:
        font_size -= 2
        font = ImageFont.load_default(size=font_size)
    draw.text((text_x, height * 0.47), shop_name, font=font, fill=primary, anchor="lm")
    rule_y = round(height * 0.47 + font_size * 0.62)
    rule_end = text_x + min(draw.textlength(shop_name, font=font), room) * 0.3
    draw.rectangle((text_x, rule_y, rule_end, rule_y + max(2, round(height * 0.025))), fill=accent)
    return image.resize(size, Image.Resampling.LANCZOS)


def _save(path: Path, render: Callable[[], Image.Image]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_name(path.name + ".part")
    render().save(partial_path, format="PNG")
    # Renaming last means an interrupted run never leaves a truncated image that later runs would skip.
    partial_path.replace(path)


def write_images(shop: DemoShop, media_dir: Path, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Write every product photo and the logo under `media_dir`, skipping files already there; return how many were written."""
    jobs: list[tuple[Path, Callable[[], Image.Image]]] = [
        (media_dir / p["image_path"], partial(render_product_image, p)) for p in shop.products if p.get("image_path")
    ]
    if shop.brand.get("logo_path"):
        jobs.append((media_dir / shop.brand["logo_path"], partial(render_logo, shop.shop_name, shop.brand)))
    written = 0
    for done, (path, render) in enumerate(jobs, start=1):
        if not path.exists():
            _save(path, render)
            written += 1
        if progress is not None:
            progress(done, len(jobs))
    return written
