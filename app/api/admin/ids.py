"""The range of a row id in a query or body: bigger numbers name nothing (ids are 32-bit in the
database), and PostgreSQL would refuse to compare with them."""

from __future__ import annotations

import marshmallow as ma

from app.formats import MAX_ROW_ID

ID_RANGE = ma.validate.Range(1, MAX_ROW_ID, error="Must be an id between {min} and {max}.")
