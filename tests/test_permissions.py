"""The permission matrix: every route × role × own/other unit → status code.

A county user asking for another county's record gets 404 (its existence is not revealed);
a role that may not act gets 403; anonymous users are sent to the login page. The last test
fails when a route exists that this matrix does not cover, so new routes must be added here.
"""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from tests.factories import make_investor, make_project, make_user, uscc
from tracker.audit.models import AuditEntry
from tracker.ceremonies.operations import add_project, create_ceremony
from tracker.funds.operations import add_funds
from tracker.projects.models import Industry, Investor, Project
from tracker.workflow.attachments import store_upload

ROLES = ("staff", "manager", "leader", "admin")
# Users: role @ unit. "hy" is the project's own county, "city" the city bureau.
USERS = [f"{r}@hy" for r in ROLES[:3]] + [f"{r}@city" for r in ROLES]

OK, REDIRECT, FORBIDDEN, MISSING = 200, 302, 403, 404


def _expect(allowed_roles, success=OK):
    return {role: (success if role in allowed_roles else FORBIDDEN) for role in ROLES}


VIEW = ("staff", "manager", "leader")
EDIT = ("staff", "manager")
MANAGE = ("manager",)
ADMIN = ("admin",)

# (method, url template, expected by role, record-bound?)
# Templates use {project}, {investor}, {user}, {ceremony}, {signing}, {attachment} for ids of
# the own-unit record ("other" swaps in the other county's).
MATRIX = [
    ("GET", "/projects/", _expect(VIEW), False),
    ("GET", "/projects/new", _expect(EDIT), False),
    ("GET", "/projects/{project}", _expect(VIEW), True),
    ("GET", "/projects/{project}/edit", _expect(EDIT), True),
    ("POST", "/projects/{project}/archive", _expect(MANAGE, REDIRECT), True),
    ("POST", "/projects/{project}/restore", _expect(MANAGE, REDIRECT), True),
    ("GET", "/investors/", _expect(VIEW), False),
    ("GET", "/investors/new", _expect(EDIT), False),
    ("GET", "/investors/{investor}", _expect(VIEW), True),
    ("GET", "/investors/{investor}/edit", _expect(EDIT), True),
    # An empty form is refused (422) — but only after scope: another county's investor is 404.
    ("POST", "/investors/new", _expect(EDIT, 422), False),
    ("POST", "/investors/{investor}/edit", _expect(EDIT, 422), True),
    ("GET", "/admin/users", _expect(ADMIN), False),
    ("GET", "/admin/users/new", _expect(ADMIN), False),
    ("GET", "/admin/users/{user}/edit", _expect(ADMIN), False),
    ("POST", "/admin/users/{user}/deactivate", _expect(ADMIN, REDIRECT), False),
    ("POST", "/admin/users/{user}/activate", _expect(ADMIN, REDIRECT), False),
    ("POST", "/admin/users/{user}/password", _expect(ADMIN, 422), False),  # empty form
    ("POST", "/admin/users/{user}/password/generate", _expect(ADMIN, OK), False),  # shown once
    # One's own password: every signed-in role (no record in the URL); an empty form is 422.
    ("GET", "/account/password", {role: OK for role in ROLES}, False),
    ("POST", "/account/password", {role: 422 for role in ROLES}, False),
    ("GET", "/admin/reference", _expect(ADMIN), False),
    ("GET", "/admin/reference/{kind}", _expect(ADMIN), False),
    ("GET", "/admin/reference/{kind}/new", _expect(ADMIN), False),
    ("GET", "/admin/reference/{kind}/{row}/edit", _expect(ADMIN), False),
    ("POST", "/admin/reference/{kind}/{row}/retire", _expect(ADMIN, REDIRECT), False),
    ("POST", "/admin/reference/{kind}/{row}/activate", _expect(ADMIN, REDIRECT), False),
    ("POST", "/admin/reference/{kind}/{row}/delete", _expect(ADMIN, REDIRECT), False),
    # Workflow screens (tracker/workflow/views.py). With no pending request a decision or a
    # withdrawal is a 409 ("already handled"); an empty request form is a 422.
    ("GET", "/projects/{project}/stage-request", _expect(EDIT), True),
    ("POST", "/projects/{project}/stage-request", _expect(EDIT, 422), True),
    ("POST", "/projects/{project}/stage-request/withdraw", _expect(EDIT, 409), True),
    ("POST", "/projects/{project}/stage-request/approve", _expect(MANAGE, 409), True),
    ("POST", "/projects/{project}/stage-request/reject", _expect(MANAGE, 409), True),
    ("GET", "/projects/{project}/milestones", _expect(EDIT), True),
    ("POST", "/projects/{project}/milestones", _expect(EDIT, REDIRECT), True),
    ("GET", "/approvals", _expect(MANAGE), False),
    ("GET", "/inbox", _expect(EDIT), False),
    ("POST", "/inbox/read", _expect(EDIT, REDIRECT), False),
    # Evidence downloads follow the project's visibility.
    ("GET", "/attachments/{attachment}", _expect(VIEW), True),
    # Briefs (tracker/briefs/views.py): whoever may see the project may print it.
    ("GET", "/projects/{project}/brief", _expect(VIEW), True),
    ("GET", "/projects/{project}/brief.pdf", _expect(VIEW), True),
    # Ceremonies: viewed like projects (and by the units with a project in them: see
    # test_matrix_guest_ceremony), managed by managers of the host unit. The POST
    # buttons carry no version here, so they end in the "changed meanwhile" redirect and
    # change nothing; an empty add-project form is a 422.
    ("GET", "/ceremonies/", _expect(VIEW), False),
    ("GET", "/ceremonies/new", _expect(MANAGE), False),
    ("GET", "/ceremonies/{ceremony}", _expect(VIEW), True),
    ("GET", "/ceremonies/{ceremony}/edit", _expect(MANAGE), True),
    ("POST", "/ceremonies/{ceremony}/delete", _expect(MANAGE, REDIRECT), True),
    ("POST", "/ceremonies/{ceremony}/projects", _expect(MANAGE, 422), True),
    ("POST", "/ceremonies/{ceremony}/order", _expect(MANAGE, REDIRECT), True),
    ("GET", "/ceremonies/{ceremony}/projects/{signing}/edit", _expect(MANAGE), True),
    ("POST", "/ceremonies/{ceremony}/projects/{signing}/move", _expect(MANAGE, REDIRECT), True),
    ("POST", "/ceremonies/{ceremony}/projects/{signing}/remove", _expect(MANAGE, REDIRECT), True),
    ("POST", "/ceremonies/{ceremony}/rounds", _expect(MANAGE, REDIRECT), True),
    # The booklet and order-sheet buttons queue a job and redirect to its page.
    ("POST", "/ceremonies/{ceremony}/booklet", _expect(VIEW, REDIRECT), True),
    ("POST", "/ceremonies/{ceremony}/order-sheet", _expect(VIEW, REDIRECT), True),
    # -- ledger (issue 11): export with the list's scope; import for those who create projects.
    ("GET", "/projects/export.xlsx", _expect(VIEW), False),
    ("GET", "/projects/export.csv", _expect(VIEW), False),
    ("GET", "/projects/import", _expect(EDIT), False),
    ("POST", "/projects/import/preview", _expect(EDIT, 422), False),  # no file
    ("GET", "/projects/import/template.xlsx", _expect(EDIT), False),
    # An upload's token is its uploader's only: one that is not theirs (here not a token at all) is 404.
    ("GET", "/projects/import/<token>", _expect(EDIT, MISSING), False),
    ("GET", "/projects/import/<token>/errors.xlsx", _expect(EDIT, MISSING), False),
    ("POST", "/projects/import/<token>/commit", _expect(EDIT, MISSING), False),
    # Leaders' numbers (issue 10). Each owner adds its routes in its own block below.
    ("GET", "/today/", {role: OK for role in ROLES}, False),
    ("GET", "/reports/", _expect(("manager", "leader")), False),
    ("GET", "/targets/", _expect(VIEW), False),
    # -- progress (lights, deadlines, stage history)
    ("GET", "/admin/deadlines", _expect(ADMIN), False),
    ("POST", "/admin/deadlines", _expect(ADMIN, 422), False),  # an empty form
    # -- funds
    ("GET", "/projects/{project}/funds", _expect(VIEW), True),
    ("POST", "/projects/{project}/funds", _expect(EDIT, 422), True),  # an empty form
    ("POST", "/projects/{project}/funds/{funds_record}/delete", _expect(EDIT, REDIRECT), True),
    # -- targets
    ("GET", "/targets/{unit}/{year}", _expect(MANAGE), True),  # the project's unit's targets
    ("POST", "/targets/{unit}/{year}", _expect(MANAGE, 422), True),  # an empty form
    # -- reports
    # The dashboard with every filter (tracker/reports/views.py); another county's unit is dropped, not 404.
    ("GET", "/reports/?year=2024&quarter=4&as_of=2025-01-31&unit=1&industry=1&region=yrd&size=10",
     _expect(("manager", "leader")), False),
    # The 通报 form (tracker/reports/bulletin_views.py); an empty form is refused (422), no job queued.
    ("GET", "/reports/export.xlsx", _expect(("manager", "leader")), False),
    ("GET", "/reports/bulletin/", _expect(("manager", "leader")), False),
    ("POST", "/reports/bulletin/", _expect(("manager", "leader"), 422), False),
]

