"""The workspace spec: YAML files to validated pydantic models, every problem reported at
its file:line:column; the measure language and the declarations of the measure kinds."""
