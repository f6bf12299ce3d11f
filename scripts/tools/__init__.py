"""One module per subcommand of tools.py."""
