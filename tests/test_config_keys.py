"""The generated keys (SECRET_KEY, AUDIT_KEY): processes starting at once on a fresh instance
directory all read the same, complete key (gunicorn workers, pytest-xdist workers)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_processes_starting_at_once_read_one_whole_key(tmp_path):
    code = "import config; print(config._secret_key('TEST_ONLY_KEY', 'race_key'))"
    env = {"PATH": "/usr/bin:/bin", "TRACKER_INSTANCE_DIR": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(8)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["race_key"]  # no temporary file left
    assert oct((tmp_path / "race_key").stat().st_mode & 0o777) == "0o600"


def test_the_key_file_appears_only_whole(tmp_path, monkeypatch):
    """The file under its final name is never created empty and written afterwards (a
    process starting at that moment would read an empty key): it is linked into place whole."""
    import os

    import config

    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    final = tmp_path / "race_key"
    real_open, real_link = os.open, os.link

    def checked_open(path, *args, **kwargs):
        assert Path(path) != final, "the key file was created before its key was written"
        return real_open(path, *args, **kwargs)

    def checked_link(src, dst, *args, **kwargs):
        assert Path(dst) == final and len(Path(src).read_text()) == 64
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "open", checked_open)
    monkeypatch.setattr(os, "link", checked_link)
    key = config._secret_key("TEST_ONLY_KEY", "race_key")
    assert len(key) == 64 and final.read_text() == key
    assert config._secret_key("TEST_ONLY_KEY", "race_key") == key  # read, not written again
