"""The `campaign` command line: thin Typer commands over plan, store, dispatch and daemon.

Command modules import their heavy dependencies inside the command functions, so that
`campaign --help` stays as quick as importing Typer itself. Heavy here means measurable
on that path: SQLAlchemy, pydantic, Rich, the splitter, the SDKs, and also the dataclasses
of `scheduler.model` (14 ms to define, a tenth of `--help`); their types come from
TYPE_CHECKING.
"""
