"""Read models: what each page shows, read from the database, one module per page.

Views and template tags stay thin and call these; nothing here writes, and nothing here
imports a view, a form, the API or a template tag (import-linter contracts in
pyproject.toml). ``queue`` (the review queue, its counts, the filter in links), ``focus``
(one example), ``jobs`` (job lookups, the teacher job panels), ``training`` (distillation
panels, reports, comparisons, the dashboard's models card), ``generation`` (a generation
report's free-text, judged and side-by-side sections), ``experiments``.
"""
