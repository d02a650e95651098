"""Progress of long work (training, the imbalance comparison) on a terminal or in a notebook.

A step that takes minutes should say that it is alive, where it is and roughly how
long is left. :class:`Progress` does that in the form that suits where it runs:

``"terminal"``
    One line rewritten in place on a terminal (``\\r``), plus one permanent line per
    finished step (an epoch, a method).
``"text"``
    Plain lines, one per finished step, no control characters: for pipes and logs.
``"notebook"``
    One IPython display updated in place (``display_id``); when the work ends it is
    replaced by a single summary line, so a saved notebook or a built book keeps one
    quiet line instead of a progress bar.
``None``
    Silence.

:func:`resolve` turns the ``progress=`` argument of :func:`cnnguide.train.train` and
:func:`cnnguide.imbalance.run_comparison` into one of these (``"auto"`` picks the
notebook display inside a Jupyter kernel, the terminal line when stderr is a terminal,
and silence otherwise), and :func:`keras_callback` reports each epoch of a Keras
``fit``. This module imports neither Keras nor IPython until they are needed.
"""

from __future__ import annotations

import sys
import time
from typing import IO

__all__ = [
    "MODES",
    "Progress",
    "resolve",
    "format_seconds",
    "keras_callback",
    "in_notebook",
    "eta",
]

#: The display modes :class:`Progress` knows.
MODES = ("terminal", "text", "notebook")


def format_seconds(seconds: float) -> str:
    """A short human duration: ``"8 s"``, ``"2 min 05 s"``, ``"1 h 03 min"``.

    Examples
    --------
    >>> format_seconds(8.4), format_seconds(125), format_seconds(3790)
    ('8 s', '2 min 05 s', '1 h 03 min')
    """
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbclient, a book build).

    Examples
    --------
    >>> in_notebook()   # a doctest runs in a plain interpreter
    False
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def resolve(progress, stream: IO[str] | None = None) -> str | None:
    """The display mode for a ``progress=`` argument.

    Parameters
    ----------
    progress : {"auto", "terminal", "text", "notebook"}, bool or None
        ``"auto"`` (or ``True``): the notebook display in a Jupyter kernel, the
        updating line when ``stream`` is a terminal, else nothing (a script or a test
        stays quiet). ``None`` or ``False``: nothing.
    stream : file, optional
        Where terminal and text output go (default ``sys.stderr``).

    Returns
    -------
    str or None

    Examples
    --------
    >>> import io
    >>> resolve("auto", io.StringIO()), resolve("text"), resolve(None)
    (None, 'text', None)
    >>> resolve("loud")
    Traceback (most recent call last):
    ...
    ValueError: progress='loud' is not one of 'auto', 'terminal', 'text', 'notebook', None
    """
    if progress is None or progress is False:
        return None
    if progress is True:
        progress = "auto"
    if progress == "auto":
        if in_notebook():
            return "notebook"
        stream = sys.stderr if stream is None else stream
        isatty = getattr(stream, "isatty", None)
        return "terminal" if isatty is not None and isatty() else None
    if progress in MODES:
        return progress
    raise ValueError(
        f"progress={progress!r} is not one of 'auto', 'terminal', 'text', "
        "'notebook', None"
    )


class Progress:
    """Report a long computation in steps; see the module docstring for the modes.

    Parameters
    ----------
    mode : str or None
        One of :data:`MODES`, or ``None`` for silence (see :func:`resolve`).
    title : str
        Shown before the status (e.g. ``"train"``).
    stream : file, optional
        Where ``"terminal"`` and ``"text"`` write (default ``sys.stderr``).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> p = Progress("text", title="demo", stream=out)
    >>> p.status("half way")            # transient: not written in text mode
    >>> p.step("epoch 1/2 loss 0.500")  # permanent
    >>> p.close("done in 1 s")
    >>> print(out.getvalue(), end="")
    demo: epoch 1/2 loss 0.500
    demo: done in 1 s
    """

    #: Seconds between two rewrites of the transient line.
    min_interval = 0.2

    def __init__(self, mode: str | None, *, title: str = "", stream=None):
        if mode is not None and mode not in MODES:
            raise ValueError(f"mode must be one of {MODES} or None, got {mode!r}")
        self.mode = mode
        self.title = title
        self.stream = sys.stderr if stream is None else stream
        self.started = time.perf_counter()
        self._handle = None
        self._last = 0.0
        self._width = 0
        self._lines: list[str] = []
        self.closed = False

    def _prefix(self, text: str) -> str:
        return f"{self.title}: {text}" if self.title else text

    @property
    def elapsed(self) -> float:
        """Seconds since the reporter was created."""
        return time.perf_counter() - self.started

    def _show(self, text: str) -> None:
        """Notebook: replace the one display with ``text``."""
        from IPython.display import display

        bundle = {"text/plain": text}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def _terminal(self, text: str, *, newline: bool) -> None:
        pad = " " * max(0, self._width - len(text))
        self.stream.write("\r" + text + pad + ("\n" if newline else ""))
        self.stream.flush()
        self._width = 0 if newline else len(text)

    def status(self, text: str, *, force: bool = False) -> None:
        """A transient status (rewritten in place; not kept in ``"text"`` mode)."""
        if self.mode is None or self.closed:
            return
        now = time.perf_counter()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        line = self._prefix(text)
        if self.mode == "terminal":
            self._terminal(line, newline=False)
        elif self.mode == "notebook":
            self._show("\n".join(self._lines[-3:] + [line]))

    def step(self, text: str) -> None:
        """A finished step, kept as a line (in a notebook: the last few are shown)."""
        if self.mode is None or self.closed:
            return
        line = self._prefix(text)
        self._lines.append(line)
        if self.mode == "terminal":
            self._terminal(line, newline=True)
        elif self.mode == "text":
            print(line, file=self.stream, flush=True)
        else:
            self._show("\n".join(self._lines[-4:]))

    def close(self, summary: str | None = None) -> None:
        """End the report; a notebook keeps only ``summary`` (one line)."""
        if self.mode is None or self.closed:
            self.closed = True
            return
        if self.mode == "notebook":
            if summary is not None or self._handle is not None:
                self._show(self._prefix(summary or "done"))
        elif summary is not None:
            self.step(summary)
        elif self.mode == "terminal" and self._width:
            self._terminal("", newline=False)
        self.closed = True


