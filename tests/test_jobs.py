"""Jobs: long work in killable worker processes, with a status and progress a page polls.

The end-to-end tests commit for real (``committed_db``): the job runs in a pool worker process
that reads the test database through its own connections. A test drives the runner by calling
``tick()`` (claim, collect, heartbeat, sweep) instead of waiting on its thread, so nothing
depends on timing; ``wait_for`` only bounds how long a broken test may hang (never asserted).
The job functions used only here live at the bottom of this module: the worker imports them
by name.
"""
from __future__ import annotations

import io
import os
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.factories import make_project, make_user, reference, sign_in
from tests.test_briefs import brief_fonts  # noqa: F401 - a shared fixture
from tracker.ceremonies import operations as ceremony_ops
from tracker.core.db import utcnow, writing
from tracker.jobs import kinds
from tracker.jobs import operations as ops
from tracker.jobs.models import Job
from tracker.jobs.runner import JobRunner
from tracker.jobs.worker import JobOutput

HANG_LIMIT = 120  # seconds before a broken test gives up (not a performance assertion)

kinds.register(kinds.Kind("test_gated", "测试任务", "tests.test_jobs:gated_job", time_limit=300))
# The limit leaves the worker time to build its app on its first job (not a performance bound).
kinds.register(kinds.Kind("test_sleep", "测试任务", "tests.test_jobs:sleeping_job", time_limit=6))


# --- helpers ---------------------------------------------------------------------------------

def wait_for(check, runner: JobRunner | None = None, what: str = "condition"):
    deadline = time.monotonic() + HANG_LIMIT
    while time.monotonic() < deadline:
        if runner is not None:
            runner.tick()
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def state(db, job_id: int) -> dict:
    """The job's row as another process sees it now (no snapshot kept open)."""
    db.session.rollback()
    job = db.session.get(Job, job_id, populate_existing=True)
    row = {c: getattr(job, c) for c in ("status", "progress", "message", "error", "result_name", "worker")}
    db.session.rollback()
    return row


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def make_ceremony(ref, projects, name="台州市2024(第四季)重大招商项目签约仪式", unit=None):
    ceremony = ceremony_ops.create_ceremony(None, name=name, held_on=date(2024, 12, 20), venue="台州市行政中心",
                                            unit=unit or ref.city)
    for i, project in enumerate(projects):
        ceremony_ops.add_project(None, ceremony, project, signatory_local=f"朱嘉诚{i}", signatory_investor=f"杨立新{i}")
    return ceremony


@pytest.fixture()
def committed_client(app, committed_db):
    from tests.conftest import IsolatedClient

    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture()
def runner(app, committed_db, brief_fonts, tmp_path):  # noqa: F811
    app.config["JOB_RESULT_DIR"] = str(tmp_path / "results")
    job_runner = JobRunner(app, slots=2)
    yield job_runner
    job_runner.stop()
    app.config.pop("JOB_RESULT_DIR", None)


def submit(db, user_id: int, kind: str, **params) -> int:
    from tracker.auth.models import User

    with writing():
        job = ops.submit(db.session.get(User, user_id), kind, title="测试", params=params)
        job_id = job.id
        db.session.commit()
    return job_id


# --- a booklet from the button to the download ---------------------------------------------------

def test_booklet_job_goes_queued_running_done_and_downloads(app, committed_db, committed_client, runner):
    db = committed_db
    with writing():
        ref = reference()
        projects = [make_project(unit=ref.huangyan, name=f"汇编项目{i}号") for i in range(3)]
        ceremony = make_ceremony(ref, projects)
        user = make_user("staff", ref.city)
        sign_in(committed_client, user, commit=True)
        ceremony_id, ceremony_name = ceremony.id, ceremony.name
    db.session.close()

    resp = committed_client.post(f"/ceremonies/{ceremony_id}/booklet")
    assert resp.status_code == 302
    job_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert state(db, job_id)["status"] == "queued"
    page = committed_client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "排队中" in body and "js/jobs.js" in body and "<script>" not in body  # no inline script (CSP)
    assert committed_client.get(f"/jobs/{job_id}/status").get_json()["status"] == "queued"
    assert committed_client.get(f"/jobs/{job_id}/download").status_code == 404  # nothing yet

    seen = []

    def finished():
        data = committed_client.get(f"/jobs/{job_id}/status").get_json()
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
        return data["finished"]

    runner.tick()  # claims it
    assert state(db, job_id)["status"] in ("running", "done")
    wait_for(finished, runner, "the booklet")
    assert seen[0] in ("running", "done") and seen[-1] == "done"
    final = state(db, job_id)
    assert final["status"] == "done" and final["progress"] == 100
    assert final["result_name"] == f"{ceremony_name}-签约项目简介汇编.pdf"

    data = committed_client.get(f"/jobs/{job_id}/status").get_json()
    assert data["download_url"] == f"/jobs/{job_id}/download"
    assert "下载" in committed_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    pdf = committed_client.get(f"/jobs/{job_id}/download")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "filename*=UTF-8''" in pdf.headers["Content-Disposition"]
    text = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf.data)).pages).replace("\n", "")
    assert "签约项目一览表" in text and "汇编项目2号" in text


