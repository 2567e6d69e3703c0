"""The CRM viewer's domain: the integrations catalogue (model, pure rules, services)."""
