"""Onboarding to go-live: the agreed checklist, readiness computed by Livery, and (scheduled) go-live."""
