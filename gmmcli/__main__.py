"""python -m gmmcli"""

from .cli import main

main()
