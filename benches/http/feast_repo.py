"""Creates a Feast feature repository for `feast serve` in DIRECTORY, with
the `fraud-features` on-demand feature views of benches/feast/compare.py
(applied, so the registry is ready for `feast -c DIRECTORY serve`).

Run with the Feast venv's Python: `target/feast-venv/bin/python
benches/http/feast_repo.py DIRECTORY`.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "feast"))

from compare import feature_store  # noqa: E402  (the definitions the in-process comparison uses)

if __name__ == "__main__":
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    feature_store(directory)
    print(f"feature repo ready in {directory}", file=sys.stderr)
