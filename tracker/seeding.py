"""Load the reference lists and the demo data from ``seeds/*.yaml`` (``flask seed demo``).

Both loaders are idempotent: rows are matched on their natural keys (unit code then name;
industry/region/platform name; username; investor name then USCC; project name; ceremony
name) and only what is missing is created. Existing users, investors, projects and ceremonies
are never changed, so re-running the seed does not undo what people did in the demo; on
reference rows the meaning-bearing flags (``is_city``, industry ``group``, ``is_yrd``,
``is_foreign``, a platform's unit, the English name ``name_en``) are re-applied (counted as ``updated``).

Every created user, investor, project and ceremony gets one ``seed.create`` audit entry (actor
None) carrying the record's provenance (``sources``/``invented``, see the header of
seeds/demo.yaml). A new project also gets its milestone rows (planned/actual date per stage)
and its stage evidence; the loader checks that stage, evidence and milestones agree. Nothing
here commits: the caller does (the CLI commits once).

Lookups are bulk (one query per table), so a load costs a handful of queries plus the audit
chain; the argon2 hashes of the demo users (~0.1 s each) dominate a first load and are never
recomputed for users that already exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, or_, select

from tracker.audit.operations import record
from tracker.auth.models import Role, Unit, User
from tracker.auth.passwords import hash_password
from tracker.ceremonies.models import Ceremony, CeremonySigning
from tracker.core.formatting import today_local
from tracker.core.input import Choices, InputError, Problem, parse_amount, parse_date, validate
from tracker.core.uscc import is_valid as uscc_is_valid
from tracker.core.uscc import normalize as uscc_normalize
from tracker.extensions import db
from tracker.projects.models import Industry, Investor, Platform, Project, SourceRegion
from tracker.projects.schemas import ProjectFields
from tracker.workflow.models import Milestone
from tracker.workflow.stages import CODES as STAGE_CODES
from tracker.workflow.stages import MAIN_CODES, MILESTONE_CODES

SEED_DIR = Path(__file__).resolve().parent.parent / "seeds"
ACTION = "seed.create"
PROVENANCE = ("sources", "invented")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SeedError(ValueError):
    """The seed files are inconsistent (unknown field or reference, duplicate, bad value)."""


# ---------------------------------------------------------------------------------------------
# Reading and checking rows


def _read(name: str, seed_dir: str | Path | None) -> dict[str, Any]:
    path = Path(seed_dir or SEED_DIR) / name
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_Loader)
    if not isinstance(data, dict):
        raise SeedError(f"{path}: expected a mapping at the top level")
    return data


def _rows(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rows = data.get(key) or []
    if not isinstance(rows, list):
        raise SeedError(f"{key}: expected a list")
    return rows


def _label(kind: str, row: Any) -> str:
    if isinstance(row, dict):
        for key in ("name", "username", "code", "project"):
            if row.get(key):
                return f"{kind} {row[key]!s}"
    return f"{kind} {row!r}"


def _check(kind: str, row: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    """Required fields present, no unknown fields, ``invented`` names only real fields."""
    if not isinstance(row, dict):
        raise SeedError(f"{_label(kind, row)}: expected a mapping")
    missing = [k for k in required if row.get(k) in (None, "")]
    if missing:
        raise SeedError(f"{_label(kind, row)}: missing {', '.join(missing)}")
    allowed = set(required) | set(optional)
    unknown = set(row) - allowed - set(PROVENANCE)
    if unknown:
        raise SeedError(f"{_label(kind, row)}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    invented = row.get("invented")
    if invented is not None and invented != "all":
        if not isinstance(invented, list):
            raise SeedError(f"{_label(kind, row)}: invented must be 'all' or a list of fields")
        bad = [str(f) for f in invented if f not in allowed]
        if bad:
            raise SeedError(f"{_label(kind, row)}: invented names unknown field(s) {', '.join(bad)}")
    sources = row.get("sources")
    if sources is not None and not isinstance(sources, list):
        raise SeedError(f"{_label(kind, row)}: sources must be a list")


def _provenance(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if row.get("sources"):
        out["sources"] = [str(s) for s in row["sources"]]
    if row.get("invented"):
        out["invented"] = row["invented"]
    elif not row.get("sources"):
        out["invented"] = "all"
    return out


def _text(kind: str, row: dict, field: str, default: str = "", max_len: int | None = None) -> str:
    value = row.get(field, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    if max_len is not None and len(value) > max_len:
        raise SeedError(f"{_label(kind, row)}: {field} longer than {max_len} characters")
    return value


def _bool(kind: str, row: dict, field: str) -> bool:
    value = row.get(field, False)
    if not isinstance(value, bool):
        raise SeedError(f"{_label(kind, row)}: {field} must be true or false")
    return value


def _parsed(kind: str, row: dict, field: str, parse) -> Any:
    """``row[field]`` through one of the input layer's parsers (None when absent)."""
    value = row.get(field)
    if value is None:
        return None
    try:
        return parse(value)
    except Problem as problem:
        raise SeedError(f"{_label(kind, row)}: {field}: {problem}") from None


