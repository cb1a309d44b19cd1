"""``python -m topomap``: the same entry point as the ``topomap`` console script."""

from topomap import cli

if __name__ == "__main__":
    cli.main()