def test_progress_is_reported_while_running(app, committed_db, committed_client, runner, tmp_path):
    db = committed_db
    with writing():
        user = make_user("staff", reference().huangyan)
        sign_in(committed_client, user, commit=True)
        user_id = user.id
    gate = tmp_path / "gate"
    job_id = submit(db, user_id, "test_gated", gate=str(gate))

    running = wait_for(lambda: (lambda s: s if s["progress"] == 40 else None)(
        committed_client.get(f"/jobs/{job_id}/status").get_json()), runner, "progress 40")
    assert running["status"] == "running" and running["message"] == "等待放行" and not running["finished"]
    assert "正在生成" in committed_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    gate.touch()
    wait_for(lambda: state(db, job_id)["status"] == "done", runner, "done")
    download = committed_client.get(f"/jobs/{job_id}/download")
    assert download.data == b"gate passed"
    assert download.headers["Content-Disposition"].startswith("attachment")  # not a PDF: downloaded


# --- time limits, crashes, cancelling, restarts ------------------------------------------------

def test_job_past_its_time_limit_is_killed_and_reported(app, committed_db, runner):
    db = committed_db
    with writing():
        user_id = make_user("staff", reference().huangyan).id
        db.session.commit()
    job_id = submit(db, user_id, "test_sleep")
    message = wait_for(lambda: state(db, job_id)["message"], runner, "the job to start")
    pid = int(message.split()[1])
    assert pid != os.getpid()
    failed = wait_for(lambda: (lambda s: s if s["status"] == "failed" else None)(state(db, job_id)), runner,
                      "the time limit")
    assert "已停止" in failed["error"]
    wait_for(lambda: not pid_alive(pid), None, "the worker to be gone")
    # The pool replaced the worker: the next job runs.
    gate = Path(app.config["JOB_RESULT_DIR"]).parent / "gate"
    gate.parent.mkdir(parents=True, exist_ok=True)
    gate.touch()
    again = submit(db, user_id, "test_gated", gate=str(gate))
    wait_for(lambda: state(db, again)["status"] == "done", runner, "the next job")


def test_cancel_kills_the_worker(app, committed_db, committed_client, runner):
    db = committed_db
    with writing():
        user = make_user("staff", reference().huangyan)
        sign_in(committed_client, user, commit=True)
        user_id = user.id
    job_id = submit(db, user_id, "test_sleep")
    pid = int(wait_for(lambda: state(db, job_id)["message"], runner, "the job to start").split()[1])
    resp = committed_client.post(f"/jobs/{job_id}/cancel")
    assert resp.status_code == 302
    assert state(db, job_id)["status"] == "cancelled"
    wait_for(lambda: not pid_alive(pid), runner, "the worker to be killed")
    assert state(db, job_id)["status"] == "cancelled"


def test_worker_dying_under_a_job_is_reported(app, committed_db, runner):
    import signal

    db = committed_db
    with writing():
        user_id = make_user("staff", reference().huangyan).id
        db.session.commit()
    job_id = submit(db, user_id, "test_sleep")
    pid = int(wait_for(lambda: state(db, job_id)["message"], runner, "the job to start").split()[1])
    os.kill(pid, signal.SIGKILL)  # as the out-of-memory killer would
    failed = wait_for(lambda: (lambda s: s if s["status"] == "failed" else None)(state(db, job_id)), runner,
                      "the failure")
    assert "意外中断" in failed["error"]


