"""The one error type users see: raised deep down, turned into one line and an exit code at the CLI edge."""


class FaceswapError(Exception):
    """A problem the user can act on. The message names the file and says what to do."""

    exit_code = 1
