"""`python -m xltui`: the same as the `xltui` command."""

from xltui.entry import main

main()