def test_job_left_running_by_a_dead_process_is_reported_failed(app, db, ref):
    user = make_user("staff", ref.huangyan)
    long_ago = utcnow() - timedelta(hours=1)
    dead = Job(kind="booklet", status="running", user_id=user.id, params={}, title="汇编", locale="zh_CN",
               started_at=long_ago, heartbeat_at=long_ago, worker="web-1:123", attempts=1)
    other = make_user("staff", ref.huangyan)
    alive = Job(kind="booklet", status="running", user_id=other.id, params={}, title="汇编", locale="en",
                started_at=utcnow(), heartbeat_at=utcnow(), worker="web-2:456", attempts=1)
    db.session.add_all([dead, alive])
    db.session.flush()
    assert ops.fail_stale(stale_after=90) == [dead.id]
    db.session.refresh(dead)
    db.session.refresh(alive)
    assert dead.status == "failed" and "服务器重启" in dead.error and dead.finished_at is not None
    assert alive.status == "running"
    # A late report from the dead job's worker cannot bring it back.
    assert ops.finish(dead.id, result_file="x.pdf", result_name="x.pdf", result_type="application/pdf",
                      result_size=1) is False
    assert ops.set_progress(dead.id, 50) is False


def test_runner_sweeps_stale_jobs_of_other_processes(app, committed_db, monkeypatch):
    db = committed_db
    monkeypatch.setattr(ops, "stale_message", lambda locale: f"interrupted ({locale})")
    with writing():
        user_id = make_user("staff", reference().huangyan).id
        long_ago = utcnow() - timedelta(minutes=10)
        db.session.add(Job(kind="booklet", status="running", user_id=user_id, params={}, title="汇编",
                           locale="en", started_at=long_ago, heartbeat_at=long_ago, worker="gone:1",
                           attempts=1))
        db.session.commit()
    job_runner = JobRunner(app, slots=1)
    job_runner.tick()
    job = db.session.execute(select(Job)).scalar_one()
    assert job.status == "failed" and job.error == "interrupted (en)"  # in the user's language


def test_a_job_survives_its_web_process_restarting(app, committed_db, runner, tmp_path):
    """A clean shutdown (gunicorn restarting a worker) puts the running job back in the queue;
    another web process (or the restarted one) runs it from the start."""
    db = committed_db
    with writing():
        user_id = make_user("staff", reference().huangyan).id
        db.session.commit()
    gate = tmp_path / "gate"
    job_id = submit(db, user_id, "test_gated", gate=str(gate))
    wait_for(lambda: state(db, job_id)["progress"] == 40, runner, "the job to start")
    first_worker = state(db, job_id)["worker"]
    runner.stop()  # as at a worker restart
    assert state(db, job_id)["status"] == "queued"
    gate.touch()
    other = JobRunner(app, slots=1)
    other.name = "web-2:1"
    try:
        wait_for(lambda: state(db, job_id)["status"] == "done", other, "the job to run again")
    finally:
        other.stop()
    assert first_worker != "web-2:1"
    # A job that keeps being cut short is given up after MAX_ATTEMPTS, clearly.
    from tracker.jobs.runner import MAX_ATTEMPTS

    again = submit(db, user_id, "test_gated", gate=str(tmp_path / "never"))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        restarting = JobRunner(app, slots=1)
        wait_for(lambda: state(db, again)["progress"] == 40, restarting, f"attempt {attempt}")
        restarting.stop()
    final = state(db, again)
    assert final["status"] == "failed" and "服务器重启" in final["error"]


# --- one booklet at a time per user -----------------------------------------------------------

def test_second_booklet_while_one_is_queued_is_refused_clearly(client, login_as, db, ref):
    ceremony = make_ceremony(ref, [make_project(unit=ref.huangyan)])
    user = login_as(make_user("staff", ref.city))
    first = client.post(f"/ceremonies/{ceremony.id}/booklet")
    assert first.status_code == 302
    second = client.post(f"/ceremonies/{ceremony.id}/booklet", follow_redirects=False)
    assert second.status_code == 302 and second.headers["Location"] == first.headers["Location"]
    page = client.get(second.headers["Location"])
    assert "已在生成中，请稍候" in page.get_data(as_text=True)
    count = db.session.execute(select(func.count(Job.id)).where(Job.user_id == user.id)).scalar_one()
    assert count == 1
    # Another kind (the order sheet) and another user are not held up.
    assert client.post(f"/ceremonies/{ceremony.id}/order-sheet").headers["Location"] != first.headers["Location"]
    login_as(make_user("staff", ref.city))
    assert client.post(f"/ceremonies/{ceremony.id}/booklet").headers["Location"] != first.headers["Location"]