def _money(kind: str, row: dict, field: str) -> Decimal | None:
    return _parsed(kind, row, field, parse_amount)


def _date(kind: str, row: dict, field: str) -> date | None:
    return _parsed(kind, row, field, parse_date)


def _unique(kind: str, keys: list[str]) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise SeedError(f"{kind} {key}: listed twice")
        seen.add(key)


# ---------------------------------------------------------------------------------------------
# Reference lists


@dataclass
class _Ref:
    units: dict[str, Unit]  # by code
    city: Unit
    industries: dict[str, Industry]
    regions: dict[str, SourceRegion]
    platforms: dict[str, Platform]

    def unit(self, kind: str, row: dict, field: str = "unit") -> Unit:
        code = row.get(field)
        unit = self.units.get(code)
        if unit is None:
            raise SeedError(f"{_label(kind, row)}: unknown unit code {code!r}")
        return unit


def _sync_flags(obj: Any, wanted: dict[str, Any]) -> bool:
    changed = False
    for field, value in wanted.items():
        if getattr(obj, field) != value:
            setattr(obj, field, value)
            changed = True
    return changed


def _english(kind: str, row: dict) -> dict[str, str]:
    """``name_en`` when the seed row gives one (then re-applied like a flag), else nothing, so
    an English name an admin typed for a row the seed does not name is left alone."""
    if "name_en" not in row:
        return {}
    return {"name_en": _text(kind, row, "name_en", max_len=80)}


def _load_units(rows: list[dict], counts: dict[str, int]) -> dict[str, Unit]:
    session = db.session
    for row in rows:
        _check("unit", row, ("code", "name"), ("is_city", "name_en"))
    _unique("unit", [str(r["code"]) for r in rows])
    _unique("unit", [str(r["name"]) for r in rows])
    existing = session.execute(select(Unit)).scalars().all()
    by_code = {u.code: u for u in existing}
    by_name = {u.name: u for u in existing}
    for position, row in enumerate(rows):
        code, name = _text("unit", row, "code", max_len=40), _text("unit", row, "name", max_len=60)
        flags = {"is_city": _bool("unit", row, "is_city"), **_english("unit", row)}
        unit = by_code.get(code) or by_name.get(name)
        if unit is None:
            unit = Unit(code=code, name=name, sort_order=position, is_active=True, **flags)
            session.add(unit)
            by_code[code] = by_name[name] = unit
            counts["units"] += 1
        elif _sync_flags(unit, flags):
            counts["updated"] += 1
    return by_code


def _load_named(model, kind: str, key: str, rows: list[dict], counts: dict[str, int],
                optional: tuple[str, ...], flags_of) -> dict[str, Any]:
    """Reference rows keyed by name; ``flags_of(row)`` gives the attributes to create/sync."""
    session = db.session
    for row in rows:
        _check(kind, row, ("name",), (*optional, "name_en"))
    _unique(kind, [str(r["name"]) for r in rows])
    by_name = {obj.name: obj for obj in session.execute(select(model)).scalars()}
    for position, row in enumerate(rows):
        name = _text(kind, row, "name", max_len=60)
        flags = {**flags_of(row), **_english(kind, row)}
        obj = by_name.get(name)
        if obj is None:
            obj = model(name=name, sort_order=position, is_active=True, **flags)
            session.add(obj)
            by_name[name] = obj
            counts[key] += 1
        elif _sync_flags(obj, flags):
            counts["updated"] += 1
    return by_name


