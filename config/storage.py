"""WhiteNoise: the static files' storage in production (compressed, hashed files from `collectstatic`).

Before any `collectstatic` (a test run, a checkout just cloned) there is no manifest: the plain names are
used then, so a page never fails for want of one.
"""

from __future__ import annotations

import os
from typing import Any

import whitenoise.middleware
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    def url_converter(self, name: str, hashed_files: dict, template: str | None = None) -> Any:
        """A reference to a file that is not shipped (a vendored library's source map) stays as written
        instead of failing the whole `collectstatic`."""
        convert = super().url_converter(name, hashed_files, template)

        def converter(matchobj: Any) -> str:
            try:
                return convert(matchobj)
            except ValueError:  # whitenoise's MissingFileError too
                return matchobj.group(0)

        return converter

    def stored_name(self, name: str) -> str:
        if not self.hashed_files:
            return name
        return super().stored_name(name)


class WhiteNoiseMiddleware(whitenoise.middleware.WhiteNoiseMiddleware):
    """WhiteNoise, quiet about a STATIC_ROOT that `collectstatic` has not made yet (tests, a fresh clone:
    the finders serve the files then, in DEBUG)."""

    def add_files(self, root: str, prefix: str | None = None) -> None:
        if os.path.isdir(root):
            super().add_files(root, prefix)
