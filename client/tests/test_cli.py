"""The livery-client command: output, --json, and the documented exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CANONICAL, CODE, FILE_NAME, INSTALLER, VENDOR_FILE
from livery_client.cli.main import main


@pytest.fixture
def cli(livery, cache_dir, capsys):
    def run(*args: str, keys: bool = True) -> tuple[int, str, str]:
        argv = ["--base-url", livery.base_url, "--code", CODE, "--cache-dir", str(cache_dir)]
        if keys:
            argv += ["--key", f"{livery.key_id}={livery.public_key}"]
        code = main([*argv, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_launch_prints_a_readable_summary(cli):
    code, out, err = cli("launch")
    assert code == 0 and err == ""
    assert "Acme CRM Connect (Acme CRM) by Acme Telecom" in out
    assert "CI-C (part number BRAND-CIC-MBX0CL)" in out and 'branded "Acme Viewer"' in out
    assert "first launch" in out and "tray_icon" in out and "(downloaded now)" in out


def test_launch_from_a_static_root(cli, livery):
    from livery_client.codes import code_digest

    livery.static_files[f"discovery/{code_digest(CANONICAL)}.json"] = json.dumps(livery.documents[CANONICAL]).encode()

    code, out, _ = cli("launch", "--static-url", f"{livery.base_url}/static")
    assert code == 0 and "fresh from the static root" in out and livery.hits("/v1/discovery") == []

    livery.fail_status = 503  # the API is down; the static root still answers
    code, out, _ = cli("launch", "--json", "--static-url", f"{livery.base_url}/static")
    assert code == 0 and json.loads(out)["status"] == "not_modified"


def test_launch_json_and_stale_warning(cli, livery):
    code, out, _ = cli("launch", "--json")
    assert code == 0 and json.loads(out)["status"] == "fresh"

    livery.stop()
    code, out, err = cli("launch", "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "stale" and "cannot reach" in data["stale_reason"]
    assert "warning" in err and all(os.path.exists(p) for p in data["asset_paths"].values())


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda s: s.code_status.__setitem__(CANONICAL, 404), 3),
        (lambda s: s.code_status.__setitem__(CANONICAL, 410), 4),
        (lambda s: setattr(s, "fail_status", 503), 5),
    ],
)
def test_launch_exit_codes(cli, livery, setup, expected):
    setup(livery)
    code, out, err = cli("launch", "--json")
    assert code == expected and err.startswith("error:")
    assert json.loads(out)["error"]["exit_code"] == expected


def test_upgrade_json(cli):
    code, out, _ = cli("upgrade", "--version", "5.2.0", "--platform", "windows-x64", "--json")
    data = json.loads(out)
    assert code == 0 and data["action"] == "passive" and data["target"]["version"] == "5.3.0"


def test_upgrade_with_bad_signature_exits_6(cli, livery):
    livery.envelope_hook = lambda env: {**env, "payload": {**env["payload"], "serial": 99}}
    code, _, err = cli("upgrade", "--version", "5.2.0", "--platform", "windows-x64")
    assert code == 6 and "signature" in err


def test_upgrade_needs_pinned_keys(cli):
    code, _, err = cli("upgrade", "--version", "5.2.0", "--platform", "windows-x64", keys=False)
    assert code == 2 and "--fetch-keys" in err


def test_fetch_keys_is_trust_on_first_use(cli, cache_dir):
    code, _, err = cli("upgrade", "--version", "5.2.0", "--platform", "windows-x64", "--fetch-keys", keys=False)
    assert code == 0 and "TRUST ON FIRST USE" in err
    code, _, err = cli("upgrade", "--version", "5.2.0", "--platform", "windows-x64", "--fetch-keys", keys=False)
    assert code == 0 and "TRUST ON FIRST USE" not in err  # pinned now, not refetched
    assert (cache_dir / "trusted_keys.json").exists()


def test_keys_pinned_with_fetch_keys_serve_later_runs_without_the_flag(cli, livery):
    code, _, err = cli("upgrade", "--version", "5.2.0", "--platform", "windows-x64", "--fetch-keys", keys=False)
    assert code == 0 and "TRUST ON FIRST USE" in err
    fetched = livery.hits("/v1/keys")
    code, out, err = cli("upgrade", "--version", "5.2.0", "--platform", "windows-x64", "--json", keys=False)
    assert code == 0 and err == "" and json.loads(out)["action"] == "passive"
    assert livery.hits("/v1/keys") == fetched  # the pinned copy, never refetched


def test_download_and_integrity_failure(cli, livery, tmp_path):
    args = ("download", "--version", "5.2.0", "--platform", "windows-x64", "--dest", str(tmp_path / "dl"))
    code, out, _ = cli(*args, "--json")
    saved = Path(json.loads(out)["path"])
    assert code == 0 and saved.read_bytes() == INSTALLER
    assert saved.name == FILE_NAME  # the partner's name for the release, not the hosted file's

    livery.installers[VENDOR_FILE] = INSTALLER[::-1]
    code, _, err = cli(*args[:-1], str(tmp_path / "other"))
    assert code == 7 and "does not match" in err


def test_usage_errors_exit_2(cli, capsys, monkeypatch):
    monkeypatch.delenv("LIVERY_CLIENT_CODE", raising=False)
    assert main(["launch"]) == 2  # no code
    assert main(["frobnicate"]) == 2
    assert cli("upgrade", "--version", "5.2.0")[0] == 2  # no --platform
    assert cli("upgrade", "--version", "1", "--platform", "p", "--key", "k1=bad")[0] == 2


SCRIPT = os.path.join(os.path.dirname(sys.executable), "livery-client")


def _process_env(livery, cache_dir) -> dict[str, str]:
    return {
        **os.environ,
        "LIVERY_CLIENT_BASE_URL": livery.base_url,
        "LIVERY_CLIENT_CODE": CODE.lower(),
        "LIVERY_CLIENT_CACHE_DIR": str(cache_dir),
    }


def test_entry_point_runs_as_a_process(livery, cache_dir):
    env = _process_env(livery, cache_dir)
    done = subprocess.run([SCRIPT, "launch", "--json"], env=env, capture_output=True, text=True, timeout=30)  # noqa: S603
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["branding"]["product"]["name"] == "Acme CRM Connect"


def test_a_reader_that_goes_away_stops_it_quietly(livery, cache_dir):
    read, write = os.pipe()
    os.close(read)  # like `livery-client launch | head -1` once head has its line
    try:
        env = _process_env(livery, cache_dir)
        done = subprocess.run([SCRIPT, "launch"], env=env, stdout=write, stderr=subprocess.PIPE, text=True, timeout=30)  # noqa: S603
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def test_keys_file_in_the_v1_keys_format(cli, livery, tmp_path):
    keys = tmp_path / "keys.json"
    entry = {"key_id": livery.key_id, "alg": "Ed25519", "public_key": livery.public_key, "status": "active"}
    keys.write_text(json.dumps({"keys": [entry]}))
    args = ("--keys-file", str(keys), "upgrade", "--version", "5.2.0", "--platform", "windows-x64")
    code, out, _ = cli(*args, keys=False)
    assert code == 0 and "Upgrade 5.2.0 -> 5.3.0 on windows-x64: offered" in out
