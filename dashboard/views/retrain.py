"""Retrain from the shown run in the background, follow the job, then show the new run.

The job itself (lock, runner, chain of ``galcore`` commands, progress records) is the backend's;
`galcore.jobs` starts it and reads its state.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import param

from dashboard.notices import markdown_text
from dashboard.run_state import no_run_message
from dashboard.views.base import View
from galcore.jobs import (
    STEPS,
    Job,
    JobError,
    JobProgress,
    JobState,
    job_progress,
    job_status,
    log_tail,
    start_job,
)
from store.selection import DEFAULT_TOP

__all__ = ["POLL_MS", "RetrainView", "make_job_html", "make_log_html"]

POLL_MS = 2000
"""How often the view reads the job's state and log, in milliseconds."""


def make_log_html(text: str) -> str:
    """Return a log's text as preformatted HTML, escaped.

    Examples
    --------
    >>> make_log_html("<b>x</b>")
    '<pre class="galcore-log">&lt;b&gt;x&lt;/b&gt;</pre>'
    """
    return f'<pre class="galcore-log">{html.escape(text)}</pre>'


def make_job_html(job: Job | None, progress: JobProgress | None = None) -> str:
    """Say what the latest job is doing, or how it ended, as HTML (every name escaped).

    Parameters
    ----------
    job
        The workspace's latest job, or None.
    progress
        The running job's progress.

    Returns
    -------
    str
        One paragraph.

    Examples
    --------
    >>> make_job_html(None)
    '<p>No retraining job has run in this workspace yet.</p>'
    """
    if job is None:
        return "<p>No retraining job has run in this workspace yet.</p>"
    if job.state == JobState.UNREADABLE:
        return (
            f"<p><b>Unreadable</b> job of run {html.escape(job.run)}: {html.escape(job.error)}</p>"
        )
    what = (
        f"run <b>{html.escape(job.run)}</b> from {html.escape(job.parent)}"
        f" (top {job.top}, started {job.started})"
    )
    step = f"step {job.step + 1} of {len(STEPS)}, <code>galcore {STEPS[job.step]}</code>"
    if job.state == JobState.RUNNING:
        detail = f": {html.escape(progress.detail)}" if progress and progress.detail else ""
        return f"<p><b>Running</b> {what}: {step}{detail}</p>"
    if job.state == JobState.FAILED:
        return f"<p><b>Failed</b> {what} at {step}: {html.escape(job.error)}</p>"
    return f"<p><b>Done</b> {what}: it has predictions, an embedding and test metrics.</p>"


class RetrainView(View):
    """Start a retraining from the session's run, follow its progress and log, show its run.

    One job runs at a time per workspace; the view reads the job's state every `POLL_MS`
    while it is shown, so a job started in another session shows here too.
    """

    new_run = param.String(default="", label="New run", doc="The name of the run to train.")
    top = param.Integer(
        default=DEFAULT_TOP,
        bounds=(0, None),
        label="Confident predictions per class",
        doc="Unlabelled galaxies per class added with their predicted class (0: only the"
        " reviewers' decisions).",
    )

    def __init__(self, **params: Any) -> None:  # noqa: ANN401
        super().__init__(**params)
        self._start = pn.widgets.Button(name="Retrain", button_type="primary")
        self._start.on_click(lambda _: self.start())
        self._show = pn.widgets.Button(button_type="success", visible=False)
        self._show.on_click(lambda _: self.show_new_run())
        self._error = pn.pane.Alert(alert_type="danger", visible=False)
        self._status = pn.pane.HTML(sizing_mode="stretch_width")
        self._progress = pn.indicators.Progress(max=100, visible=False, sizing_mode="stretch_width")
        self._log = pn.pane.HTML(
            sizing_mode="stretch_width", max_height=400, styles={"overflow-y": "auto"}
        )
        self._poll: pn.io.callbacks.PeriodicCallback | None = None
        self._job: Job | None = None
        self.refresh()

    def start(self) -> None:
        """Start a job from the session's run, or show why it cannot start."""
        if self.session.run is None:  # nothing to retrain from yet
            message = markdown_text(no_run_message(self.session.workspace))
            self._error.param.update(object=message, visible=True)
            return
        try:
            start_job(self.session.workspace, self.session.run, self.new_run, top=self.top)
        except JobError as error:
            self._error.object = markdown_text(str(error))  # quotes the typed run name
            self._error.visible = True
        else:
            self._error.visible = False
        self.refresh()

    def refresh(self) -> None:
        """Show the latest job's state, progress and log."""
        self._job = job = job_status(self.session.workspace)
        running = job is not None and job.state == JobState.RUNNING
        progress = job_progress(job) if running else None
        self._status.object = make_job_html(job, progress)
        self._progress.visible = running
        self._progress.value = round(100 * progress.fraction) if progress else 0
        self._log.object = make_log_html(log_tail(job)) if job else ""
        self._start.disabled = running
        done = job is not None and job.state == JobState.DONE
        self._show.visible = done and job.run != self.session.run
        self._show.name = f"Show run {job.run}" if done else ""

    def show_new_run(self) -> None:
        """Show the finished job's run in every view."""
        if self._job is not None and self._job.run in self.session.refresh_runs():
            self.session.run = self._job.run
        self.refresh()

    @param.depends("session.run", watch=True)
    def _on_run(self) -> None:
        """Hide the button that shows the new run once it is shown."""
        self.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        """Return the form, the job's state, its progress and log; start following the job."""
        if self._poll is None and pn.state.curdoc is not None:
            self._poll = pn.state.add_periodic_callback(self.refresh, period=POLL_MS)
        return pn.Column(
            pn.pane.Markdown(
                "Train a new run on the shown run's training set, the reviewers' decisions"
                " and its most confident predictions; then predict, embed and evaluate it."
            ),
            pn.widgets.TextInput.from_param(self.param.new_run, placeholder="e.g. r2"),
            pn.widgets.IntInput.from_param(self.param.top, step=100),
            pn.Row(self._start, self._show),
            self._error,
            self._status,
            self._progress,
            self._log,
            sizing_mode="stretch_width",
        )
