"""``python -m marketreact``: the command line (see :mod:`marketreact.cli`)."""

from marketreact.cli import app

if __name__ == "__main__":  # not when a worker process (Dask, multiprocessing) imports it
    app(prog_name="marketreact")
