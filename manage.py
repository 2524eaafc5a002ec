#!/usr/bin/env python
import importlib.util
import os
import sys
from pathlib import Path


def load_run_env() -> None:
    """While `make run` runs: its database, broker... (var/run.env, config.env.load_run_env) unless
    DATABASE_URL says otherwise. Loaded by path: importing the `config` package would read the settings."""
    spec = importlib.util.spec_from_file_location(
        "cpx_env", Path(__file__).resolve().parent / "config" / "env.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.load_run_env()


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    load_run_env()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
