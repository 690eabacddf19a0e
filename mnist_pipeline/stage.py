"""What every stage shares: the PipelineError base class and `run_stage`, which turns it into one line.

Expected failures (bad params, malformed files, failed downloads, unwritable outputs) print
`error: <message>` on stderr and exit with status 1 instead of a traceback. SIGTERM and Ctrl-C stop
the stage the same orderly way (exit 143 / 130), so temporary files are removed on the way out.
"""
import signal
import sys


class PipelineError(Exception):
    """A failure with a message that says what is wrong and where; base of the pipeline's errors."""


def run_stage(main):
    """Calls main(); returns the process exit status (0, or 1 after printing a PipelineError)."""
    install_signal_handlers()
    try:
        main()
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; outputs already in place are unchanged", file=sys.stderr)
        return 130
    return 0


def install_signal_handlers():
    """SIGTERM and SIGINT stop the stage as above; call again after a library that replaced them (TensorFlow's cluster)."""
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _terminated(signum, frame):
    print("error: terminated; outputs already in place are unchanged", file=sys.stderr)
    sys.exit(128 + signum)
