"""The CJK fonts the PDF briefs embed: prepared once at set-up, from installed Noto CJK.

Why prepare fonts at all. WeasyPrint subsets every embedded font with HarfBuzz but keeps the
original glyph ids (``RETAIN_GIDS``), so the embedded font carries an offset entry for every
glyph up to the highest one used. In Noto CJK common characters sit anywhere up to glyph
~59,000 (the full-width comma is 59,058), so any Chinese page embeds ~200 KB of empty glyph
slots per face. We therefore split each face, at set-up, into *tiers* of characters — tier 1
holds the 3,755 common hanzi of GB 2312 level 1 with Latin, symbols and punctuation, later
tiers GB 2312 level 2, then the other unified ideographs (龘), the supplementary planes
(extension B: 𠮷), extension A and everything else in tiers of 4,000 — each a small font with compact glyph
ids and its own family name. CSS lists the tier families in order, and fontconfig's coverage
sends every character to the one tier that has it. A normal brief embeds tier 1 only (tens
of KB); a name with 龘 or 𠮷 adds one small tier. Nothing is lost: the tiers partition
the whole character map of the source face.

The files are built from fonts installed by the system package ``fonts-noto-cjk`` into
``instance/fonts/`` (never committed) by ``flask briefs fonts``, with a ``fonts.json``
manifest. Without them the briefs still render, with the system Noto fonts (bigger PDFs).

HarfBuzz's subsetter (``libharfbuzz-subset0``) cuts the tiers through cffi in well under a
second per file; fontTools rewrites each tier's small ``name`` table so the tiers never pass
for the system's Noto fonts, and gives tiers 1 and 2 TrueType outlines (~2 s a tier, see
``_to_truetype``). A running app keeps the files it found: restart it after preparing new ones.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MANIFEST = "fonts.json"
FORMAT_VERSION = 7
# Tiers 1 and 2 (GB 2312: what nearly every brief prints) get TrueType outlines, made at
# set-up (~2 s a tier, see _to_truetype); the rare tiers stay CFF, as the source faces.
TRUETYPE_TIERS = 2

# Faces the briefs use: key → (CSS family, fontconfig pattern of the source face, CSS weight,
# highest character category prepared). Serif (宋体-like) for body text and the headline, sans
# bold (黑体) for headings and labels, as in official documents. The sans face only ever sets
# our own labels (common characters), so only its first two tiers are prepared; anything
# rarer in it would still render, from the system font that ends every font list.
FACES: dict[str, tuple[str, str, int, int]] = {
    "serif-regular": ("TZ Brief Serif", "Noto Serif CJK SC:style=Regular", 400, 6),
    "serif-bold": ("TZ Brief Serif", "Noto Serif CJK SC:style=Bold", 700, 6),
    "sans-bold": ("TZ Brief Sans", "Noto Sans CJK SC:style=Bold", 700, 2),
}
# The system families behind them: the last resort when the prepared fonts are missing.
SYSTEM_FAMILIES = {"TZ Brief Serif": "Noto Serif CJK SC", "TZ Brief Sans": "Noto Sans CJK SC"}

_LOW_RANGES = (
    (0x0020, 0x007E), (0x00A0, 0x024F),  # ASCII, Latin-1, Latin Extended-A/B (English names)
    (0x2000, 0x206F), (0x2100, 0x218F), (0x2190, 0x21FF),  # punctuation, letterlike, arrows
    (0x2460, 0x24FF), (0x2500, 0x25FF),  # ①, box drawing, geometric shapes
    (0x3000, 0x303F), (0xFF00, 0xFFEF),  # CJK symbols and punctuation, full-width forms
)
# Spaces and punctuation that Pango may shape with the font of the neighbouring characters
# (it keeps them in the current run): every tier file carries them so they never come out as
# boxes. Tier 1 comes first in the font list, so ordinary text still takes them from tier 1.
NEUTRAL_RANGES = ((0x0020, 0x007E), (0x00A0, 0x00A0), (0x2000, 0x206F), (0x3000, 0x303F),
                  (0xFF00, 0xFF65))


@lru_cache(maxsize=1)
def _gb2312() -> dict[int, int]:
    """GB 2312 code point → tier: symbols and level-1 hanzi (the 3,755 common ones) tier 1,
    level-2 hanzi tier 2."""
    chars: dict[int, int] = {}
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars[ord(bytes((hi, lo)).decode("gb2312"))] = 2 if hi >= 0xD8 else 1
            except UnicodeDecodeError:
                pass
    return chars


def category_of(cp: int) -> int:
    """Which category (1..6) a code point belongs to; every code point has exactly one.

    Categories are ordered by how often Chinese text needs them. 1 and 2 are one tier each;
    the rarer ones are cut into tiers of ``CHUNK`` characters, because what a rare character
    costs in the PDF grows with the number of glyphs in its tier (WeasyPrint keeps glyph ids,
    so every glyph slot below the one used stays in the embedded font, about 4 bytes each).
    """
    gb = _gb2312().get(cp)
    if gb is not None:
        return gb
    if any(lo <= cp <= hi for lo, hi in _LOW_RANGES):
        return 1
    if 0x4E00 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x2E80 <= cp <= 0x33FF:
        return 3  # the rest of the unified ideographs (龘 堃 喆), compatibility, radicals
    if cp >= 0x10000:
        return 4  # supplementary planes: CJK extension B and beyond (𠮷)
    if 0x3400 <= cp <= 0x4DBF:
        return 5  # CJK extension A
    return 6  # everything else the face covers (Hangul, kana, rare symbols…)


CHUNK = 4000


def split_tiers(cps: list[int], max_category: int = 6) -> list[list[int]]:
    """The face's code points in tiers: tier 1 first, every code point (of the categories up
    to ``max_category``) in exactly one."""
    categories: dict[int, list[int]] = {c: [] for c in range(1, max_category + 1)}
    for cp in sorted(cps):
        cat = category_of(cp)
        if cat <= max_category:
            categories[cat].append(cp)
    tiers: list[list[int]] = []
    for cat, items in categories.items():
        if cat <= 2:
            tiers.append(items)
        else:
            tiers.extend(items[i:i + CHUNK] for i in range(0, len(items), CHUNK))
    return [t for t in tiers if t]


# --- HarfBuzz through cffi -------------------------------------------------------------

_CDEF = """
typedef struct hb_blob_t hb_blob_t; typedef struct hb_face_t hb_face_t;
typedef struct hb_set_t hb_set_t; typedef struct hb_subset_input_t hb_subset_input_t;
typedef uint32_t hb_codepoint_t; typedef uint32_t hb_tag_t;
hb_blob_t * hb_blob_create_from_file_or_fail (const char *file_name);
void hb_blob_destroy (hb_blob_t *blob);
const char * hb_blob_get_data (hb_blob_t *blob, unsigned int *length);
hb_face_t * hb_face_create (hb_blob_t *blob, unsigned int index);
void hb_face_destroy (hb_face_t *face);
hb_blob_t * hb_face_reference_blob (hb_face_t *face);
void hb_face_collect_unicodes (hb_face_t *face, hb_set_t *out);
unsigned int hb_face_get_glyph_count (const hb_face_t *face);
hb_set_t * hb_set_create (void);
void hb_set_destroy (hb_set_t *set);
void hb_set_add (hb_set_t *set, hb_codepoint_t codepoint);
int hb_set_next (const hb_set_t *set, hb_codepoint_t *codepoint);
hb_tag_t hb_tag_from_string (const char *str, int len);
hb_subset_input_t * hb_subset_input_create_or_fail (void);
void hb_subset_input_destroy (hb_subset_input_t *input);
hb_set_t * hb_subset_input_unicode_set (hb_subset_input_t *input);
hb_set_t * hb_subset_input_set (hb_subset_input_t *input, int set_type);
void hb_subset_input_set_flags (hb_subset_input_t *input, unsigned value);
hb_face_t * hb_subset_or_fail (hb_face_t *source, const hb_subset_input_t *input);
"""
_HB_SUBSET_SETS_DROP_TABLE_TAG = 3
_HB_SUBSET_FLAGS_NO_HINTING = 0x1  # WeasyPrint embeds fonts unhinted anyway
# Tables a horizontal, PDF-embedded font never needs. GSUB goes too: keeping it would pull
# every vertical/locale alternate of the kept characters into the tier (its "closure").
_DROP_TABLES = (b"GSUB", b"vhea", b"vmtx", b"VORG", b"BASE", b"DSIG", b"JSTF")


class FontSetupError(RuntimeError):
    pass


@lru_cache(maxsize=1)
def _hb():
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(_CDEF)
    try:
        hb = ffi.dlopen("libharfbuzz.so.0")
        hbs = ffi.dlopen("libharfbuzz-subset.so.0")
    except OSError as err:
        raise FontSetupError(
            "HarfBuzz subsetting library not found: install the system package libharfbuzz-subset0"
        ) from err
    return ffi, hb, hbs


def _blob_bytes(ffi, hb, face) -> bytes:
    blob = hb.hb_face_reference_blob(face)
    try:
        length = ffi.new("unsigned int *")
        data = hb.hb_blob_get_data(blob, length)
        return ffi.unpack(data, int(length[0])) if data != ffi.NULL else b""
    finally:
        hb.hb_blob_destroy(blob)


def _face_unicodes(ffi, hb, face) -> list[int]:
    out = hb.hb_set_create()
    try:
        hb.hb_face_collect_unicodes(face, out)
        cps, cp = [], ffi.new("hb_codepoint_t *", 0xFFFFFFFF)  # HB_SET_VALUE_INVALID
        while hb.hb_set_next(out, cp):
            cps.append(int(cp[0]))
        return cps
    finally:
        hb.hb_set_destroy(out)


def _subset(ffi, hb, hbs, face, cps: list[int]) -> bytes:
    inp = hbs.hb_subset_input_create_or_fail()
    if inp == ffi.NULL:
        raise FontSetupError("hb_subset_input_create_or_fail failed")
    try:
        unicodes = hbs.hb_subset_input_unicode_set(inp)
        for cp in cps:
            hb.hb_set_add(unicodes, cp)
        drop = hbs.hb_subset_input_set(inp, _HB_SUBSET_SETS_DROP_TABLE_TAG)
        for tag in _DROP_TABLES:
            hb.hb_set_add(drop, hb.hb_tag_from_string(tag, 4))
        hbs.hb_subset_input_set_flags(inp, _HB_SUBSET_FLAGS_NO_HINTING)
        out = hbs.hb_subset_or_fail(face, inp)
        if out == ffi.NULL:
            raise FontSetupError("HarfBuzz could not subset the font")
        try:
            return _blob_bytes(ffi, hb, out)
        finally:
            hb.hb_face_destroy(out)
    finally:
        hbs.hb_subset_input_destroy(inp)


def _finish(data: bytes, family: str, style: str, truetype: bool) -> bytes:
    """Give a tier its own names and, with ``truetype``, TrueType outlines (fontTools)."""
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(data), lazy=not truetype)
    _rename(font, family, style)
    if truetype:
        _to_truetype(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _rename(font, family: str, style: str) -> None:
    """Only the small name table changes (the tiers never pass for the system's Noto fonts)."""
    name = font["name"]
    ps = family.replace(" ", "") + "-" + style
    keep = [r for r in name.names if r.nameID in (0, 7, 11, 12, 13, 14)]
    name.names = keep
    for name_id, value in ((1, family), (2, style), (3, f"{ps};tracker"), (4, f"{family} {style}"),
                           (5, "Version 1.0; prepared from Noto CJK"), (6, ps)):
        name.setName(value, name_id, 3, 1, 0x409)


def _to_truetype(font) -> None:
    """Replace the font's CFF outlines by quadratic TrueType ones (within 1 unit of 1,000 per
    em: the same shapes on paper). WeasyPrint subsets every embedded font on every PDF and
    un-shares CFF's subroutines as it does; a TrueType tier subsets faster and embeds
    smaller (bench/briefs.py: the demo brief ~8 % less CPU, 107 -> 50 KB)."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    outlines = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    hmtx = font["hmtx"]
    for glyph in order:
        pen = TTGlyphPen(outlines)
        outlines[glyph].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))  # TrueType winds the other way
        glyf[glyph] = shape = pen.glyph()
        shape.recalcBounds(glyf)
        # A TrueType glyph is drawn with its left edge at the left side bearing: the bearing
        # must be the new outline's (CFF's was rounded from the curves' control points).
        hmtx[glyph] = (hmtx[glyph][0], getattr(shape, "xMin", 0))
    font["glyf"], font["loca"] = glyf, newTable("loca")
    maxp = newTable("maxp")  # version 1.0; fontTools counts points and contours when saving
    maxp.tableVersion, maxp.maxZones = 0x00010000, 1
    for field_ in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                   "maxStackElements", "maxSizeOfInstructions", "maxComponentElements", "maxComponentDepth"):
        setattr(maxp, field_, 0)
    font["maxp"] = maxp
    font["post"].formatType, font["post"].extraNames, font["post"].mapping = 3.0, [], {}  # no glyph names
    del font["CFF "]
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


# --- Locating the source faces ----------------------------------------------------------

def find_source(pattern: str) -> tuple[str, int]:
    """(file, face index) of an installed font, via fontconfig; the family must match."""
    want_family = pattern.split(":")[0]
    try:
        res = subprocess.run(
            ["fc-match", "--format=%{file}\t%{index}\t%{family}", pattern],
            capture_output=True, text=True, timeout=30, check=True,
        )
    except (OSError, subprocess.SubprocessError) as err:
        raise FontSetupError(f"fc-match failed: {err}") from err
    path, index, families = (res.stdout.split("\t") + ["", "", ""])[:3]
    if want_family not in families.split(","):
        raise FontSetupError(
            f"Font {want_family!r} is not installed (fontconfig offers {families!r}); "
            "install the system package fonts-noto-cjk"
        )
    return path, int(index or 0)


def _file_digest(path: str) -> str:
    st = os.stat(path)
    return hashlib.sha256(f"{path}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:16]


# --- Build and read ----------------------------------------------------------------------

@dataclass(frozen=True)
class FontFile:
    family: str  # the CSS family of the tier, e.g. "TZ Brief Serif 3"
    base: str  # the family it is a tier of, e.g. "TZ Brief Serif"
    weight: int
    tier: int
    path: Path


def tier_family(base: str, tier: int) -> str:
    return f"{base} {tier}"


def build(dest: Path, *, force: bool = False, echo=print) -> list[FontFile]:
    """Prepare the tiered fonts into ``dest`` (idempotent: kept when the sources are unchanged)."""
    dest = Path(dest)
    sources = {key: find_source(face[1]) for key, face in FACES.items()}
    stamp = {key: [path, index, _file_digest(path)] for key, (path, index) in sources.items()}
    current = _read_manifest(dest)
    if not force and current and current.get("sources") == stamp and current.get("format") == FORMAT_VERSION:
        files = manifest_files(dest)
        if files:
            echo(f"Fonts already prepared in {dest}")
            return files
    ffi, hb, hbs = _hb()
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fonts-", dir=dest))
    entries = []
    try:
        blobs: dict[str, object] = {}
        for key, (family, _, weight, max_category) in FACES.items():
            path, index = sources[key]
            blob = blobs.get(path)
            if blob is None:
                blob = hb.hb_blob_create_from_file_or_fail(path.encode())
                if blob == ffi.NULL:
                    raise FontSetupError(f"Cannot read {path}")
                blobs[path] = blob
            face = hb.hb_face_create(blob, index)
            try:
                all_cps = _face_unicodes(ffi, hb, face)
                neutral = [cp for cp in all_cps if any(lo <= cp <= hi for lo, hi in NEUTRAL_RANGES)]
                style = "Bold" if weight >= 700 else "Regular"
                for tier, cps in enumerate(split_tiers(all_cps, max_category), start=1):
                    truetype = tier <= TRUETYPE_TIERS
                    data = _finish(_subset(ffi, hb, hbs, face, sorted(set(cps) | set(neutral))),
                                   tier_family(family, tier), style, truetype)
                    name = f"{key}-{tier}.{'ttf' if truetype else 'otf'}"
                    (tmp / name).write_bytes(data)
                    entries.append({"family": family, "weight": weight, "tier": tier, "file": name,
                                    "characters": len(cps)})
                    echo(f"  {name}: {len(cps)} characters, {len(data) // 1024} KB")
            finally:
                hb.hb_face_destroy(face)
        for blob in blobs.values():
            hb.hb_blob_destroy(blob)
        manifest = {"format": FORMAT_VERSION, "sources": stamp, "files": entries}
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False))
        # Replace the files, manifest last, so a reader never sees a half-built set.
        for item in tmp.iterdir():
            if item.name != MANIFEST:
                os.replace(item, dest / item.name)
        os.replace(tmp / MANIFEST, dest / MANIFEST)
        wanted = {e["file"] for e in entries}
        for old in [*dest.glob("*.otf"), *dest.glob("*.ttf")]:
            if old.name not in wanted and old.name.split("-")[0] in {"serif", "sans"}:
                old.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    manifest_files.cache_clear()
    return manifest_files(dest)


def _read_manifest(dest: Path) -> dict | None:
    try:
        return json.loads((Path(dest) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=8)
def manifest_files(dest: Path) -> list[FontFile]:
    """The prepared font files in ``dest``; empty when set-up has not run."""
    dest = Path(dest)
    manifest = _read_manifest(dest)
    if not manifest or manifest.get("format") != FORMAT_VERSION:
        return []
    files = []
    for entry in manifest.get("files", []):
        path = dest / entry["file"]
        if not path.is_file():
            return []
        base, tier = entry["family"], int(entry["tier"])
        files.append(FontFile(tier_family(base, tier), base, int(entry["weight"]), tier, path))
    return files


def font_face_css(files: list[FontFile]) -> str:
    """@font-face rules for the prepared tiers (their URLs are file: URIs the fetcher allows).

    Each tier is its own family and holds only its own characters (plus spaces and
    punctuation), so fontconfig's coverage alone sends every character to the one tier that
    has it; no unicode-range is needed (WeasyPrint turns each range into fontconfig XML,
    which costs seconds for the ideograph ranges).
    """
    rules = []
    for f in sorted(files, key=lambda f: (f.base, f.tier, f.weight)):
        family, url = json.dumps(f.family), json.dumps(f.path.resolve().as_uri())
        rules.append(
            f"@font-face {{ font-family: {family}; font-weight: {f.weight}; font-style: normal; src: url({url}); }}"
        )
    return "\n".join(rules)


def font_stack(base: str, files: list[FontFile]) -> str:
    """The CSS font-family list for a base family: its tiers in order, then the system font."""
    tiers = sorted({(f.tier, f.family) for f in files if f.base == base})
    names = [family for _, family in tiers] + [SYSTEM_FAMILIES[base]]
    return ", ".join(json.dumps(n) for n in names)