def eta(done: int, total: int, elapsed: float) -> str:
    """``"about 2 min 05 s left"`` from the mean time per finished unit.

    Examples
    --------
    >>> eta(2, 6, 60.0)
    'about 2 min 00 s left'
    >>> eta(0, 6, 1.0)
    'estimating time left'
    """
    if done <= 0:
        return "estimating time left"
    return f"about {format_seconds(elapsed / done * max(0, total - done))} left"


_CALLBACK_CLASS = None


def keras_callback(progress: Progress, *, epochs: int, note: str = ""):
    """A Keras callback that reports each epoch to ``progress``.

    One line per epoch: epoch ``i/epochs``, training loss, validation AUC (when the
    logs have ``val_auc``), elapsed time and an estimate of what is left (an upper
    bound when early stopping can end the run sooner: ``note`` says so). On a terminal
    the line also updates within the epoch (batches done).

    Parameters
    ----------
    progress : Progress
    epochs : int
        The ``epochs`` given to ``fit`` (the last epoch index + 1, also after a resume).
    note : str
        Appended to the time estimate, e.g. ``"(at most: early stopping)"``.

    Returns
    -------
    keras.callbacks.Callback
    """
    global _CALLBACK_CLASS
    if _CALLBACK_CLASS is None:
        import keras

        class ProgressCallback(keras.callbacks.Callback):
            """Reports epochs (and batches, on a terminal) to a :class:`Progress`."""

            def __init__(self, progress, epochs, note):
                super().__init__()
                self.progress, self.epochs, self.note = progress, int(epochs), note
                self.first_epoch = None
                self.fit_started = None
                self.epoch_started = None

            def on_train_begin(self, logs=None):
                self.fit_started = time.perf_counter()

            def on_epoch_begin(self, epoch, logs=None):
                if self.first_epoch is None:
                    self.first_epoch = epoch  # > 0 after a resume
                self.epoch_started = time.perf_counter()
                self.epoch = epoch
                self.progress.status(f"epoch {epoch + 1}/{self.epochs} ...", force=True)

            def on_train_batch_end(self, batch, logs=None):
                if self.progress.mode not in ("terminal", "notebook"):
                    return
                steps = (self.params or {}).get("steps")
                done = f"batch {batch + 1}/{steps}" if steps else f"batch {batch + 1}"
                loss = (logs or {}).get("loss")
                loss = f"  loss {float(loss):.4f}" if loss is not None else ""
                elapsed = time.perf_counter() - self.fit_started
                self.progress.status(
                    f"epoch {self.epoch + 1}/{self.epochs}  {done}{loss}  "
                    f"{format_seconds(elapsed)} elapsed"
                )

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                parts = [f"epoch {epoch + 1}/{self.epochs}"]
                if logs.get("loss") is not None:
                    parts.append(f"loss {float(logs['loss']):.4f}")
                if logs.get("val_auc") is not None:
                    parts.append(f"val AUC {float(logs['val_auc']):.4f}")
                elapsed = time.perf_counter() - self.fit_started
                done = epoch + 1 - self.first_epoch
                left = eta(done, self.epochs - self.first_epoch, elapsed)
                if self.note and epoch + 1 < self.epochs:
                    left += f" {self.note}"
                parts.append(f"{format_seconds(elapsed)} elapsed")
                if epoch + 1 < self.epochs:
                    parts.append(left)
                self.progress.step("  ".join(parts))

        _CALLBACK_CLASS = ProgressCallback
    return _CALLBACK_CLASS(progress, epochs, note)