def _load_reference(seed_dir: str | Path | None) -> tuple[dict[str, int], _Ref]:
    data = _read("reference.yaml", seed_dir)
    counts = {"units": 0, "industries": 0, "source_regions": 0, "platforms": 0, "updated": 0}

    units = _load_units(_rows(data, "units"), counts)
    industries = _load_named(
        Industry, "industry", "industries", _rows(data, "industries"), counts, ("group",),
        lambda row: {"group": _text("industry", row, "group", max_len=20)},
    )
    regions = _load_named(
        SourceRegion, "source region", "source_regions", _rows(data, "source_regions"), counts,
        ("is_yrd", "is_foreign"),
        lambda row: {"is_yrd": _bool("source region", row, "is_yrd"),
                     "is_foreign": _bool("source region", row, "is_foreign")},
    )

    db.session.flush()  # new units need their ids

    def platform_flags(row: dict) -> dict[str, Any]:
        if row.get("unit") is None:
            return {"unit_id": None}
        unit = units.get(row["unit"])
        if unit is None:
            raise SeedError(f"{_label('platform', row)}: unknown unit code {row['unit']!r}")
        return {"unit_id": unit.id}

    platforms = _load_named(Platform, "platform", "platforms", _rows(data, "platforms"), counts,
                            ("unit",), platform_flags)
    db.session.flush()

    cities = sorted((u for u in units.values() if u.is_city), key=lambda u: (u.sort_order, u.id))
    if not cities:
        raise SeedError("units: no unit has is_city: true")
    return counts, _Ref(units, cities[0], industries, regions, platforms)


def load_reference(seed_dir: str | Path | None = None) -> dict[str, int]:
    """Units, industries, source regions and platforms from seeds/reference.yaml.

    Returns how many of each were created, plus ``updated`` (existing rows whose flags were
    re-applied). Flushes, never commits.
    """
    counts, _ = _load_reference(seed_dir)
    return counts


# ---------------------------------------------------------------------------------------------
# Demo records


def _load_users(data: dict, ref: _Ref, counts: dict[str, int]) -> dict[str, User]:
    session = db.session
    rows = _rows(data, "users")
    password = data.get("password")
    if rows and (not isinstance(password, str) or len(password) < 8):
        raise SeedError("password: the demo password must be a string of at least 8 characters")
    roles = {r.value for r in Role}
    for row in rows:
        _check("user", row, ("username", "display_name", "role", "unit"))
        if row["role"] not in roles:
            raise SeedError(f"{_label('user', row)}: unknown role {row['role']!r}")
    _unique("user", [str(r["username"]).strip().lower() for r in rows])

    lowered = [str(r["username"]).strip().lower() for r in rows]
    existing = {
        u.username.lower(): u
        for u in session.execute(select(User).where(func.lower(User.username).in_(lowered))).scalars()
    } if lowered else {}

    users: dict[str, User] = {}
    created: list[tuple[User, dict]] = []
    for row in rows:
        username = _text("user", row, "username", max_len=40)
        user = existing.get(username.lower())
        if user is None:
            user = User(
                username=username,
                display_name=_text("user", row, "display_name", max_len=40),
                role=row["role"],
                unit=ref.unit("user", row),
                password_hash=hash_password(password),
                is_active_user=True,
                session_version=1,
            )
            created.append((user, row))
        users[username] = user
    session.add_all(u for u, _ in created)
    for user, row in created:
        record(None, ACTION, user, {
            "username": user.username, "display_name": user.display_name, "role": user.role,
            "unit": user.unit.name, **_provenance(row),
        })
    counts["users"] += len(created)
    return users