# Routes every signed-in role may use, or that are public.
OPEN_ROUTES = {"/login", "/logout", "/healthz", "/", "/favicon.ico", "/language/<code>", "/static/<path:filename>",
               # A job is its owner's only (anyone else: 404), whatever the role: tests/test_jobs.py.
               "/jobs/<int:job_id>", "/jobs/<int:job_id>/status", "/jobs/<int:job_id>/download",
               "/jobs/<int:job_id>/cancel"}


@pytest.fixture()
def world(db, ref):
    users = {}
    for spec in USERS:
        role, unit = spec.split("@")
        users[spec] = make_user(role, ref.city if unit == "city" else ref.huangyan)
    own = make_project(unit=ref.huangyan, name="黄岩项目")
    other = make_project(unit=ref.linhai, name="临海项目")
    target = make_user("staff", ref.huangyan, username="target_user")
    spare = Industry(name="待删除产业", group="其他", sort_order=99)
    db.session.add(spare)
    db.session.flush()
    ceremonies, signings, attachments, funds = {}, {}, {}, {}
    uploader = users["staff@city"]
    for which, project in (("own", own), ("other", other)):
        ceremony = create_ceremony(users["manager@city"], name=f"{project.name}签约仪式",
                                   held_on=date(2024, 12, 20), unit=project.unit)
        signings[which] = add_project(users["manager@city"], ceremony, project)
        ceremonies[which] = ceremony
        attachments[which] = store_upload(uploader, project, None,
                                          FileStorage(io.BytesIO(b"%PDF-1.4 evidence"), "a.pdf"))
        funds[which] = add_funds(uploader, project, date(2024, 12, 21), Decimal("1000"), "", "")
    db.session.flush()
    return {"users": users, "own": own, "other": other, "ref": ref, "target_user": target, "spare_industry": spare,
            "ceremonies": ceremonies, "signings": signings, "attachments": attachments, "funds": funds}


