"""Data hygiene, the ML side (no Django): near-duplicates (``neardup``: datasketch MinHash LSH over
word shingles; ``semantic``: all-MiniLM-L6-v2 embeddings in a usearch index) and personal data
(``pii``: Presidio pattern recognizers and its anonymizer)."""