def _load_investors(data: dict, ref: _Ref, counts: dict[str, int]) -> dict[str, Investor]:
    session = db.session
    rows = _rows(data, "investors")
    for row in rows:
        _check("investor", row, ("name", "source_region"), ("uscc", "country", "introduction", "unit"))
        if row.get("uscc") is not None and not uscc_is_valid(str(row["uscc"])):
            raise SeedError(f"{_label('investor', row)}: invalid 统一社会信用代码 {row['uscc']!r}")
        if row["source_region"] not in ref.regions:
            raise SeedError(f"{_label('investor', row)}: unknown source region {row['source_region']!r}")
    names = [_text("investor", r, "name", max_len=100) for r in rows]
    _unique("investor", names)
    codes = [uscc_normalize(str(r["uscc"])) for r in rows if r.get("uscc") is not None]
    _unique("investor USCC", codes)

    # The unit that recorded an investor: explicit, else its first project's unit, else the city.
    first_unit: dict[str, str] = {}
    for p in _rows(data, "projects"):
        if isinstance(p, dict) and p.get("investor") and p.get("unit"):
            first_unit.setdefault(p["investor"], p["unit"])

    def unit_of(name: str, row: dict) -> Unit:
        if row.get("unit"):
            return ref.unit("investor", row)
        if name in first_unit:
            return ref.unit("investor", {"name": name, "unit": first_unit[name]})
        return ref.city

    # Each unit keeps its own investor records: an existing one is found within its unit only.
    units = [unit_of(name, row) for name, row in zip(names, rows)]
    conditions = []
    if names:
        conditions.append(Investor.name.in_(names))
    if codes:
        conditions.append(Investor.uscc.in_(codes))
    found = session.execute(
        select(Investor).where(Investor.unit_id.in_({u.id for u in units}), or_(*conditions))
    ).scalars().all() if conditions else []
    by_name = {(i.unit_id, i.name): i for i in found}
    by_uscc = {(i.unit_id, i.uscc): i for i in found if i.uscc}

    investors: dict[str, Investor] = {}
    created: list[tuple[Investor, dict]] = []
    for name, row, unit in zip(names, rows, units):
        code = uscc_normalize(str(row["uscc"])) if row.get("uscc") is not None else None
        investor = by_name.get((unit.id, name)) or (by_uscc.get((unit.id, code)) if code else None)
        if investor is None:
            region = ref.regions[row["source_region"]]
            country = _text("investor", row, "country", max_len=40)
            if region.is_foreign and not country:
                raise SeedError(f"{_label('investor', row)}: a foreign investor needs a country")
            investor = Investor(
                name=name,
                uscc=code,
                source_region=region,
                country=country or "中国",
                introduction=_text("investor", row, "introduction"),
                unit=unit,
            )
            created.append((investor, row))
        investors[name] = investor
    session.add_all(i for i, _ in created)
    session.flush()
    for investor, row in created:
        record(None, ACTION, investor, {
            "name": investor.name, "uscc": investor.uscc, "source_region": investor.source_region.name,
            "country": investor.country, "unit": investor.unit.name, **_provenance(row),
        })
    counts["investors"] += len(created)
    return investors


PROJECT_REQUIRED = ("name", "investor", "unit", "industry", "stage", "contracted_investment")
PROJECT_OPTIONAL = (
    "platform", "signed_on", "fixed_asset_investment", "foreign_investment_usd", "funds_in_place",
    "land_area_mu", "content", "expected_output", "expected_tax", "expected_jobs",
    "is_provincial_major", "is_qianxiang_wanyi", "is_yrd_major", "owner", "contact_phone",
    # stage evidence and side-state details (see workflow/stages.py STAGE_REQUIREMENTS)
    "company_uscc", "registered_capital", "land_certificate_no", "construction_permit_no",
    "annual_output", "paused_from_stage", "expected_resume_on", "status_reason",
    "milestones",
)


