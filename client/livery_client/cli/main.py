"""``livery-client``: launch (branding), upgrade (signed decision), download (verified installer),
licence (may this user run the client?) and report (how an upgrade went).

Exit codes (stable; scripts rely on them):
  0 ok (also a launch that fell back to stale cached branding, and a licence answered from a
    stored unexpired lease while the service is unreachable: both warn on stderr)
  1 any other error        2 usage                  3 unknown access code (404)
  4 revoked code (410)     5 service unavailable and nothing cached (licence: no unexpired lease)
  6 signature / replay / mismatched answer (licence: also a nonce that does not match)
  7 integrity (sha256 or size) failure
  8 licence: the user is not licensed (not_licensed, suspended, seat_limit, or unavailable)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from livery_client.cli.output import (
    ProgressBar,
    dump_json,
    launch_json,
    render_decision,
    render_launch,
    render_licence,
    rfc3339,
)
from livery_client.client import LiveryClient, default_cache_dir
from livery_client.errors import (
    CodeRevoked,
    IntegrityError,
    LiveryError,
    ServiceUnavailable,
    UnknownCode,
    VerificationError,
)
from livery_client.licence import Licence
from livery_client.reports import OUTCOMES, build_report, queue_report
from livery_client.signing import key_fingerprint, load_public_key, parse_keys_document

EXIT_OK, EXIT_OTHER, EXIT_USAGE = 0, 1, 2
EXIT_UNKNOWN_CODE, EXIT_REVOKED, EXIT_UNAVAILABLE, EXIT_VERIFICATION, EXIT_INTEGRITY = 3, 4, 5, 6, 7
EXIT_NOT_LICENSED = 8
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader went away
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
_EXIT_CODES: tuple[tuple[type[LiveryError], int], ...] = (
    (UnknownCode, EXIT_UNKNOWN_CODE),
    (CodeRevoked, EXIT_REVOKED),
    (ServiceUnavailable, EXIT_UNAVAILABLE),
    (VerificationError, EXIT_VERIFICATION),
    (IntegrityError, EXIT_INTEGRITY),
)


class UsageError(Exception):
    """The command line is incomplete or contradictory."""


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an error."""
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return next((code for kind, code in _EXIT_CODES if isinstance(exc, kind)), EXIT_OTHER)


def _common_options() -> argparse.ArgumentParser:
    # SUPPRESS defaults let the options stand before or after the subcommand without clobbering.
    common = argparse.ArgumentParser(add_help=False)
    add = common.add_argument
    add("--base-url", default=argparse.SUPPRESS, help=f"service URL (env LIVERY_CLIENT_BASE_URL; {DEFAULT_BASE_URL})")
    add("--code", default=argparse.SUPPRESS, help="access code (env LIVERY_CLIENT_CODE)")
    add("--static-url", default=argparse.SUPPRESS, help="static root asked first (env LIVERY_CLIENT_STATIC_URL)")
    add("--cache-dir", default=argparse.SUPPRESS, help="cache folder (env LIVERY_CLIENT_CACHE_DIR)")
    add("--keys-file", default=argparse.SUPPRESS, help="pinned keys: a /v1/keys document or {key_id: base64}")
    add("--key", action="append", default=argparse.SUPPRESS, metavar="KEY_ID=BASE64", help="pin one key")
    add("--fetch-keys", action="store_true", default=argparse.SUPPRESS, help="trust /v1/keys on first use (TOFU)")
    add("--timeout", type=float, default=argparse.SUPPRESS, help="seconds per request (10)")
    add("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output on stdout")
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="livery-client",
        parents=[common],
        description="Reference client for Livery.",
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("launch", parents=[common], help="fetch the branding as a client does at launch")
    for name, text in (("upgrade", "ask for the signed upgrade decision"), ("download", "download the installer")):
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.add_argument("--version", required=True, help="the installed version, e.g. 5.2.0")
        sub.add_argument("--platform", required=True, help="e.g. windows-x64, macos-arm64")
        if name == "download":
            sub.add_argument("--dest", required=True, type=Path, help="folder for the installer")
    licence = commands.add_parser("licence", parents=[common], help="check that a user is licensed (signed lease)")
    licence.add_argument("--user", required=True, help="the user id the partner's client passes")
    licence.add_argument(
        "--when-due",
        action="store_true",
        help="the launch's check: a stored lease answers without a request; past half its life the"
        " renewal is scheduled after the launch (done now if already due, else by a later run)",
    )
    licence.add_argument(
        "--wait-renewal", action="store_true", help="with --when-due: wait for a scheduled renewal and do it"
    )
    report = commands.add_parser(
        "report", parents=[common], help="report how an upgrade went (queued; sent now or with the next report)"
    )
    report.add_argument("--from", dest="from_version", help="the version upgraded from, e.g. 5.1.0")
    report.add_argument("--to", dest="to_version", help="the version upgraded to, e.g. 5.3.0")
    report.add_argument("--platform", help="e.g. windows-x64")
    report.add_argument("--outcome", choices=OUTCOMES, help="started, succeeded, failed or rolled_back")
    report.add_argument("--serial", type=int, default=0, help="the serial of the answer that offered it")
    report.add_argument("--error-code", help="e.g. MSI-1603 (failed, rolled_back)")
    report.add_argument("--send-pending", action="store_true", help="only send reports still waiting")
    return parser


