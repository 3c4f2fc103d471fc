"""Import errors that say which extra to install.

The framework integrations import their framework at module level; without
it, the user sees ``ModuleNotFoundError: No module named 'fastapi'`` from
deep inside m2m_guard. Each such module guards its imports with
``missing_extra`` instead, so the error names the fix::

    ImportError: m2m_guard.fastapi needs fastapi: pip install "m2m-guard[fastapi]"
"""

from __future__ import annotations

__all__ = ["missing_extra"]


def missing_extra(module: str, extra: str, error: ImportError) -> ImportError:
    """The error to raise (``from error``) when ``module`` lacks its ``extra``.

    Only a module that cannot be found is a missing extra; any other import
    failure (a broken installation) is handed back as it is.
    """
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return error
    top = error.name.split(".")[0]
    found = "" if top == error.name else f" ({error.name} is missing)"
    return ImportError(
        f'{module} needs {top}{found}: pip install "m2m-guard[{extra}]"', name=error.name
    )