def _milestones(row: dict) -> dict[str, tuple[date | None, date | None]]:
    """``milestones: {stage: [planned, actual]}`` (either may be ~), in main-line order."""
    raw = row.get("milestones") or {}
    if not isinstance(raw, dict):
        raise SeedError(f"{_label('project', row)}: milestones must be a mapping")
    out: dict[str, tuple[date | None, date | None]] = {}
    for code in MILESTONE_CODES:
        if code not in raw:
            continue
        pair = raw[code]
        if not isinstance(pair, list) or len(pair) != 2:
            raise SeedError(f"{_label('project', row)}: milestone {code} must be [planned, actual]")
        planned = _date("project", {"name": row["name"], "planned": pair[0]}, "planned")
        actual = _date("project", {"name": row["name"], "actual": pair[1]}, "actual")
        out[code] = (planned, actual)
    unknown = set(raw) - set(out)
    if unknown:
        raise SeedError(f"{_label('project', row)}: milestones for unknown stage(s) {', '.join(map(str, unknown))}")
    return out


def _check_progress(row: dict, stage: str, signed_on: date | None,
                    milestones: dict[str, tuple[date | None, date | None]]) -> None:
    """The stage, its side-state details, the evidence and the milestones agree."""
    label = _label("project", row)
    paused_from = row.get("paused_from_stage")
    if stage == "paused":
        if paused_from not in MAIN_CODES or paused_from == "negotiating":
            raise SeedError(f"{label}: a paused project needs paused_from_stage (a signed-or-later stage)")
        if not row.get("expected_resume_on") or not row.get("status_reason"):
            raise SeedError(f"{label}: a paused project needs expected_resume_on and status_reason")
    elif paused_from is not None:
        raise SeedError(f"{label}: paused_from_stage only goes with stage paused")
    if stage == "terminated" and not row.get("status_reason"):
        raise SeedError(f"{label}: a terminated project needs status_reason")

    reached_actual = [code for code, (_, actual) in milestones.items() if actual is not None]
    if stage == "terminated":
        reached = reached_actual[-1] if reached_actual else "signed"
    else:
        reached = paused_from if stage == "paused" else stage
    position = MAIN_CODES.index(reached) if reached in MAIN_CODES else -1
    for code in reached_actual:
        if MAIN_CODES.index(code) > position:
            raise SeedError(f"{label}: milestone {code} has an actual date but the project is at {stage}")
    previous = None
    for code in reached_actual:
        actual = milestones[code][1]
        if previous is not None and actual < previous:
            raise SeedError(f"{label}: milestone {code} is dated before the stage before it")
        previous = actual
    if signed_on is not None and "signed" in milestones and milestones["signed"][1] not in (None, signed_on):
        raise SeedError(f"{label}: the signed milestone differs from signed_on")

    def reached_at_least(code: str) -> bool:
        return position >= MAIN_CODES.index(code)

    needed = []
    if reached_at_least("registered"):
        needed += ["company_uscc", "registered_capital"]
    if reached_at_least("land_secured") and "land_secured" in milestones:
        needed += ["land_area_mu", "land_certificate_no"]
    if reached_at_least("construction"):
        needed += ["construction_permit_no"]
    if reached_at_least("full_capacity"):
        needed += ["annual_output"]
    missing = [f for f in needed if row.get(f) in (None, "")]
    if missing:
        raise SeedError(f"{label}: stage {reached} needs {', '.join(missing)}")
    if row.get("company_uscc") is not None and not uscc_is_valid(str(row["company_uscc"])):
        raise SeedError(f"{label}: invalid company_uscc {row['company_uscc']!r}")


def _ceremony_of(data: dict) -> dict[str, dict]:
    """Project name → the ceremony row listing it (a project is signed at most once)."""
    out: dict[str, dict] = {}
    for ceremony in _rows(data, "ceremonies"):
        _check("ceremony", ceremony, ("name", "held_on", "unit", "signings"), ("venue",))
        if not isinstance(ceremony["signings"], list):
            raise SeedError(f"{_label('ceremony', ceremony)}: signings must be a list")
        for signing in ceremony["signings"]:
            _check("signing", signing, ("project",), ("signatory_local", "signatory_investor"))
            name = signing["project"]
            if name in out:
                raise SeedError(f"project {name}: listed in two ceremonies (or twice in one)")
            out[name] = ceremony
    return out


