"""python -m gmmcli"""

from .cli import main

if __name__ == "__main__":  # worker processes (joblib, dask spawn) re-import this module
    main()
