"""Partners (OEM vendors) and the API keys that act for them or for operators."""
