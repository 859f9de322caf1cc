"""``python -m rightful`` is the ``rightful`` command."""

from rightful.cli import main

if __name__ == "__main__":
    main()
