"""LiveryClient: the SDK's one entry point, tying transport, cache, signatures and downloads together."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote

import requests

from livery_client.branding import LaunchResult, launch
from livery_client.cache import ClientCache
from livery_client.codes import code_digest, normalise_code
from livery_client.download import Progress, download_installer
from livery_client.errors import LiveryError, ServiceUnavailable, UnknownCode
from livery_client.licence import DEFAULT_RENEWAL_SPREAD, Licence, check_licence, check_spread
from livery_client.polling import DEFAULT_POLL_SECONDS, poll_forever
from livery_client.reports import build_report, queue_report, send_reports
from livery_client.signing import load_public_key, parse_keys_document
from livery_client.transport import ACCEPT_JSON, get, new_session, raise_for_status
from livery_client.upgrade import UpgradeDecision, check_upgrade


def default_cache_dir(access_code: str) -> Path:
    """~/.cache/livery-client/<first 12 hex of sha256(canonical code)>: one folder per code."""
    canonical = normalise_code(access_code) or access_code
    return Path.home() / ".cache" / "livery-client" / hashlib.sha256(canonical.encode()).hexdigest()[:12]


class LiveryClient:
    """A desktop client's view of Livery for one access code."""

    def __init__(
        self,
        base_url: str,
        access_code: str,
        cache_dir: Path | str,
        public_keys: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        timeout: float = 10,
        static_base_url: str | None = None,
        upgrade_manifests: bool = True,
        renewal_spread: float | None = DEFAULT_RENEWAL_SPREAD,
        clock: Callable[[], float] = time.time,
    ) -> None:
        canonical = normalise_code(access_code)
        if canonical is None:
            # the server would answer 404 too; refusing here keeps stray characters out of URLs
            raise UnknownCode("malformed access code: expected 25 Crockford base32 symbols", status=None)
        for key_id, value in (public_keys or {}).items():
            try:
                load_public_key(value)
            except ValueError as exc:
                raise ValueError(f"pinned key {key_id!r}: {exc}") from exc
        self.base_url = base_url.rstrip("/")
        self.access_code = canonical
        self.cache = ClientCache(cache_dir)
        self.public_keys = dict(public_keys) if public_keys else None
        self.session = session or new_session()
        self.timeout = timeout
        # a static-publish root (nginx, a CDN): asked first at launch, the API is the fallback
        self.static_base_url = static_base_url.rstrip("/") if static_base_url else None
        # decide upgrades from the code's signed manifest (the same URI for every install, so
        # caches in front of the API answer a launch storm); the per-install poll is the fallback
        self.upgrade_manifests = upgrade_manifests
        # seconds after a launch within which a lease past half its life is renewed (0-3600);
        # None: the launch itself renews it, as before the spread
        self.renewal_spread = check_spread(renewal_spread)
        self.clock = clock
        self.rng = random.Random()

    @property
    def discovery_url(self) -> str:
        """Where this client's discovery document lives."""
        return f"{self.base_url}/v1/discovery/{self.access_code}"

    @property
    def static_discovery_url(self) -> str | None:
        """This code's discovery file under the static root, if one is configured."""
        return self._static_url(f"discovery/{code_digest(self.access_code)}.json")

    @property
    def static_manifest_url(self) -> str | None:
        """This code's signed upgrade manifest under the static root, if one is configured."""
        return self._static_url(f"upgrade/{code_digest(self.access_code)}/manifest.json")

    @property
    def api_manifest_url(self) -> str:
        """This code's signed upgrade manifest from the API (the same bytes as the static root's)."""
        return f"{self.base_url}/v1/upgrade-manifest/{self.access_code}"

    def _static_url(self, path: str) -> str | None:
        # files under the static root are named by the code's digest, never by the code itself
        return f"{self.static_base_url}/{path}" if self.static_base_url else None

    def upgrade_url(self) -> str:
        """The poll URL: the discovery document's template when known, else the base URL's."""
        cached = self.cache.load_discovery()
        template = ((cached[1].get("upgrade") or {}).get("poll_url") if cached else None) or ""
        if isinstance(template, str) and template.startswith(("https://", "http://")) and "{access_code}" in template:
            # RFC 6570 level 1: a simple string expansion, percent-encoded
            return template.replace("{access_code}", quote(self.access_code, safe=""))
        return f"{self.base_url}/v1/upgrade/{self.access_code}"

    def launch(self) -> LaunchResult:
        """Fetch or revalidate the branding; fall back to the cached one when the service is down."""
        return launch(self.session, self.cache, self.discovery_url, self.timeout, self.static_discovery_url)

    def install_id(self) -> str:
        """This installation's stable id (created once, kept in the cache folder)."""
        return self.cache.install_id()

    def check_upgrade(self, version: str, platform: str) -> UpgradeDecision:
        """Ask whether to upgrade from ``version`` on ``platform``; the answer is verified before use."""
        return check_upgrade(
            self.session,
            self.cache,
            self.upgrade_url(),
            version=version,
            platform=platform,
            canonical_code=self.access_code,
            public_keys=self.public_keys,
            timeout=self.timeout,
            manifest_url=self.static_manifest_url or (self.api_manifest_url if self.upgrade_manifests else None),
            manifest_origin="static" if self.static_base_url else "manifest",
        )

    def licence_url(self) -> str:
        """Where licence checks go: the discovery document's check_url when known, else the base URL's."""
        cached = self.cache.load_discovery()
        url = ((cached[1].get("licensing") or {}).get("check_url") if cached else None) or ""
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return url
        return f"{self.base_url}/v1/licenses/check"

    def check_licence(self, user_id: str, *, when_due: bool = False) -> Licence:
        """Whether ``user_id`` may run the client: a verified answer, or offline a stored unexpired lease.

        ``when_due=True`` is the launch's check. A stored lease in the first half of its life
        answers as it is (``reused``). Past half, it still answers, without a request, and
        ``renew_at`` says when to renew it: a random moment within ``renewal_spread`` seconds of
        the launch, never later than three quarters into the lease. Renew then, after the launch
        (:meth:`start_licence_renewal`, :meth:`renew_licence_when_due` or :meth:`renew_licence`);
        a renewal not done by then is still due at the next launch. With no usable lease (none,
        expired, or dropped because the user is not licensed), or less than a quarter of it left,
        the launch asks the service as before. ``renewal_spread=None`` makes a launch past half
        its lease ask, as the client did before the spread.
        """
        return check_licence(
            self.session,
            self.cache,
            self.licence_url(),
            user_id=user_id,
            install_id=self.install_id(),
            canonical_code=self.access_code,
            public_keys=self.public_keys,
            timeout=self.timeout,
            clock=self.clock,
            when_due=when_due,
            renewal_spread=self.renewal_spread,
            rng=self.rng,
        )

    def renew_licence(self, user_id: str) -> Licence:
        """Renew ``user_id``'s lease now: a licence check (a request), which stores the new lease.

        A not-licensed answer (revoked, suspended...) drops the lease: the next launch asks in
        the launch and is refused.
        """
        return self.check_licence(user_id)

    def renew_licence_when_due(
        self, user_id: str, licence: Licence, *, stop: threading.Event | None = None
    ) -> Licence | None:
        """Wait until ``licence.renew_at`` (from a launch's check), then renew; None if nothing is due
        or ``stop`` was set first. Run it after the launch, off the user's path."""
        delay = licence.renewal_delay(self.clock())
        if delay is None:
            return None
        if delay > 0 and (stop or threading.Event()).wait(delay):
            return None
        return self.renew_licence(user_id)

    def start_licence_renewal(
        self,
        user_id: str,
        licence: Licence,
        on_renewed: Callable[[Licence], None] | None = None,
        stop: threading.Event | None = None,
    ) -> threading.Thread | None:
        """Renew a launch's lease in a daemon thread when its ``renew_at`` comes (None: nothing due).

        ``on_renewed`` gets the renewal's answer (e.g. ``licensed=False``: the user was revoked).
        A renewal that fails (offline, a refused answer) raises nothing here: it stays due, and
        the next launch renews right after it (or, under a quarter of the lease left, in it).
        """
        if licence.renew_at is None:
            return None

        def renew() -> None:
            try:
                renewed = self.renew_licence_when_due(user_id, licence, stop=stop)
            except LiveryError:
                return
            if renewed is not None and on_renewed is not None:
                on_renewed(renewed)

        thread = threading.Thread(target=renew, name="livery-licence-renewal", daemon=True)
        thread.start()
        return thread

    def download(self, decision: UpgradeDecision, dest_dir: Path | str, progress: Progress | None = None) -> Path:
        """Download and verify the decision's installer (resuming a previous partial download).

        Reports ``started`` to the service first, and ``failed`` (error code ``download``) when the
        installer cannot be fetched or verified; after installing, call :meth:`report_install`.
        """
        if decision.target is not None:
            self.report_install(decision, "started")
        try:
            return download_installer(self.session, decision, dest_dir, timeout=self.timeout, progress=progress)
        except Exception:
            if decision.target is not None:
                self.report_install(decision, "failed", error_code="download")
            raise

    def report_url(self) -> str:
        """Where install reports go: the poll URL + /reports."""
        return self.upgrade_url() + "/reports"

    def report_install(self, decision: UpgradeDecision, outcome: str, error_code: str | None = None) -> dict[str, int]:
        """Report how the upgrade ``decision`` offered went (started, succeeded, failed, rolled_back).

        The report is queued on disk and sent with any earlier ones; what the service cannot take
        now is sent by the next call (or :meth:`send_reports`). Never raises for the network.
        """
        if decision.target is None:
            raise ValueError("the decision offers no upgrade to report on")
        report = build_report(
            self.install_id(),
            decision.client_version,
            decision.target.version,
            decision.platform,
            outcome,
            decision.serial,
            error_code,
        )
        queue_report(self.cache, report)
        return self.send_reports()

    def send_reports(self) -> dict[str, int]:
        """Send the install reports still waiting (e.g. from an offline install)."""
        return send_reports(self.session, self.cache, self.report_url(), self.timeout)

    def fetch_public_keys(self) -> dict[str, str]:
        """The service's current keys from /v1/keys. Trust on first use only: pin them, do not refetch."""
        response = get(self.session, f"{self.base_url}/v1/keys", timeout=self.timeout, headers={"Accept": ACCEPT_JSON})
        raise_for_status(response, about_code=False)
        try:
            return parse_keys_document(response.json())
        except ValueError as exc:
            raise ServiceUnavailable(f"garbled keys document: {exc}") from exc

    def poll_forever(
        self,
        version: str,
        platform: str,
        on_decision: Callable[[UpgradeDecision], None],
        *,
        base_seconds: float = DEFAULT_POLL_SECONDS,
        jitter: float = 0.2,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """Poll for upgrades with jitter and backoff until ``stop`` is set."""
        poll_forever(
            lambda: self.check_upgrade(version, platform),
            on_decision,
            base_seconds=base_seconds,
            jitter=jitter,
            stop=stop,
            rng=rng,
        )