def _project_input(row: dict, name: str, investor: Investor, unit: Unit, industry: Industry,
                   platform: Platform | None, owner: User | None, signed_on: date | None, stage: str,
                   choices: dict[str, Choices]) -> dict[str, Any]:
    """A seed project's typed fields, validated by ``ProjectFields`` (SeedError naming the row)."""
    data = {key: row.get(key) for key in (
        "contracted_investment", "fixed_asset_investment", "foreign_investment_usd", "funds_in_place",
        "land_area_mu", "content", "expected_output", "expected_tax", "expected_jobs", "contact_phone",
        "is_provincial_major", "is_qianxiang_wanyi", "is_yrd_major")}
    data.update(name=name, investor_name=investor.name, unit_id=unit.id, industry_id=industry.id,
                platform_id=platform.id if platform else None, owner_id=owner.id if owner else None,
                signed_on=signed_on)
    try:
        values = validate(ProjectFields, data, context={"choices": choices, "current_stage": stage})
    except InputError as err:
        raise SeedError(f"{_label('project', row)}: " + "; ".join(f"{k}: {v}" for k, v in err.errors.items())) from None
    return values.project_values()


def _load_projects(data: dict, ref: _Ref, users: dict[str, User], investors: dict[str, Investor],
                   counts: dict[str, int]) -> dict[str, Project]:
    session = db.session
    rows = _rows(data, "projects")
    ceremony_of = _ceremony_of(data)
    for row in rows:
        _check("project", row, PROJECT_REQUIRED, PROJECT_OPTIONAL)
    names = [_text("project", r, "name", max_len=100) for r in rows]
    _unique("project", names)
    unknown = set(ceremony_of) - set(names)
    if unknown:
        raise SeedError(f"ceremonies: unknown project(s) {', '.join(sorted(unknown))}")

    # Default owner: the first staff user (in file order) of the project's unit, else of the city.
    staff_of: dict[int, User] = {}
    for user in users.values():
        if user.role == Role.staff.value and user.is_active_user:
            staff_of.setdefault(user.unit.id, user)

    existing = {
        (p.unit_id, p.name): p for p in session.execute(select(Project).where(Project.name.in_(names))).scalars()
    } if names else {}
    choices = {
        "unit_id": Choices.of(ref.units.values()), "industry_id": Choices.of(ref.industries.values()),
        "platform_id": Choices.of(ref.platforms.values()), "source_region_id": Choices.of(ref.regions.values()),
        "owner_id": Choices.of(users.values(), label=lambda u: u.username, name_columns=("username",)),
    }

    projects: dict[str, Project] = {}
    created: list[tuple[Project, dict]] = []
    plans: dict[str, dict[str, tuple[date | None, date | None]]] = {}
    for name, row in zip(names, rows):
        project = existing.get((ref.unit("project", row).id, name))  # names are unique per unit
        if project is not None:
            projects[name] = project
            continue
        kind = "project"
        stage = row["stage"]
        if stage not in STAGE_CODES:
            raise SeedError(f"{_label(kind, row)}: unknown stage {stage!r}")
        unit = ref.unit(kind, row)
        investor = investors.get(row["investor"])
        if investor is None:
            raise SeedError(f"{_label(kind, row)}: unknown investor {row['investor']!r}")
        if investor.unit_id != unit.id:
            raise SeedError(f"{_label(kind, row)}: investor {investor.name!r} belongs to {investor.unit.name}, "
                            f"not {unit.name} (each unit keeps its own investor records)")
        industry = ref.industries.get(row["industry"])
        if industry is None:
            raise SeedError(f"{_label(kind, row)}: unknown industry {row['industry']!r}")
        platform = None
        if row.get("platform"):
            platform = ref.platforms.get(row["platform"])
            if platform is None:
                raise SeedError(f"{_label(kind, row)}: unknown platform {row['platform']!r}")
            if platform.unit_id is not None and platform.unit_id != unit.id:
                raise SeedError(f"{_label(kind, row)}: platform {platform.name} lies in another unit")
        ceremony = ceremony_of.get(name)
        signed_on = _date(kind, row, "signed_on")
        if ceremony is not None:
            held_on = _date("ceremony", ceremony, "held_on")
            if signed_on is not None and signed_on != held_on:
                raise SeedError(f"{_label(kind, row)}: signed_on differs from its ceremony's date")
            signed_on = held_on
        if stage == "negotiating":
            if signed_on is not None:
                raise SeedError(f"{_label(kind, row)}: a project in talks has no signing date")
        elif signed_on is None:
            raise SeedError(f"{_label(kind, row)}: signed_on is required from stage 'signed' on")
        if row.get("owner"):
            owner = users.get(row["owner"])
            if owner is None:
                raise SeedError(f"{_label(kind, row)}: unknown owner {row['owner']!r}")
        else:
            owner = staff_of.get(unit.id) or staff_of.get(ref.city.id)
        milestones = _milestones(row)
        _check_progress(row, stage, signed_on, milestones)
        # The fields a user could type go through the same input schema as the form and the API.
        values = _project_input(row, name, investor, unit, industry, platform, owner, signed_on, stage, choices)
        project = Project(
            **values,
            investor=investor,
            stage=stage,
            company_uscc=uscc_normalize(str(row["company_uscc"])) if row.get("company_uscc") else None,
            registered_capital=_money(kind, row, "registered_capital"),
            land_certificate_no=_text(kind, row, "land_certificate_no", max_len=60) or None,
            construction_permit_no=_text(kind, row, "construction_permit_no", max_len=60) or None,
            annual_output=_money(kind, row, "annual_output"),
            paused_from_stage=row.get("paused_from_stage"),
            expected_resume_on=_date(kind, row, "expected_resume_on"),
            status_reason=_text(kind, row, "status_reason"),
        )
        created.append((project, row))
        projects[name] = project
        plans[name] = milestones

    session.add_all(p for p, _ in created)
    session.flush()
    session.add_all(
        Milestone(project_id=project.id, stage=code, planned_on=planned, actual_on=actual)
        for project, _ in created
        for code, (planned, actual) in plans[project.name].items()
    )
    counts["milestones"] += sum(len(plans[p.name]) for p, _ in created)
    session.flush()
    _start_progress([p for p, _ in created], plans)
    for project, row in created:
        ceremony = ceremony_of.get(project.name)
        record(None, ACTION, project, {
            "name": project.name, "investor": project.investor.name, "unit": project.unit.name,
            "industry": project.industry.name, "stage": project.stage, "signed_on": project.signed_on,
            "contracted_investment": project.contracted_investment,
            "owner": project.owner.username if project.owner else None,
            "ceremony": ceremony["name"] if ceremony else None,
            "milestones": len(plans[project.name]),
            **_provenance(row),
        })
    counts["projects"] += len(created)
    return projects


