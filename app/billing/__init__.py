"""Billing: monthly usage counts per partner, reseller and customer, month close, partner-submitted
usage reports and their reconciliation (docs/billing.md)."""
