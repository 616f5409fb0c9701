"""``heed recheck``: keep a collected corpus consentful (see docs/recheck.md)."""
