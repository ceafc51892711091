"""The audit trail: turn traces, PII redaction, explanations, retention and regulator exports."""
