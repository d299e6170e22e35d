"""The `campaign` command line: thin Typer commands over plan, store, dispatch and daemon.

Command modules import their heavy dependencies inside the command functions, so that
`campaign --help` stays as quick as importing Typer itself.
"""
