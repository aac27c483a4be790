"""The one exception type for failures a user can fix."""


class LookoutError(Exception):
    """An expected failure (bad input, missing file, network down).

    The message names the file or setting at fault and says what to do; the app
    shows it with st.error and the commands print it without a traceback.
    """
