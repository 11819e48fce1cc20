"""The form: schema, layout, the form model that both directions share, coercion and rules."""