def _ids(world, which):
    project = world[which]
    return {"project": project.id, "investor": project.investor_id, "user": world["target_user"].id,
            "kind": "industries", "row": world["spare_industry"].id,
            "ceremony": world["ceremonies"][which].id, "signing": world["signings"][which].id,
            "attachment": world["attachments"][which].id, "funds_record": world["funds"][which].id,
            "unit": project.unit_id, "year": 2024}


def _cases():
    for method, url, expected, bound in MATRIX:
        for spec in USERS:
            role, unit = spec.split("@")
            yield pytest.param(method, url, spec, "own", expected[role], id=f"{method} {url} {spec} own")
            if bound:
                other_status = expected[role] if unit == "city" else MISSING
                yield pytest.param(method, url, spec, "other", other_status, id=f"{method} {url} {spec} other")


@pytest.mark.parametrize("method,url,spec,which,status", list(_cases()))
def test_matrix(client, login_as, world, method, url, spec, which, status):
    login_as(world["users"][spec])
    resp = client.open(url.format(**_ids(world, which)), method=method)
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]


# A county's project signed at a city-hosted ceremony ("guest"): the county's users see that
# ceremony's page, but manage nothing in it (403: it exists for them), and the whole booklet
# and order sheet — the other units' projects in full — are not theirs to print (403). The
# city keeps its usual rights. tests/test_ceremony_visibility.py checks what the page shows.
GUEST_VIEW = {("GET", "/ceremonies/{ceremony}")}


@pytest.fixture()
def guest(world, db):
    ref, manager = world["ref"], world["users"]["manager@city"]
    mine = make_project(unit=ref.huangyan, name="黄岩项目（市级仪式）")
    theirs = make_project(unit=ref.linhai, name="临海项目（市级仪式）")
    ceremony = create_ceremony(manager, name="市级签约仪式", held_on=date(2024, 12, 21), unit=ref.city)
    signing = add_project(manager, ceremony, mine)
    add_project(manager, ceremony, theirs)
    db.session.flush()
    return {**_ids(world, "own"), "ceremony": ceremony.id, "signing": signing.id}


def _guest_cases():
    for method, url, expected, _bound in MATRIX:
        if not url.startswith("/ceremonies/{ceremony}"):
            continue
        for spec in USERS:
            role, unit = spec.split("@")
            status = expected[role] if unit == "city" or (method, url) in GUEST_VIEW else FORBIDDEN
            yield pytest.param(method, url, spec, status, id=f"{method} {url} {spec} guest")


@pytest.mark.parametrize("method,url,spec,status", list(_guest_cases()))
def test_matrix_guest_ceremony(client, login_as, world, guest, method, url, spec, status):
    login_as(world["users"][spec])
    resp = client.open(url.format(**guest), method=method)
    assert resp.status_code == status, resp.get_data(as_text=True)[:500]


