"""Requantize a GGUF model into a cache folder (e.g. Q4_1 -> Q8_0: faster on CPU).

llama.cpp's prompt processing is faster with Q8_0 weights than with Q4_1 on CPUs whose
int8 dot products are fast; for a 135M model the bigger file (~140 MB) costs nothing.
The copy is written to a temporary file and renamed, so a crash never leaves a half file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from inhouse_local import cpu_count

log = logging.getLogger(__name__)

# GGUF general.file_type values (llama_ftype) this module can write.
FTYPES = {"q8_0": 7, "q4_0": 2, "q4_1": 3, "q5_0": 8, "q5_1": 9, "f16": 1, "f32": 0}


def default_cache_dir() -> Path:
    """Where requantized models go when the plugin has no ``home``: a per-user temp folder."""
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    return Path(tempfile.gettempdir()) / f"inhouse-local-{uid}" / "models"


def cached_path(source: Path, ftype: str, cache_dir: Path) -> Path:
    """The cache file for ``source`` requantized to ``ftype``.

    Its name carries a digest of the source's path, size and mtime, so replacing the
    source model makes a new copy instead of reusing a stale one.
    """
    st = source.stat()
    key = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()
    return cache_dir / f"{source.stem}.{ftype}.{hashlib.sha256(key).hexdigest()[:12]}.gguf"


def requantize(source: Path, ftype: str, cache_dir: Path, threads: int | None = None) -> Path:
    """Return a ``ftype`` copy of ``source`` in ``cache_dir``, writing it on first use.

    Raises ``RuntimeError``/``OSError`` when llama.cpp cannot quantize the file; the
    caller keeps the original model then.
    """
    ftype = ftype.lower()
    if ftype not in FTYPES:
        raise ValueError(f"unknown quantization {ftype!r}: use one of {', '.join(FTYPES)}")
    target = cached_path(source, ftype, cache_dir)
    if target.is_file() and target.stat().st_size > 0:
        return target

    import llama_cpp

    quiet_llama_logs()
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[ftype]
    params.allow_requantize = True
    params.nthread = threads or cpu_count()

    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        rc = llama_cpp.llama_model_quantize(str(source).encode(), tmp.encode(), params)
        if rc != 0 or os.path.getsize(tmp) == 0:
            raise RuntimeError(f"llama_model_quantize returned {rc}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("requantized %s to %s: %s", source.name, ftype, target)
    return target


def quiet_llama_logs() -> None:
    """Silence llama.cpp's INFO logs (quantizing logs every tensor). llama-cpp-python has no
    public switch for them outside ``Llama(verbose=False)``: its private ``_logger.set_verbose``
    is used here and nowhere else, and ``test_quiet_llama_logs_uses_an_existing_hook`` fails
    when a release moves it."""
    from llama_cpp._logger import set_verbose

    set_verbose(False)
