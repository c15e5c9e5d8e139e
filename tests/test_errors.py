"""Errors read as one sentence: in the library's messages, and in IPython's display."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError

from deadline_nb import errors
from deadline_nb.aws import aws_errors, translate


def client_error(code: str, operation: str = "GetJob", **fields: str) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "m"}, **fields}
    return ClientError(response, operation)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("AccessDeniedException", errors.AccessDeniedError),
        ("ExpiredTokenException", errors.CredentialsError),
        ("UnrecognizedClientException", errors.CredentialsError),
        ("ResourceNotFoundException", errors.NotFoundError),
        ("ThrottlingException", errors.ServiceError),
        ("ValidationException", errors.ServiceError),
    ],
)
def test_client_errors_become_one_sentence_with_the_ids(code: str, kind: type) -> None:
    error = translate(client_error(code), farm_id="farm-1", queue_id="queue-1", job_id="job-1")
    assert type(error) is kind
    assert isinstance(error, errors.DeadlineNbError)
    assert (error.farm_id, error.queue_id, error.job_id) == ("farm-1", "queue-1", "job-1")
    assert error.operation == "GetJob" and error.code == code
    assert "\n" not in str(error) and str(error).endswith(".")


def test_other_errors_pass_through_unchanged() -> None:
    with pytest.raises(KeyError), aws_errors("GetJob"):
        raise KeyError("not about AWS")


def test_ipython_shows_the_sentence_and_keeps_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.delenv("DEADLINE_NB_FULL_TRACEBACKS", raising=False)
    shell = InteractiveShell.instance()
    try:
        assert errors.short_tracebacks(shell)
        result = shell.run_cell(
            "from deadline_nb.errors import CredentialsError\n"
            "raise CredentialsError('Your AWS credentials have expired: log in again.')"
        )
        err = capsys.readouterr().err
        assert not result.success
        assert err.startswith("CredentialsError: Your AWS credentials have expired")
        assert "Traceback" not in err and err.count("\n") == 2
        assert sys.last_value is result.error_in_exec  # %tb and %debug still work
        # Other errors keep IPython's usual display.
        shell.run_cell("raise KeyError('x')")
        assert "KeyError" in capsys.readouterr().out
    finally:
        shell.set_custom_exc((), None)
        InteractiveShell.clear_instance()


def test_full_tracebacks_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("DEADLINE_NB_FULL_TRACEBACKS", "1")
    try:
        assert not errors.short_tracebacks(InteractiveShell.instance())
    finally:
        InteractiveShell.clear_instance()
