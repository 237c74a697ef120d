"""Allow ``python -m scimitar``, the same as the ``scimitar`` command."""

from __future__ import annotations

from scimitar.cli import main

if __name__ == "__main__":
    main(prog_name="scimitar")
