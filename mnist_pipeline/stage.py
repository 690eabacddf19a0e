"""What every stage shares: the PipelineError base class and `run_stage`, which turns it into one line.

Expected failures (bad params, malformed files, failed downloads, unwritable outputs) print
`error: <message>` on stderr and exit with status 1 instead of a traceback.
"""
import sys


class PipelineError(Exception):
    """A failure with a message that says what is wrong and where; base of the pipeline's errors."""


def run_stage(main):
    """Calls main(); returns the process exit status (0, or 1 after printing a PipelineError)."""
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
