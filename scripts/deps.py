"""Print the project's dependencies from pyproject.toml, one per line (for pip)."""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
deps = list(project["dependencies"])
if "--dev" in sys.argv:
    deps += project["optional-dependencies"]["dev"]
print("\n".join(deps))
