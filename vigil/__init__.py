"""The ``vigil`` command line: the edge that starts roles and runs operator tasks."""