TARGET_FIGURES = ("projects_10yi", "projects_10yi_yrd", "investment", "started", "funds")


def _load_targets(data: dict, ref: _Ref, counts: dict[str, int]) -> None:
    """Yearly unit targets, through the targets operation (its checks, an audit entry);
    a unit's existing target for the year is left as it is."""
    from tracker.targets.models import UnitTarget
    from tracker.targets.operations import TargetError, save_target

    for row in _rows(data, "targets"):
        _check("target", row, ("unit", "year", *TARGET_FIGURES), ("sources", "invented"))
        unit = ref.unit("target", row)
        year = row["year"]
        if db.session.execute(select(UnitTarget.id).where(UnitTarget.unit_id == unit.id,
                                                          UnitTarget.year == year)).first():
            continue
        try:
            save_target(None, unit, year, {name: row[name] for name in TARGET_FIGURES}, None)
        except TargetError as err:
            raise SeedError(f"{_label('target', row)}: {err}") from None
        counts["targets"] += 1


def _load_ceremonies(data: dict, ref: _Ref, projects: dict[str, Project], counts: dict[str, int]) -> None:
    session = db.session
    rows = _rows(data, "ceremonies")  # checked by _ceremony_of
    names = [_text("ceremony", r, "name", max_len=120) for r in rows]
    _unique("ceremony", names)
    existing = {  # names are unique per host unit
        (c.unit_id, c.name): c for c in session.execute(select(Ceremony).where(Ceremony.name.in_(names))).scalars()
    } if names else {}
    project_ids = [p.id for p in projects.values()]
    signed = set(session.execute(
        select(CeremonySigning.project_id).where(CeremonySigning.project_id.in_(project_ids))
    ).scalars()) if project_ids else set()

    for name, row in zip(names, rows):
        ceremony = existing.get((ref.unit("ceremony", row).id, name))
        is_new = ceremony is None
        if is_new:
            ceremony = Ceremony(
                name=name,
                held_on=_date("ceremony", row, "held_on"),
                venue=_text("ceremony", row, "venue", max_len=120),
                unit=ref.unit("ceremony", row),
            )
            session.add(ceremony)
        added: list[CeremonySigning] = []
        for position, item in enumerate(row["signings"], start=1):
            project = projects[item["project"]]
            if project.id in signed:
                continue  # already signed (here on an earlier run, or elsewhere): counted once
            signing = CeremonySigning(
                project=project,
                position=position,
                signatory_local=_text("signing", item, "signatory_local", max_len=60),
                signatory_investor=_text("signing", item, "signatory_investor", max_len=60),
            )
            ceremony.signings.append(signing)
            signed.add(project.id)
            added.append(signing)
        counts["signings"] += len(added)
        if is_new:
            counts["ceremonies"] += 1
            record(None, ACTION, ceremony, {
                "name": ceremony.name, "held_on": ceremony.held_on, "venue": ceremony.venue,
                "unit": ceremony.unit.name, "signings": [s.project.name for s in added],
                **_provenance(row),
            })
        else:
            session.flush()
            for signing in added:  # late additions to an existing ceremony
                record(None, ACTION, signing, {
                    "ceremony": ceremony.name, "project": signing.project.name,
                    "position": signing.position, **_provenance(row),
                }, project_id=signing.project_id)


