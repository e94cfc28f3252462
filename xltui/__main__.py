"""`python -m xltui`: the same as the `xltui` command."""

from xltui.launch import main

main()