def test_partial_unique_index_refuses_a_racing_second_job(app, db, ref, monkeypatch):
    user = make_user("staff", ref.huangyan)
    first = ops.submit(user, "booklet", title="a", params={})
    monkeypatch.setattr(ops, "active_job", lambda *a: None)  # as if both requests checked at once
    with pytest.raises(ops.AlreadyActive):
        ops.submit(user, "booklet", title="b", params={})
    monkeypatch.undo()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(Job(kind="booklet", status="running", user_id=user.id, params={}, title="c"))
            db.session.flush()
    first.status = "done"  # a finished job no longer blocks
    db.session.flush()
    assert ops.submit(user, "booklet", title="d", params={}).status == "queued"


def test_claims_by_two_processes_take_a_job_once(app, committed_db):
    db = committed_db
    with writing():
        user_id = make_user("staff", reference().huangyan).id
        db.session.commit()
    job_id = submit(db, user_id, "booklet", ceremony_id=0)
    barrier = threading.Barrier(2)
    results = []

    def claim(name):
        with app.app_context():
            barrier.wait()
            with writing():
                job = ops.claim_next(name)
                results.append(job.id if job else None)
                db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_LIMIT)
    assert sorted(results, key=str) == [job_id, None]
    assert state(db, job_id)["status"] == "running"


# --- who may see a job --------------------------------------------------------------------------

@pytest.mark.parametrize("path,method", [("/jobs/{id}", "GET"), ("/jobs/{id}/status", "GET"),
                                         ("/jobs/{id}/download", "GET"), ("/jobs/{id}/cancel", "POST")])
def test_only_the_owner_sees_a_job(client, login_as, db, ref, path, method):
    owner = make_user("staff", ref.huangyan)
    job = ops.submit(owner, "booklet", title="汇编", params={})
    db.session.commit()
    url = path.format(id=job.id)
    assert client.open(url, method=method).status_code == 302  # anonymous: to the login page
    for role, unit in (("staff", ref.huangyan), ("manager", ref.huangyan), ("manager", ref.city), ("admin", ref.city)):
        login_as(make_user(role, unit))
        assert client.open(url, method=method).status_code == 404, (role, unit.code)
    login_as(owner)
    expected = {"/jobs/{id}/download": 404, "/jobs/{id}/cancel": 302}.get(path, 200)  # not done yet
    assert client.open(url, method=method).status_code == expected
    assert client.get("/jobs/999999").status_code == 404


def test_booklet_buttons_follow_ceremony_scope(client, login_as, db, ref):
    # A county office does not see a city ceremony without any of its projects.
    ceremony = make_ceremony(ref, [make_project(unit=ref.linhai)], unit=ref.city)
    login_as(make_user("manager", ref.huangyan))
    assert client.post(f"/ceremonies/{ceremony.id}/booklet").status_code == 404
    assert client.post(f"/ceremonies/{ceremony.id}/order-sheet").status_code == 404
    assert client.get(f"/ceremonies/{ceremony.id}/booklet").status_code == 405  # no work starts on GET
    assert db.session.execute(select(func.count(Job.id))).scalar_one() == 0


def test_booklet_job_rechecks_access_when_it_runs(app, db, ref):
    """A job queued by a user who lost access (moved unit, deactivated) fails clearly."""
    from tracker.briefs import jobs as brief_jobs
    from tracker.jobs.worker import JobContext, JobError

    ceremony = make_ceremony(ref, [make_project(unit=ref.linhai)], unit=ref.city)
    user = make_user("staff", ref.huangyan)
    job = Job(kind="booklet", status="running", user_id=user.id, params={"ceremony_id": ceremony.id}, title="x")
    db.session.add(job)
    db.session.flush()
    with pytest.raises(JobError) as err:
        brief_jobs.make_booklet(JobContext(job))
    assert "无权查看" in err.value.message


def test_old_results_expire(app, db, ref):
    user = make_user("staff", ref.huangyan)
    old = utcnow() - timedelta(days=3)
    db.session.add_all([
        Job(kind="booklet", status="done", user_id=user.id, params={}, title="old", result_file="old.pdf",
            finished_at=old),
        Job(kind="order_sheet", status="done", user_id=user.id, params={}, title="new", result_file="new.pdf",
            finished_at=utcnow()),
    ])
    db.session.flush()
    assert ops.expire(keep_hours=24) == ["old.pdf"]
    assert [j.title for j in db.session.execute(select(Job)).scalars()] == ["new"]


def test_a_worker_dying_under_a_brief_is_a_clear_error(app, db, ref, brief_fonts):  # noqa: F811
    from tracker.briefs import render
    from tracker.jobs.pool import WorkerLost, WorkerPool

    pool = WorkerPool(1)
    try:
        with pytest.raises(WorkerLost):
            pool.run(die, timeout=60)
        assert pool.run(os.getpid, timeout=60) != os.getpid()  # replaced; the next task runs
    finally:
        pool.close()
    with pytest.raises(render.RendererFailed):
        render.render_pdf(render.DEFAULT_WARM_HTML, font_dir=brief_fonts, timeout=60, pool=_DyingPool())


