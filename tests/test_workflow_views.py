"""The workflow screens over HTTP: request form, approval queue, inbox, milestones, timeline."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from tests.factories import make_project, make_user, uscc
from tracker.workflow import operations as wf
from tracker.workflow.models import Attachment, Milestone, Notification, StageRequest


@pytest.fixture()
def people(db, ref):
    return {
        "staff": make_user("staff", ref.huangyan, display_name="黄岩专员"),
        "manager": make_user("manager", ref.huangyan, display_name="黄岩科长"),
        "manager2": make_user("manager", ref.huangyan, display_name="黄岩副科长"),
        "leader": make_user("leader", ref.huangyan, display_name="黄岩领导"),
        "other_manager": make_user("manager", ref.linhai, display_name="临海科长"),
    }


def text(resp) -> str:
    return resp.get_data(as_text=True)


def pending(db, project) -> StageRequest | None:
    db.session.expire_all()
    return db.session.execute(
        select(StageRequest).where(StageRequest.project_id == project.id, StageRequest.status == "pending")
    ).scalar_one_or_none()


def submit(client, project, to_stage, actual_date="2024-07-01", **fields):
    data = {"to_stage": to_stage, "actual_date": actual_date, "comment": fields.pop("comment", "")}
    data.update(fields)
    return client.post(f"/projects/{project.id}/stage-request", data=data)


def decide(client, project, req, verdict="approve", comment="", next_="queue"):
    return client.post(f"/projects/{project.id}/stage-request/{verdict}",
                       data={"request_id": str(req.id), "comment": comment, "next": next_})


def header_count(html: str, label: str) -> int:
    """The number in the nav badge after ``label`` (0 when there is no badge)."""
    m = re.search(re.escape(label) + r'\s*<span class="count">(\d+)', html)
    return int(m.group(1)) if m else 0


def request_and_approve(client, login_as, db, people, project, to_stage, **fields):
    login_as(people["staff"])
    resp = submit(client, project, to_stage, **fields)
    assert resp.status_code == 302, text(resp)[:2000]
    req = pending(db, project)
    assert req is not None and req.to_stage == to_stage
    login_as(people["manager"])
    resp = decide(client, project, req, "approve", "同意")
    assert resp.status_code == 302, text(resp)[:2000]
    db.session.expire_all()
    assert project.stage == to_stage
    return req


def test_walk_signed_to_full_capacity_with_rejection_and_correction(client, login_as, db, people):
    project = make_project(stage="signed", name="清陶固态锂电池项目（测试）")
    staff, manager = people["staff"], people["manager"]

    # Staff opens the form: the next stage is preselected with its required fields.
    login_as(staff)
    resp = client.get(f"/projects/{project.id}/stage-request")
    assert resp.status_code == 200
    page = text(resp)
    assert "项目公司统一社会信用代码" in page and "注册资本（万元）" in page
    assert 'enctype="multipart/form-data"' in page and 'name="attachments"' in page

    # Bad input: messages beside the fields, input kept, nothing saved.
    resp = submit(client, project, "registered", company_uscc="91350100M000100Y44", registered_capital="abc")
    assert resp.status_code == 422
    page = text(resp)
    assert "统一社会信用代码校验位不正确" in page and "请输入数字" in page
    assert 'value="91350100M000100Y44"' in page
    assert pending(db, project) is None

    # A valid request; the project page shows it pending; the manager's header counts it.
    code = uscc()
    resp = submit(client, project, "registered", company_uscc=code, registered_capital="5000")
    assert resp.status_code == 302
    page = text(client.get(f"/projects/{project.id}"))
    assert "待审批" in page and code in page and "撤回申请" in page
    login_as(manager)
    page = text(client.get("/approvals"))
    assert header_count(page, "待我审批") == 1
    assert project.name in page and code in page and staff.display_name in page

    # Rejecting needs a comment.
    req = pending(db, project)
    resp = decide(client, project, req, "reject", "")
    assert resp.status_code == 422 and "请填写驳回理由" in text(resp)
    assert pending(db, project) is not None
    resp = decide(client, project, req, "reject", "注册资本与营业执照不符，请核对")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/approvals")
    assert header_count(text(client.get("/approvals")), "待我审批") == 0

    # The requester sees the decision in the inbox.
    login_as(staff)
    page = text(client.get("/inbox"))
    assert header_count(page, "消息") == 1
    assert "已驳回" in page and "注册资本与营业执照不符" in page and "unread" in page

    # Resubmitted and approved; then land, construction.
    request_and_approve(client, login_as, db, people, project, "registered", company_uscc=code,
                        registered_capital="6000")
    assert project.registered_capital == 6000 and project.company_uscc == code
    request_and_approve(client, login_as, db, people, project, "land_secured", land_area_mu="120.5",
                        land_certificate_no="浙(2024)黄岩区不动产权第0012345号")
    request_and_approve(client, login_as, db, people, project, "construction",
                        construction_permit_no="331003202408010101", actual_date="2024-08-01")

    # A correction: construction had not really started; back to land_secured with a reason.
    login_as(staff)
    resp = submit(client, project, "land_secured", actual_date="2024-08-05")
    assert resp.status_code == 422 and "请填写理由" in text(resp)
    request_and_approve(client, login_as, db, people, project, "land_secured", actual_date="2024-08-05",
                        reason="施工许可证号填错，实际尚未开工")
    ms = db.session.execute(select(Milestone).where(Milestone.project_id == project.id,
                                                    Milestone.stage == "construction")).scalar_one()
    assert ms.actual_on is None

    request_and_approve(client, login_as, db, people, project, "construction",
                        construction_permit_no="331003202409010101", actual_date="2024-09-01")
    request_and_approve(client, login_as, db, people, project, "completed", actual_date="2025-03-01")
    request_and_approve(client, login_as, db, people, project, "production", actual_date="2025-04-01")
    request_and_approve(client, login_as, db, people, project, "full_capacity", actual_date="2025-06-01",
                        annual_output="250000")
    assert project.stage == "full_capacity" and project.annual_output == 250000
    actual = dict(db.session.execute(select(Milestone.stage, Milestone.actual_on)
                                     .where(Milestone.project_id == project.id)).all())
    assert actual["construction"] == date(2024, 9, 1) and actual["full_capacity"] == date(2025, 6, 1)

    # The project page: timeline with stage history, decisions and the correction, newest first.
    page = text(client.get(f"/projects/{project.id}"))
    # An approval and the stage change it made are one event on the timeline.
    assert "批准并变更阶段：已投产 → 已达产" in page and "批准阶段变更申请" not in page
    assert "驳回阶段变更申请" in page and "退回更正" in page
    assert page.index("已投产 → 已达产") < page.index("已签约 → 已注册")
    # Nothing more to request after full capacity except side moves.
    login_as(staff)
    page = text(client.get(f"/projects/{project.id}/stage-request"))
    assert "暂缓" in page and "终止" in page


def test_self_approval_is_blocked_in_ui_and_by_post(client, login_as, db, people):
    project = make_project(stage="completed")
    manager = people["manager"]
    login_as(manager)
    assert submit(client, project, "production").status_code == 302
    req = pending(db, project)
    page = text(client.get(f"/projects/{project.id}"))
    assert "需由其他负责人审批" in page
    assert "/stage-request/approve" not in page
    queue = text(client.get("/approvals"))
    assert project.name not in queue and header_count(queue, "待我审批") == 0
    resp = decide(client, project, req, "approve")
    assert resp.status_code == 403 and "不能审批自己提交的申请" in text(resp)
    assert pending(db, project) is not None
    # A colleague may decide it.
    login_as(people["manager2"])
    assert "/stage-request/approve" in text(client.get(f"/projects/{project.id}"))
    assert decide(client, project, req, "approve", next_="project").status_code == 302
    db.session.expire_all()
    assert project.stage == "production"


def test_second_decision_gets_409(client, login_as, db, people):
    project = make_project(stage="completed")
    login_as(people["staff"])
    submit(client, project, "production")
    req = pending(db, project)
    login_as(people["manager"])
    assert decide(client, project, req, "approve").status_code == 302
    login_as(people["manager2"])
    resp = decide(client, project, req, "reject", "晚了一步")
    assert resp.status_code == 409 and "已被他人处理" in text(resp)
    db.session.expire_all()
    assert req.status == "approved"


def test_second_request_while_pending_is_409_with_input_kept(client, login_as, db, people):
    project = make_project(stage="completed")
    login_as(people["staff"])
    assert submit(client, project, "production").status_code == 302
    login_as(people["manager"])
    resp = submit(client, project, "paused", reason="企业资金紧张", expected_resume_on="2099-01-01")
    assert resp.status_code == 409
    page = text(resp)
    assert "已有一项待审批的申请" in page and "企业资金紧张" in page


def test_withdraw_own_request_only(client, login_as, db, people):
    project = make_project(stage="completed")
    login_as(people["staff"])
    submit(client, project, "production")
    req = pending(db, project)
    login_as(people["manager"])
    resp = client.post(f"/projects/{project.id}/stage-request/withdraw", data={"request_id": req.id})
    assert resp.status_code == 403
    login_as(people["staff"])
    resp = client.post(f"/projects/{project.id}/stage-request/withdraw", data={"request_id": req.id})
    assert resp.status_code == 302
    assert pending(db, project) is None


def test_request_form_shows_the_fields_of_the_chosen_move(client, login_as, db, people):
    project = make_project(stage="construction")
    login_as(people["staff"])
    page = text(client.get(f"/projects/{project.id}/stage-request?to=paused"))
    assert "预计恢复日期" in page and "暂缓日期" in page and "理由" in page
    page = text(client.get(f"/projects/{project.id}/stage-request?to=full_capacity"))
    assert "达产年产值（万元）" in page and "跨阶段推进" in page
    resp = client.get(f"/projects/{project.id}/stage-request?to=nonsense")
    assert resp.status_code == 422 and "不能申请变更为该阶段" in text(resp)
    # Every group of moves is offered in the picker.
    for group in ("推进", "跨阶段推进", "退回更正", "暂缓", "终止"):
        assert f'<optgroup label="{group}">' in page


def test_pause_then_resume_through_the_screens(client, login_as, db, people):
    project = make_project(stage="construction")
    request_and_approve(client, login_as, db, people, project, "paused", reason="等待环评批复",
                        expected_resume_on="2099-06-30")
    login_as(people["staff"])
    page = text(client.get(f"/projects/{project.id}"))
    assert "等待环评批复" in page and "预计恢复" in page
    page = text(client.get(f"/projects/{project.id}/stage-request"))
    assert "恢复日期" in page  # the resume move is the default
    request_and_approve(client, login_as, db, people, project, "construction", reason="环评已批复")


def test_leader_reads_only_and_admin_sees_nothing(client, login_as, db, people, ref):
    project = make_project(stage="completed")
    login_as(people["staff"])
    submit(client, project, "production")
    login_as(people["leader"])
    page = text(client.get(f"/projects/{project.id}"))
    assert "待审批" in page and "里程碑" in page
    assert "/stage-request/approve" not in page and "撤回申请" not in page and "修改计划日期" not in page
    assert ">待我审批" not in page and ">消息" not in page
    assert client.get(f"/projects/{project.id}/stage-request").status_code == 403
    admin = make_user("admin", ref.city)
    login_as(admin)
    assert client.get(f"/projects/{project.id}").status_code == 403
    assert client.get("/approvals").status_code == 403
    assert client.get("/inbox").status_code == 403


def test_out_of_scope_manager_gets_404(client, login_as, db, people):
    project = make_project(stage="completed")
    login_as(people["staff"])
    submit(client, project, "production")
    req = pending(db, project)
    login_as(people["other_manager"])
    assert decide(client, project, req).status_code == 404
    assert project.name not in text(client.get("/approvals"))


def test_inbox_lists_decisions_newest_first_and_marks_read(client, login_as, db, people):
    first = make_project(stage="completed", name="第一个项目")
    second = make_project(stage="completed", name="第二个项目")
    request_and_approve(client, login_as, db, people, first, "production")
    login_as(people["staff"])
    submit(client, second, "production")
    login_as(people["manager"])
    decide(client, second, pending(db, second), "reject", "日期有误")
    login_as(people["staff"])
    page = text(client.get("/inbox"))
    assert header_count(page, "消息") == 2
    listing = page.split('<ul class="inbox">', 1)[1]
    assert listing.index("第二个项目") < listing.index("第一个项目")
    assert "已批准" in page and "已驳回" in page and "日期有误" in page
    # One item, then all.
    note = db.session.execute(select(Notification).where(Notification.user_id == people["staff"].id)
                              .order_by(Notification.id)).scalars().first()
    assert client.post("/inbox/read", data={"id": str(note.id)}).status_code == 302
    assert header_count(text(client.get("/inbox")), "消息") == 1
    assert client.post("/inbox/read").status_code == 302
    page = text(client.get("/inbox"))
    assert header_count(page, "消息") == 0 and "没有未读消息" in page
    # Nobody else's notifications.
    login_as(people["manager2"])
    assert "第一个项目" not in text(client.get("/inbox"))


def test_planned_dates_edit_with_bad_input_and_parallel_edit(client, login_as, db, people):
    project = make_project(stage="signed")
    login_as(people["staff"])
    page = text(client.get(f"/projects/{project.id}"))
    assert "修改计划日期" in page and "里程碑" in page
    resp = client.post(f"/projects/{project.id}/milestones",
                       data={"planned_registered": "2024-13-45", "seen_registered": ""})
    assert resp.status_code == 422 and "日期格式不正确" in text(resp) and "2024-13-45" in text(resp)
    resp = client.post(f"/projects/{project.id}/milestones",
                       data={"planned_registered": "2024-09-30", "seen_registered": "",
                             "planned_construction": "２０２５-03-01", "seen_construction": ""})
    assert resp.status_code == 302
    planned = dict(db.session.execute(select(Milestone.stage, Milestone.planned_on)
                                      .where(Milestone.project_id == project.id)).all())
    assert planned["registered"] == date(2024, 9, 30) and planned["construction"] == date(2025, 3, 1)
    # Someone who still saw the empty value saves another date: 409, input kept.
    login_as(people["manager"])
    resp = client.post(f"/projects/{project.id}/milestones",
                       data={"planned_registered": "2024-10-31", "seen_registered": ""})
    assert resp.status_code == 409 and "2024-10-31" in text(resp) and "已被他人改为" in text(resp)
    # Milestones table: planned vs actual with days late after approval.
    request_and_approve(client, login_as, db, people, project, "registered", actual_date="2024-10-10",
                        company_uscc=uscc(), registered_capital="1000")
    page = text(client.get(f"/projects/{project.id}"))
    assert "晚 10 天" in page
    assert "已注册 计划日期" in page  # the plan change is on the timeline


def test_attachments_are_stored_with_the_request_or_refused(client, login_as, db, people):
    project = make_project(stage="signed")
    login_as(people["staff"])
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    data = {"to_stage": "registered", "actual_date": "2024-07-01", "company_uscc": uscc(),
            "registered_capital": "100",
            "attachments": [(io.BytesIO(b"just text, not a scan"), "营业执照.pdf")]}
    resp = client.post(f"/projects/{project.id}/stage-request", data=data, content_type="multipart/form-data")
    assert resp.status_code == 422 and "PDF、JPG 或 PNG" in text(resp)
    assert pending(db, project) is None
    data["attachments"] = [(io.BytesIO(png), "营业执照.png")]
    resp = client.post(f"/projects/{project.id}/stage-request", data=data, content_type="multipart/form-data")
    assert resp.status_code == 302
    req = pending(db, project)
    names = db.session.execute(select(Attachment.original_name).where(Attachment.request_id == req.id)).scalars()
    assert list(names) == ["营业执照.png"]
    login_as(people["manager"])
    assert "营业执照.png" in text(client.get("/approvals"))
    assert "营业执照.png" in text(client.get(f"/projects/{project.id}"))


def test_header_counts_cost_one_query(db, people, app):
    from sqlalchemy import event

    from tracker.workflow.nav_counts import NavCounts

    project = make_project(stage="completed")
    wf.request_move(people["staff"], project, to_stage="production", actual_date="2024-07-01")
    db.session.flush()  # the request's own writes (its audit entry) are not what is counted
    statements = []

    def count(*_args, **_kw):
        statements.append(1)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = NavCounts(people["manager"])
        assert (counts.approvals, counts.unread, counts.approvals) == (1, 0, 1)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_screens_render_in_english(client, login_as, db, people):
    project = make_project(stage="signed")
    login_as(people["staff"])
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    submit(client, project, "registered", company_uscc=uscc(), registered_capital="100")
    for url in (f"/projects/{project.id}", f"/projects/{project.id}/stage-request?to=paused",
                f"/projects/{project.id}/milestones", "/inbox"):
        assert client.get(url).status_code == 200, url
    login_as(people["manager"])
    assert client.get("/approvals").status_code == 200
    assert decide(client, project, pending(db, project), "reject", "").status_code == 422


def test_resubmitting_a_rejected_request_starts_from_what_was_typed(client, login_as, db, people):
    project = make_project(stage="signed")
    company = uscc()
    login_as(people["staff"])
    assert submit(client, project, "registered", company_uscc=company, registered_capital="5000",
                  comment="营业执照已领取").status_code == 302
    req = pending(db, project)
    login_as(people["manager"])
    decide(client, project, req, "reject", "注册资本与执照不符，请核对")
    login_as(people["staff"])
    inbox = text(client.get("/inbox"))
    link = f"/projects/{project.id}/stage-request?to=registered&amp;from={req.id}"
    assert link in inbox
    form = text(client.get(link.replace("&amp;", "&")))
    assert "注册资本与执照不符，请核对" in form and f'value="{company}"' in form
    assert 'value="5000"' in form and 'value="2024-07-01"' in form and "营业执照已领取" in form
    # Someone else's request, another project's or a different target: an ordinary empty form.
    other = make_project(stage="signed")
    for url in (f"/projects/{other.id}/stage-request?to=registered&from={req.id}",
                f"/projects/{project.id}/stage-request?to=paused&from={req.id}",
                f"/projects/{project.id}/stage-request?to=registered&from=x"):
        assert company not in text(client.get(url))
    login_as(people["manager2"])  # may request too, but it was not their request
    assert company not in text(client.get(link.replace("&amp;", "&")))
    # Resubmitting from the notice marks it read; once the project has moved on, the inbox no
    # longer offers the stale resubmission.
    login_as(people["staff"])
    resp = client.post(link.replace("&amp;", "&"), data={"to_stage": "registered", "actual_date": "2024-07-01",
                                                          "company_uscc": company, "registered_capital": "4800"})
    assert resp.status_code == 302
    db.session.expire_all()
    note = db.session.execute(select(Notification).where(Notification.request_id == req.id)).scalar_one()
    assert note.read_at is not None
    login_as(people["manager"])
    assert decide(client, project, pending(db, project), "approve", "同意").status_code == 302
    login_as(people["staff"])
    assert link not in text(client.get("/inbox"))


def test_correction_names_and_clears_what_the_later_stages_recorded(client, login_as, db, people):
    project = make_project(stage="signed", land_area_mu=120)
    company = uscc()
    request_and_approve(client, login_as, db, people, project, "registered", company_uscc=company,
                        registered_capital="5000")
    request_and_approve(client, login_as, db, people, project, "land_secured", land_area_mu="118",
                        land_certificate_no="浙(2024)黄岩区不动产权第0012345号")
    login_as(people["staff"])
    page = text(client.get(f"/projects/{project.id}"))
    assert "浙(2024)黄岩区不动产权第0012345号" in page and "推进中登记的信息" in page
    form = text(client.get(f"/projects/{project.id}/stage-request?to=signed"))
    assert "已注册的实际日期" in form and "已供地的实际日期" in form and "施工许可证号" not in form
    assert "土地出让合同或不动产权证号" in form and "项目公司统一社会信用代码" in form
    request_and_approve(client, login_as, db, people, project, "signed", reason="注册信息录错")
    db.session.expire_all()
    assert project.company_uscc is None and project.registered_capital is None
    assert project.land_certificate_no is None and project.land_area_mu == 118  # the area stays
    login_as(people["staff"])
    inbox = text(client.get("/inbox"))
    assert inbox.count("kind-back") == 1  # the requester is told which decision was a correction
    again = text(client.get(f"/projects/{project.id}/stage-request?to=registered"))
    assert 'name="company_uscc"' in again and company not in again  # asked afresh, not offered again


def test_project_page_lists_its_evidence_with_download_links(client, login_as, db, people):
    project = make_project(stage="signed")
    login_as(people["staff"])
    resp = submit(client, project, "registered", company_uscc=uscc(), registered_capital="5000",
                  attachments=(io.BytesIO(b"%PDF-1.4 licence"), "营业执照.pdf"))
    assert resp.status_code == 302
    attachment = db.session.execute(select(Attachment).where(Attachment.project_id == project.id)).scalar_one()
    page = text(client.get(f"/projects/{project.id}"))
    assert f"/attachments/{attachment.id}" in page and "营业执照.pdf" in page and "证明材料" in page