@pytest.mark.parametrize("method,url", [(m, u) for m, u, _e, _b in MATRIX])
def test_anonymous_is_sent_to_login(client, world, method, url):
    resp = client.open(url.format(**_ids(world, "own")), method=method)
    assert resp.status_code in (302, 401)
    assert "/login" in resp.headers.get("Location", "")


def test_every_route_is_in_the_matrix(app):
    covered = set()
    for _m, url, _e, _b in MATRIX:
        covered.add(url.replace("{project}", "<int:project_id>").replace("{investor}", "<int:investor_id>")
                    .replace("{user}", "<int:user_id>").replace("{ceremony}", "<int:ceremony_id>")
                    .replace("{kind}", "<kind>").replace("{row}", "<int:row_id>")
                    .replace("{signing}", "<int:signing_id>").replace("{attachment}", "<int:attachment_id>")
                    .replace("{funds_record}", "<int:record_id>")
                    .replace("{unit}", "<int:unit_id>").replace("{year}", "<int:year>"))
    # The JSON API (token auth) has its own matrix in tests/test_api.py.
    missing = sorted(
        r.rule for r in app.url_map.iter_rules()
        if r.rule not in covered and r.rule not in OPEN_ROUTES and not r.rule.startswith("/api/")
    )
    assert not missing, f"routes without a permission-matrix entry: {missing}"


def test_deactivated_user_is_logged_out(client, login_as, world, db):
    user = world["users"]["staff@hy"]
    login_as(user)
    assert client.get("/projects/").status_code == 200
    from tracker.auth.operations import set_active

    set_active(None, user, False)
    db.session.commit()
    resp = client.get("/projects/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


# --- Investors across units ---------------------------------------------------------------------
# Each unit keeps its own investor records: a project filed under a unit names (and may fill in
# the USCC of) only that unit's investor; naming another unit's company records it anew in the
# project's unit. Whoever files — the county's own staff or the city's — the other unit's record
# is neither shown nor changed.


def _new_project(ref, investor_name, code):
    return {
        "name": "跨单位投资方测试项目", "investor_name": investor_name, "investor_uscc": code,
        "source_region_id": ref.region.id, "investor_country": "", "industry_id": ref.industry.id,
        "unit_id": ref.huangyan.id, "platform_id": "", "owner_id": "", "stage": "signed",
        "signed_on": "2024-12-20", "contracted_investment": "1000", "fixed_asset_investment": "",
        "foreign_investment_usd": "", "funds_in_place": "", "land_area_mu": "", "content": "",
        "expected_output": "", "expected_tax": "", "expected_jobs": "",
    }


@pytest.mark.parametrize("spec", [s for s in USERS if s.split("@")[0] in EDIT])
@pytest.mark.parametrize("named", ["own", "other"])
def test_a_project_names_only_its_own_units_investor(client, login_as, world, db, spec, named):
    ref = world["ref"]
    investor = make_investor(unit=ref.huangyan if named == "own" else ref.linhai, name=f"{named}单位投资方",
                             uscc=None, introduction="只给本单位看的简介")
    user = login_as(world["users"][spec])
    code = uscc()
    resp = client.post("/projects/new", data=_new_project(ref, investor.name, code))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    project = db.session.execute(select(Project).where(Project.name == "跨单位投资方测试项目")).scalar_one()
    assert project.investor.unit_id == ref.huangyan.id
    db.session.refresh(investor)
    if named == "own":
        assert project.investor_id == investor.id and investor.uscc == code
    else:
        assert project.investor_id != investor.id and project.investor.uscc == code
        assert investor.uscc is None
        assert db.session.execute(select(AuditEntry).where(
            AuditEntry.object_type == "investor", AuditEntry.object_id == investor.id,
            AuditEntry.actor_id == user.id)).first() is None
        assert "只给本单位看的简介" not in client.get(f"/projects/{project.id}").get_data(as_text=True)


@pytest.mark.parametrize("spec", USERS)
def test_another_units_investor_is_seen_and_changed_by_the_city_only(client, login_as, world, db, spec):
    role, unit = spec.split("@")
    theirs = world["other"].investor
    login_as(world["users"][spec])
    listing = client.get("/investors/?q=" + theirs.name)
    if role in VIEW:
        assert (f'href="/investors/{theirs.id}"' in listing.get_data(as_text=True)) == (unit == "city")
    form = {"name": "改名公司", "uscc": theirs.uscc, "source_region_id": theirs.source_region_id, "country": "",
            "unit_id": theirs.unit_id, "introduction": "", "version": theirs.version_id}
    resp = client.post(f"/investors/{theirs.id}/edit", data=form)
    expected = (302 if role in EDIT else 403) if unit == "city" else MISSING
    assert resp.status_code == expected
    renamed = db.session.execute(select(Investor.name).where(Investor.id == theirs.id)).scalar_one()
    assert (renamed == "改名公司") == (expected == 302)
