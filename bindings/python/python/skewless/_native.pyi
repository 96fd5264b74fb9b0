# The extension module under `skewless` (bindings/python/src/lib.rs). Use the
# `skewless` package's API; this is its engine.
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pyarrow

__version__: str

class Transform:
    name: str
    version: str
    sha256: str
    description: str
    source_name: str
    def spec_json(self) -> str: ...
    def provenance(self) -> List[Tuple[str, str]]: ...
    def input_schema(self) -> pyarrow.Schema: ...
    def output_schema(self) -> pyarrow.Schema: ...
    def component_bytes(self) -> bytes: ...
    def expect_sha256(self, sha256: str) -> None: ...
    def transform(self, data: Any, keep: Sequence[str] = ...) -> pyarrow.Table: ...
    def transform_json(self, rows: str) -> str: ...

class Online:
    def __init__(
        self, transform: Transform, state_dir: Optional[str] = ..., query_lag_micros: int = ...
    ) -> None: ...
    def ingest_json(self, rows: str) -> Tuple[int, List[int], List[int], List[int], int]: ...
    def ingest(self, data: Any) -> Tuple[int, List[int], List[int], List[int], int]: ...
    def features_json(self, rows: str) -> Tuple[str, int, int]: ...
    def features(self, data: Any) -> Tuple[pyarrow.Table, int, int]: ...
    def stats(self) -> Tuple[int, int, int, int, int, int]: ...
    def export(self, path: str, after: Optional[int] = ...) -> int: ...

def load(
    bytes: bytes,
    name: str,
    *,
    fuel_per_row: Optional[int] = ...,
    memory_limit: Optional[int] = ...,
    max_output_bytes: Optional[int] = ...,
    deadline: Optional[float] = ...,
    max_instances: Optional[int] = ...,
    reuse_instances: bool = ...,
    naive_timestamps: str = ...,
    cache_dir: Optional[str] = ...,
) -> Transform: ...
def run(
    transform: Transform,
    input: str,
    output: str,
    *,
    keep: Sequence[str] = ...,
    on_error: str = ...,
    rejects: Optional[str] = ...,
    max_rejects: Optional[str] = ...,
    batch_size: Optional[int] = ...,
    threads: Optional[int] = ...,
    events: Optional[str] = ...,
) -> Tuple[int, int, float, int, Optional[Tuple[int, int]], Optional[str]]: ...
def verify(
    transform: Transform,
    input: str,
    *,
    batch_sizes: Optional[List[str]] = ...,
    events: Optional[str] = ...,
) -> Dict[str, Any]: ...
def default_cache_dir() -> Optional[str]: ...
