"""The readiness gate (pure): may a parsed control file be activated against the partner's releases?

A control file may only offer what clients can really install: every release it names must exist
as written, be published, and have its installer present in storage with the recorded sha256 and
size. ``check_against_catalogue`` lists every reason it is not ready; ``resolve_platforms`` then
spells out, for entries without ``platforms``, every published platform of that version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from app.upgrades.control_file import ControlFile
from app.upgrades.document_fields import FieldProblem, Problems
from app.upgrades.versions import Version


@dataclass(frozen=True)
class ReleaseFacts:
    """What the catalogue knows of one release (version x platform) and its installer."""

    version: str
    platform: str
    status: str  # "draft" | "published" | "yanked"
    installer_present: bool
    installer_sha256_ok: bool
    installer_size_ok: bool


def _installer_problems(facts: ReleaseFacts, where: str) -> list[str]:
    if facts.status == "draft":
        return [f"{where} is a draft; publish it before offering it."]
    if facts.status != "published":
        return [f"{where} is {facts.status}; only published releases can be offered."]
    if not facts.installer_present:
        return [f"The installer of {where} is missing from storage; upload it again."]
    messages = []
    if not facts.installer_sha256_ok:
        messages.append(f"The installer of {where} does not match its recorded sha256; upload it again.")
    if not facts.installer_size_ok:
        messages.append(f"The installer of {where} does not match its recorded size; upload it again.")
    return messages


def check_against_catalogue(
    cf: ControlFile,
    catalogue: Mapping[tuple[str, str], ReleaseFacts],
    *,
    current_serial: int,
    expected_channel: str,
) -> list[FieldProblem]:
    """Every reason ``cf`` cannot be activated now (empty when it is ready).

    ``catalogue`` is keyed by (version text, platform). A control file must write a version
    exactly as it was released: "5.3" does not match a release "5.3.0", although the two
    compare equal, so that what is offered is never a matter of interpretation.
    """
    problems = Problems()
    if cf.channel != expected_channel:
        problems.add(
            "channel", f"The file is for channel {cf.channel!r}, not {expected_channel!r}; fix one or the other."
        )
    if cf.serial is not None and cf.serial <= current_serial:
        problems.add(
            "serial",
            f"serial {cf.serial} is not above the channel's current serial {current_serial};"
            f" use {current_serial + 1} or more, or leave serial out.",
        )
    builds: dict[str, dict[str, ReleaseFacts]] = {}
    for (text, platform), facts in catalogue.items():
        builds.setdefault(text, {})[platform] = facts
    for i, entry in enumerate(cf.releases):
        text = entry.version.text
        of_version = builds.get(text, {})
        if not of_version:
            spelled = sorted(t for t in builds if Version(t) == entry.version)
            hint = f" (did you mean {' or '.join(spelled)}?)" if spelled else "; upload its installers first."
            problems.add(f"releases[{i}].version", f"unknown release {text}: no installer of it exists{hint}")
            continue
        if entry.platforms:
            for platform in sorted(entry.platforms):
                facts = of_version.get(platform)
                if facts is None:
                    problems.add(
                        f"releases[{i}].platforms",
                        f"{text} has no release for {platform}; upload one or remove {platform} from platforms.",
                    )
                    continue
                for message in _installer_problems(facts, f"{text} for {platform}"):
                    problems.add(f"releases[{i}].platforms", message)
            continue
        published = [facts for _, facts in sorted(of_version.items()) if facts.status == "published"]
        if not published:
            problems.add(f"releases[{i}].version", f"{text} has no published release for any platform; publish one.")
        for facts in published:
            for message in _installer_problems(facts, f"{text} for {facts.platform}"):
                problems.add(f"releases[{i}].version", message)
    return list(problems)


def resolve_platforms(cf: ControlFile, catalogue: Mapping[tuple[str, str], ReleaseFacts]) -> ControlFile:
    """``cf`` with every entry's platforms spelled out: as listed, or every published one of that version."""
    published: dict[str, set[str]] = {}
    for (text, platform), facts in catalogue.items():
        if facts.status == "published":
            published.setdefault(text, set()).add(platform)
    releases = tuple(
        entry if entry.platforms else replace(entry, platforms=frozenset(published.get(entry.version.text, ())))
        for entry in cf.releases
    )
    return replace(cf, releases=releases)