def _keys_from_file(path: str) -> dict[str, str]:
    try:
        data = json.loads(Path(path).expanduser().read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read keys file {path}: {exc}") from exc
    try:
        if isinstance(data, dict) and "keys" in data:
            return parse_keys_document(data)
        if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
            for value in data.values():
                load_public_key(value)
            return data
    except ValueError as exc:
        raise UsageError(f"keys file {path}: {exc}") from exc
    raise UsageError(f"keys file {path}: expected a /v1/keys document or an object of key_id: base64")


def _pinned_keys(args: argparse.Namespace, client: LiveryClient) -> dict[str, str] | None:
    keys_file = getattr(args, "keys_file", None) or os.environ.get("LIVERY_CLIENT_KEYS_FILE")
    sources = [bool(keys_file), bool(getattr(args, "key", None)), bool(getattr(args, "fetch_keys", False))]
    if sum(sources) > 1:
        raise UsageError("use one of --keys-file, --key, --fetch-keys")
    if keys_file:
        return _keys_from_file(keys_file)
    if getattr(args, "key", None):
        keys = {}
        for item in args.key:
            key_id, sep, value = item.partition("=")
            if not sep or not key_id:
                raise UsageError(f"--key expects KEY_ID=BASE64, got {item!r}")
            try:
                load_public_key(value)
            except ValueError as exc:
                raise UsageError(f"--key {key_id}: {exc}") from exc
            keys[key_id] = value
        return keys
    pinned = client.cache.load_trusted_keys()
    if getattr(args, "fetch_keys", False) and pinned is None:
        pinned = client.fetch_public_keys()
        client.cache.store_trusted_keys(pinned)
        print("warning: TRUST ON FIRST USE: pinned the keys the service offered just now;", file=sys.stderr)
        print("         verify these fingerprints out of band before relying on them:", file=sys.stderr)
        for key_id, value in sorted(pinned.items()):
            print(f"         {key_id}  sha256:{key_fingerprint(value)}", file=sys.stderr)
    return pinned  # keys pinned once with --fetch-keys serve every later run, with or without the flag


def _client(args: argparse.Namespace) -> LiveryClient:
    code = getattr(args, "code", None) or os.environ.get("LIVERY_CLIENT_CODE")
    if not code:
        raise UsageError("no access code: pass --code or set LIVERY_CLIENT_CODE")
    base_url = getattr(args, "base_url", None) or os.environ.get("LIVERY_CLIENT_BASE_URL") or DEFAULT_BASE_URL
    cache_dir = getattr(args, "cache_dir", None) or os.environ.get("LIVERY_CLIENT_CACHE_DIR") or default_cache_dir(code)
    static_url = getattr(args, "static_url", None) or os.environ.get("LIVERY_CLIENT_STATIC_URL") or None
    return LiveryClient(base_url, code, cache_dir, timeout=getattr(args, "timeout", 10.0), static_base_url=static_url)


def _run(args: argparse.Namespace) -> int:
    as_json = getattr(args, "json", False)
    client = _client(args)
    if args.command == "launch":
        result = client.launch()
        if result.status == "stale":
            print(
                f"warning: showing cached branding, the service is unavailable: {result.stale_reason}", file=sys.stderr
            )
        print(dump_json(launch_json(result)) if as_json else render_launch(result, client.access_code))
        return EXIT_OK
    if args.command == "report":
        return _report(client, args, as_json)
    client.public_keys = _pinned_keys(args, client)
    if not client.public_keys:
        raise UsageError("upgrade and licence answers are signed: pin keys with --keys-file, --key or --fetch-keys")
    if args.command == "licence":
        return _licence(client, args.user, as_json, when_due=args.when_due, wait=args.wait_renewal)
    decision = client.check_upgrade(args.version, args.platform)
    if args.command == "upgrade":
        print(dump_json(decision.to_dict()) if as_json else render_decision(decision))
        return EXIT_OK
    if decision.target is None:
        print(dump_json({"decision": decision.to_dict(), "path": None}) if as_json else render_decision(decision))
        return EXIT_OK
    bar = ProgressBar() if sys.stderr.isatty() else None
    try:
        path = client.download(decision, args.dest, progress=bar)
    finally:
        if bar:
            bar.finish()
    print(
        dump_json({"decision": decision.to_dict(), "path": str(path)})
        if as_json
        else f"{render_decision(decision)}\nSaved {path}"
    )
    return EXIT_OK


def _report(client: LiveryClient, args: argparse.Namespace, as_json: bool) -> int:
    if not args.send_pending:
        missing = [f"--{n}" for n in ("from", "to", "platform", "outcome") if not getattr(args, _REPORT_FIELDS[n])]
        if missing:
            raise UsageError(f"report needs {', '.join(missing)} (or --send-pending)")
        body = build_report(
            client.install_id(), args.from_version, args.to_version, args.platform, args.outcome, args.serial,
            args.error_code,
        )  # fmt: skip
        queue_report(client.cache, body)
    counts = client.send_reports()
    if as_json:
        print(dump_json(counts))
    else:
        print(f"reports: {counts['sent']} sent, {counts['dropped']} refused, {counts['pending']} waiting")
    if counts["pending"]:
        print("warning: the service did not take every report; they are sent with the next one", file=sys.stderr)
    return EXIT_OK


_REPORT_FIELDS = {"from": "from_version", "to": "to_version", "platform": "platform", "outcome": "outcome"}


def _licence(client: LiveryClient, user_id: str, as_json: bool, *, when_due: bool = False, wait: bool = False) -> int:
    if wait and not when_due:
        raise UsageError("--wait-renewal goes with --when-due")
    licence = client.check_licence(user_id, when_due=when_due)
    if licence.offline:
        print(f"warning: running on the stored lease, the service is unavailable: {licence.offline_reason}",
              file=sys.stderr)  # fmt: skip
    print(dump_json(licence.to_dict()) if as_json else render_licence(licence))
    sys.stdout.flush()  # the launch's answer first: the renewal comes after it
    delay = licence.renewal_delay(client.clock())
    if delay is not None and (delay == 0 or wait):
        _renew(client, user_id, licence)
    elif delay is not None:
        print(f"lease renewal due at {rfc3339(licence.renew_at)}: recorded, a later run renews it", file=sys.stderr)
    return EXIT_OK if licence.licensed else EXIT_NOT_LICENSED


def _renew(client: LiveryClient, user_id: str, licence: Licence) -> None:
    """The renewal after a launch: never changes the launch's answer or exit code, says how it went."""
    try:
        renewed = client.renew_licence_when_due(user_id, licence)
    except LiveryError as exc:
        print(f"warning: lease renewal failed, still due: {exc}", file=sys.stderr)
        return
    if renewed is None:
        return
    if renewed.offline:
        print(f"warning: lease renewal failed, still due: {renewed.offline_reason}", file=sys.stderr)
    elif renewed.licensed:
        print(f"lease renewed until {renewed.lease_until}", file=sys.stderr)
    else:
        print(f"warning: lease renewal: the user is no longer licensed ({renewed.status}); the stored lease is"
              " dropped, the next launch is refused", file=sys.stderr)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return its exit code (the console script exits with it)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors by exiting with 2
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        code = _run(args)
        sys.stdout.flush()  # a reader that went away is noticed here, not at interpreter exit
        return code
    except BrokenPipeError:  # the reader went away (`livery-client ... | head -1`): quiet, as Unix tools are
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        return EXIT_BROKEN_PIPE
    except (LiveryError, UsageError, ValueError, OSError) as exc:
        code = exit_code_for(exc)
        print(f"error: {exc}", file=sys.stderr)
        if getattr(args, "json", False):
            print(dump_json({"error": {"type": type(exc).__name__, "message": str(exc), "exit_code": code}}))
        return code


if __name__ == "__main__":
    sys.exit(main())