def _start_progress(projects: list[Project], plans: dict[str, dict[str, tuple[date | None, date | None]]]) -> None:
    """The seeded projects' stage history (from their milestones) and lights, and their
    funds in place as records: the seed gives a total, which arrives in equal parts on the
    dates the project reached registration and each later stage (at the signing if it got
    no further), so funds as of a past date tell the story the stages tell."""
    from tracker.funds.models import FundsRecord
    from tracker.progress import history, lights

    ids = [p.id for p in projects]
    history.backfill(db.session, ids)
    lights.refresh(db.session, ids)
    for p in projects:
        if not p.funds_in_place or p.funds_in_place <= 0:
            continue
        days = sorted({actual for code, (_planned, actual) in plans[p.name].items()
                       if actual and code != "signed"}) or [p.signed_on or today_local()]
        share = (p.funds_in_place / len(days)).quantize(Decimal("0.01"))
        amounts = [share] * (len(days) - 1) + [p.funds_in_place - share * (len(days) - 1)]
        db.session.add_all(FundsRecord(project_id=p.id, received_on=day, amount=amount, note="演示数据：分笔到位")
                           for day, amount in zip(days, amounts, strict=True) if amount > 0)
    for p in projects:  # the Core updates above bypassed the ORM objects
        db.session.expire(p, ["stage_since", "due_on", "red_on"])


def load_demo(seed_dir: str | Path | None = None) -> dict[str, int]:
    """Reference lists plus demo users, investors, projects and ceremonies (seeds/demo.yaml).

    Returns how many of each kind were created (and ``updated`` reference rows); a second
    run creates nothing. Flushes, never commits: the caller commits.
    """
    counts, ref = _load_reference(seed_dir)
    data = _read("demo.yaml", seed_dir)
    counts.update({"users": 0, "investors": 0, "projects": 0, "milestones": 0, "ceremonies": 0,
                   "signings": 0, "targets": 0})
    users = _load_users(data, ref, counts)
    investors = _load_investors(data, ref, counts)
    projects = _load_projects(data, ref, users, investors, counts)
    _load_ceremonies(data, ref, projects, counts)
    _load_targets(data, ref, counts)
    db.session.flush()
    order = ("units", "industries", "source_regions", "platforms", "users", "investors",
             "projects", "milestones", "ceremonies", "signings", "targets", "updated")
    return {key: counts[key] for key in order}
