"""What policy staff and QA use around a policy: lint, regression cases, coverage, explanations, impact, catalogue, publish."""