class _DyingPool:
    def run(self, *args, **kwargs):
        from tracker.jobs.pool import WorkerLost

        raise WorkerLost("killed")


# --- job functions used by these tests (imported by name in the worker process) ----------------

def die() -> None:
    import signal

    os.kill(os.getpid(), signal.SIGKILL)



def gated_job(ctx) -> JobOutput:
    ctx.progress(40, "等待放行")
    gate = Path(ctx.params["gate"])
    deadline = time.monotonic() + HANG_LIMIT
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.progress(80, "已放行")
    return JobOutput(b"gate passed", "结果.txt", "text/plain")


def sleeping_job(ctx) -> None:
    ctx.progress(10, f"pid {os.getpid()}")
    time.sleep(600)


def test_runner_thread_takes_a_job_when_woken(app, committed_db, runner, tmp_path):
    db = committed_db
    with writing():
        user_id = make_user("staff", reference().huangyan).id
        db.session.commit()
    gate = tmp_path / "open"
    gate.touch()
    runner.poll = 3600  # it must not need its poll: the submit wakes it
    runner.start()
    job_id = submit(db, user_id, "test_gated", gate=str(gate))
    runner.wake()  # what jobs.views.start does (runner.notify) after committing
    wait_for(lambda: state(db, job_id)["status"] == "done", None, "the runner thread")


@pytest.mark.parametrize("argv,environ,expected", [
    (["gunicorn"], {}, True), (["/x/flask", "seed", "demo"], {}, False), (["/x/flask/__main__.py", "seed"], {}, False),
    (["/x/flask/__main__.py", "run"], {}, True), (["flask", "--app", "wsgi", "run"], {}, True),
    (["flask", "run", "--debug"], {}, False), (["flask", "run", "--debug"], {"WERKZEUG_RUN_MAIN": "true"}, True),
    (["flask", "run"], {"FLASK_DEBUG": "1"}, False), (["flask", "run", "--debug", "--no-reload"], {}, True),
])
def test_which_processes_serve(argv, environ, expected):
    from tracker.jobs.runner import serving

    assert serving(argv, environ) is expected


@pytest.mark.parametrize("argv,serving", [(["flask", "seed", "demo"], False), (["gunicorn"], True),
                                          (["flask", "run"], True), (["flask", "--app", "wsgi", "run"], True),
                                          (["flask", "--app", "wsgi", "db", "upgrade"], False)])
def test_wsgi_starts_workers_and_runner_only_when_serving(database_url, tmp_path, argv, serving):
    import subprocess
    import sys

    code = (f"import sys, threading; sys.argv = {argv!r}; import wsgi\n"
            "for t in threading.enumerate():\n"
            "    if t.name == 'pdf-warm-up': t.join()\n"
            "from tracker.jobs import pool, runner\n"
            "print(runner._runner is not None, pool._pool is not None)\n")
    env = dict(os.environ, DATABASE_URL=database_url, TRACKER_INSTANCE_DIR=str(tmp_path), SECRET_KEY="test")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, env=env,
                          capture_output=True, text=True, timeout=HANG_LIMIT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == [str(serving), str(serving)]


def test_job_page_shows_failure_and_expired_result(client, login_as, db, ref):
    user = login_as(make_user("staff", ref.huangyan))
    failed = Job(kind="booklet", status="failed", user_id=user.id, params={"back": "/ceremonies/1"}, title="汇编甲",
                 error="超过一本汇编可排版的项目数", finished_at=utcnow())
    gone = Job(kind="order_sheet", status="done", user_id=user.id, params={}, title="顺序表乙",
               result_file="0123456789abcdef.pdf", result_name="乙.pdf", result_type="application/pdf",
               finished_at=utcnow())
    db.session.add_all([failed, gone])
    db.session.commit()
    page = client.get(f"/jobs/{failed.id}").get_data(as_text=True)
    assert "超过一本汇编可排版的项目数" in page and 'href="/ceremonies/1"' in page and "jobs.js" in page
    page = client.get(f"/jobs/{gone.id}").get_data(as_text=True)
    assert "结果文件已过期" in page
    assert client.get(f"/jobs/{gone.id}/download").status_code == 404
    assert client.get(f"/jobs/{gone.id}/status").get_json()["finished"] is True
