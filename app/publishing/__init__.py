"""Static-publish mode: every public answer written as a file to a folder or an S3 prefix.

With ``LIVERY_STATIC_PUBLISH_ROOT`` set, each access code's discovery document is written to
``<root>/discovery/<sha256 of the code>.json`` — the exact bytes the API answers — and removed
when the code stops being valid, so plain static infrastructure (nginx, a CDN, S3) can answer
launches without Python in the path. See docs/deployment.md.
"""
