"""One module per subcommand of faceswap.py; scripts/tools/ holds those of tools.py."""
