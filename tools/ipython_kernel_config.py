# IPython kernel settings for the project's environment: `bash run.sh setup` copies this file to .venv/etc/ipython/,
# where every kernel started from .venv reads it (papermill's task notebooks, JupyterLab, nbclient).
#
# ipykernel 7 warns at every start that the kernel "is running over TCP without encryption". papermill and
# JupyterLab start their kernels on 127.0.0.1 only, and every message is signed with the HMAC key from a connection
# file that only the user can read, so another user cannot run code in the kernel; the warning is about someone who
# can read the loopback traffic (root on the machine). Printed on every papermill run, it told the user nothing
# actionable, so this one message is filtered out; the kernel's other warnings still print.
import logging


class _NoLoopbackTcpWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "running over TCP without encryption" not in record.getMessage()


logging.getLogger("IPKernelApp").addFilter(_NoLoopbackTcpWarning())
