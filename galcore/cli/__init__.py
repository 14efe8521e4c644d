"""The `galcore` command line: one module per subcommand."""
