"""The one boto3 client factory, the ``deadline`` config defaults, and AWS errors in one sentence.

Everything in this package that talks to AWS gets its client from :func:`client` (Deadline
Cloud) or :func:`logs_client` (CloudWatch Logs, the session logs), so retries, the connection
pool, the endpoint override, credentials and timestamp parsing are decided in one place.

Where the caller gives no profile or session, and the official ``deadline`` package is installed,
its configuration is used the way the ``deadline`` CLI uses it: ``defaults.aws_profile_name``
(which may be a Deadline Cloud monitor login), ``defaults.farm_region``, and the default farm,
queue and job ids (:func:`config_defaults`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from .errors import (
    AccessDeniedError,
    AwsError,
    CredentialsError,
    NoRegionError,
    NotFoundError,
    ServiceError,
    bad_argument,
)
from .timestamps import parse_timestamp

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_deadline import DeadlineCloudClient

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_WORKERS",
    "READ_TIMEOUT",
    "aws_errors",
    "client",
    "config_defaults",
    "is_local_endpoint",
    "logs_client",
]

logger = logging.getLogger("deadline_nb")

#: Threads a fetch uses by default; the client's connection pool is sized for them.
DEFAULT_WORKERS: Final = 8

#: Seconds a client waits to connect, and for an answer, before it gives up on one attempt.
#: Deadline Cloud answers in well under a second; botocore's own 60 s, retried ten times, would
#: hold a notebook for ten minutes on a service that accepts connections and never answers.
CONNECT_TIMEOUT: Final = 10.0
READ_TIMEOUT: Final = 30.0

# Attempts of one call that time out: a second try for a hiccup of the network, no more. Other
# errors (throttling above all) keep the adaptive mode's ten attempts.
_TIMEOUT_ATTEMPTS: Final = 2

# Any region will do for the local farm, which checks no signature.
_LOCAL_REGION: Final = "us-west-2"

_NO_REGION: Final = (
    "No AWS region is set: pass region='us-west-2' (your farm's region), set "
    "AWS_DEFAULT_REGION, or set a region in your AWS profile."
)

# AWS error codes, grouped by what the user has to do about them.
_DENIED: Final = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
_EXPIRED: Final = frozenset(
    {
        "ExpiredTokenException",
        "ExpiredToken",
        "RequestExpired",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    }
)
_NOT_FOUND: Final = frozenset({"ResourceNotFoundException"})


def is_local_endpoint(endpoint_url: str | None) -> bool:
    """Whether an endpoint is on this machine (the local farm), where no credentials are needed."""
    if not endpoint_url:
        return False
    host = urlsplit(endpoint_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _deadline_config() -> Any:
    """The ``deadline`` package's config module, or None when it is not installed (or broken)."""
    try:
        from deadline.client.config import config_file
    except Exception:  # any failure to import an optional package means "not there"
        return None
    return config_file


def config_defaults() -> dict[str, str | None]:
    """Return the ids and profile set in the ``deadline`` CLI's configuration.

    Returns
    -------
    dict
        ``farm_id``, ``queue_id``, ``job_id``, ``profile`` and ``region``: the values of
        ``defaults.farm_id``, ``defaults.queue_id``, ``defaults.job_id``,
        ``defaults.aws_profile_name`` and ``defaults.farm_region``, each ``None`` when unset
        or when the ``deadline`` package is not installed.

    Examples
    --------
    >>> from deadline_nb.aws import config_defaults
    >>> sorted(config_defaults())
    ['farm_id', 'job_id', 'profile', 'queue_id', 'region']
    """
    settings = {
        "farm_id": "defaults.farm_id",
        "queue_id": "defaults.queue_id",
        "job_id": "defaults.job_id",
        "profile": "defaults.aws_profile_name",
        "region": "defaults.farm_region",
    }
    config_file = _deadline_config()
    out: dict[str, str | None] = dict.fromkeys(settings)
    if config_file is None:
        return out
    for key, setting in settings.items():
        try:
            value = config_file.get_setting(setting)
        except Exception:  # a setting this version of deadline does not know
            logger.debug("deadline config has no %s", setting, exc_info=True)
            continue
        # "(default)" is how the deadline CLI spells "the default credential chain".
        if value and value not in ("(default)", "default"):
            out[key] = str(value)
    return out


def _session(
    boto3_session: boto3.Session | None,
    profile: str | None,
    region: str | None,
    local: bool,
) -> boto3.Session:
    import boto3

    if boto3_session is not None:
        if profile is not None:
            raise bad_argument("profile", "be None when `boto3_session` is given", profile)
        return boto3_session
    if profile is not None:
        try:
            return boto3.Session(profile_name=profile, region_name=region)
        except Exception as error:  # ProfileNotFound, a broken config file
            raise CredentialsError(
                f"The AWS profile {profile!r} cannot be used ({error}): check its name with "
                "`aws configure list-profiles`."
            ) from error
    if local:
        # The local farm checks no signature: never let a missing or expired login of the
        # user's get in the way of the demo or the tests.
        return boto3.Session(
            aws_access_key_id="localfarm",
            aws_secret_access_key="localfarm",
            region_name=region or _LOCAL_REGION,
        )
    if _deadline_config() is not None:
        try:
            from deadline.client.api import get_boto3_session

            try:
                session: boto3.Session = get_boto3_session(region=region)
            except TypeError:  # an older deadline without the region argument
                session = get_boto3_session()
            return session
        except Exception:  # a deadline install that cannot make a session: boto3's own
            logger.debug("deadline's session is not usable; using boto3's", exc_info=True)
    return boto3.Session(region_name=region)


def _options(max_workers: int, connect_timeout: float, read_timeout: float) -> dict[str, Any]:
    """The botocore ``Config`` of every client made here (Deadline Cloud and CloudWatch Logs)."""
    from .version import __version__

    return {
        # Adaptive: on a throttle the client also slows its own sending rate, shared by every
        # thread using it, instead of each thread retrying into the same limit.
        "retries": {"mode": "adaptive", "total_max_attempts": 10},
        "max_pool_connections": max_workers + 2,
        "user_agent_extra": f"deadline-nb/{__version__}",
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
    }


def _make_client(
    session: Any, service: str, endpoint_url: str | None, region: str | None, options: Any
) -> Any:
    """``session.client(service, ...)``, a missing region as the package's one sentence."""
    import botocore.exceptions
    from botocore.config import Config

    try:
        return session.client(
            service,
            endpoint_url=endpoint_url,
            region_name=region or session.region_name,
            config=Config(**options),
        )
    except botocore.exceptions.NoRegionError as error:
        raise NoRegionError(_NO_REGION) from error


def _install_parser(made: DeadlineCloudClient) -> None:
    """Make this one client read responses with compiled converters and fast timestamps.

    The factory (:class:`deadline_nb.wire.WireParserFactory`) gives parsers that read a body
    with converters compiled once per output shape instead of botocore's walk of every value,
    and parse timestamps with :func:`parse_timestamp`: the same answers, several times sooner.
    It goes on this client's endpoint only (:func:`deadline_nb.wire.install`), leaving the
    user's session and every other client in the process parsing the stock way; on a botocore
    whose parsers it cannot reproduce, it hands out botocore's own.
    """
    from .wire import install

    install(made, timestamp_parser=parse_timestamp)


def _install_serializer(made: DeadlineCloudClient) -> None:
    """Make this one client write its requests of ids (``BatchGet*``) with ``json.dumps``.

    botocore's walk and validation of 100 ids cost more than the rest of the request; see
    :func:`deadline_nb.wire.install_serializer`.
    """
    from .wire import install_serializer

    install_serializer(made)


def client(
    boto3_session: boto3.Session | None = None,
    *,
    endpoint_url: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    max_workers: int = DEFAULT_WORKERS,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
) -> DeadlineCloudClient:
    """Return a boto3 ``deadline`` client set up for fetching whole jobs.

    Parameters
    ----------
    boto3_session
        The session to use. Default: the ``deadline`` CLI's configured profile when that
        package is installed, else boto3's default credential chain.
    endpoint_url
        Another endpoint, such as a local farm's ``farm.endpoint_url``. On this machine
        (localhost, 127.0.0.1) no credentials are needed and host prefix injection is off.
    profile
        A named AWS profile (``~/.aws/config``), instead of a session.
    region
        The farm's region. Default: the session's, or ``defaults.farm_region`` of the
        ``deadline`` config.
    max_workers
        Threads that will share the client: the connection pool gets room for all of them.
    connect_timeout
        Seconds to wait for a connection to the endpoint.
    read_timeout
        Seconds to wait for an answer once a request is sent.

    Returns
    -------
    DeadlineCloudClient
        A client with adaptive retries (throttling is expected and waited out), a pool of
        ``max_workers + 2`` connections, and fast response parsing (:mod:`deadline_nb.wire`).
        A call that times out is tried twice, not ten times: a service that accepts
        connections and never answers ends the call in about ``2 * read_timeout`` seconds (a
        minute by default) with a :class:`~deadline_nb.errors.ServiceError` naming the
        endpoint.

    Raises
    ------
    NoRegionError
        When no region is given or configured.
    CredentialsError
        When the profile does not exist.
    ValueError
        When a timeout is not positive.

    Examples
    --------
    >>> import deadline_nb as dnb
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     c = dnb.client(endpoint_url=farm.endpoint_url)
    ...     [f["displayName"] for f in c.list_farms()["farms"]]
    ['Studio Farm']
    """

    for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
        if not value > 0:
            raise bad_argument(name, "be positive", value)
    local = is_local_endpoint(endpoint_url)
    if region is None and boto3_session is None and profile is None and not local:
        region = config_defaults()["region"]
    session = _session(boto3_session, profile, region, local)
    options = _options(max_workers, connect_timeout, read_timeout)
    if local:
        # botocore sends Deadline calls to "management.<host>"; management.127.0.0.1 is nowhere.
        options["inject_host_prefix"] = False
    made: DeadlineCloudClient = _make_client(session, "deadline", endpoint_url, region, options)
    _install_parser(made)
    _install_serializer(made)
    made.meta.events.register_first("needs-retry.deadline", _stop_retrying_timeouts)
    return made


def _stop_retrying_timeouts(
    caught_exception: BaseException | None = None,
    request_dict: dict[str, Any] | None = None,
    **_: Any,
) -> None:
    """A ``needs-retry`` handler: a call that timed out :data:`_TIMEOUT_ATTEMPTS` times fails.

    botocore's retry modes count a timeout like any transient error (ten attempts in adaptive
    mode) and offer no setting for timeouts alone; this handler runs before the retry handler
    and re-raises the timeout once the call has had its attempts, which botocore then raises
    from the call as it raises any error it will not retry.
    """
    import botocore.exceptions as bex

    if not isinstance(caught_exception, (bex.ReadTimeoutError, bex.ConnectTimeoutError)):
        return
    context = (request_dict or {}).setdefault("context", {})
    # The call's own context: counts of different calls (and threads) never mix.
    timeouts = context.get("deadline_nb_timeouts", 0) + 1
    context["deadline_nb_timeouts"] = timeouts
    if timeouts >= _TIMEOUT_ATTEMPTS:
        raise caught_exception


def _queue_role_session(
    deadline_client: Any, farm_id: str, queue_id: str, region: str | None
) -> boto3.Session | None:
    """The queue role's session, as ``deadline job logs`` gets it with a Deadline Cloud monitor
    login; None when the ``deadline`` package is missing or its profile is not such a login.

    The official CLI (``deadline/client/api/_job_monitoring.py``, ``get_session_logs``) reads
    the session logs with the queue role's credentials when
    ``get_user_and_identity_store_id`` finds a monitor login, from
    ``get_queue_user_boto3_session`` (the Deadline ``AssumeQueueRoleForUser`` call); otherwise
    with the profile's own credentials. This does the same.
    """
    if _deadline_config() is None:
        return None
    try:
        from deadline.client.api import (
            get_queue_user_boto3_session,
            get_user_and_identity_store_id,
        )

        user_id, identity_store_id = get_user_and_identity_store_id()
    except Exception:  # not installed as expected, or no usable profile: the plain way
        logger.debug("no Deadline Cloud monitor login for the logs", exc_info=True)
        return None
    if not (user_id and identity_store_id):
        return None
    try:
        if deadline_client is None:
            deadline_client = client(region=region)
        session: boto3.Session = get_queue_user_boto3_session(
            deadline=deadline_client, farm_id=farm_id, queue_id=queue_id
        )
    except AwsError:
        raise
    except Exception as error:
        raise CredentialsError(
            f"The queue role of queue {queue_id} could not be assumed for your Deadline Cloud "
            f"monitor login ({type(error).__name__}: {error}): log in again with Deadline "
            "Cloud monitor, or pass a logs client (logs_client=...).",
            farm_id=farm_id,
            queue_id=queue_id,
        ) from error
    return session


def logs_client(
    boto3_session: boto3.Session | None = None,
    *,
    endpoint_url: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    farm_id: str | None = None,
    queue_id: str | None = None,
    deadline_client: DeadlineCloudClient | None = None,
    quotas: Mapping[str, float] | None = None,
    max_workers: int = DEFAULT_WORKERS,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
) -> Any:
    """Return a boto3 ``logs`` (CloudWatch Logs) client for reading session logs.

    Its credentials are found the way ``deadline job logs`` finds them: a given session or
    profile; else, with the ``deadline`` package configured for a Deadline Cloud monitor login
    and a farm and queue given, the queue role's credentials (as the official CLI gets them);
    else the same session as :func:`client` would use. For a local endpoint
    (:func:`is_local_endpoint`, the local farm, which serves the logs on the same endpoint) the
    same endpoint and dummy credentials. Otherwise botocore picks the endpoint
    (``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`` if set).

    Every request it sends (retries included) first takes a token from the process's shared
    bucket for its operation and region (:mod:`deadline_nb.ratelimit`), so that all threads
    and fetches together stay under the account's quota; throttling that happens anyway is
    waited out by adaptive retries, as in :func:`client`.

    Parameters
    ----------
    boto3_session, endpoint_url, profile, region
        As in :func:`client`.
    farm_id, queue_id
        The queue whose logs will be read, for a Deadline Cloud monitor login's queue role.
    deadline_client
        A ``deadline`` client to ask for the queue role's credentials (default: :func:`client`).
    quotas
        Requests per second per operation (``{"GetLogEvents": 25}``), over
        :data:`deadline_nb.ratelimit.LOGS_QUOTAS`: from then on the pace of every logs client
        of the same region (or local endpoint) in the process, since they share the quota.
    max_workers, connect_timeout, read_timeout
        As in :func:`client`.

    Returns
    -------
    botocore client
        A CloudWatch Logs client.

    Raises
    ------
    NoRegionError, CredentialsError, ValueError
        As :func:`client`; a quota that is not a positive number is a ``ValueError``.

    Examples
    --------
    >>> from deadline_nb.aws import logs_client
    >>> from deadline_nb.localfarm import LocalFarm
    >>> with LocalFarm() as farm:
    ...     logs = logs_client(endpoint_url=farm.endpoint_url)
    ...     len(logs.describe_log_groups()["logGroups"])  # 3 queues, 4 fleets
    7
    """

    from .ratelimit import LOGS_QUOTAS, shared_bucket

    for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
        if not value > 0:
            raise bad_argument(name, "be positive", value)
    rates = {**LOGS_QUOTAS, **(quotas or {})}
    for operation, rate in rates.items():
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise bad_argument("quotas", f"give {operation} a positive rate", rate)
    local = is_local_endpoint(endpoint_url)
    if region is None and boto3_session is None and profile is None and not local:
        region = config_defaults()["region"]
    session: boto3.Session | None = None
    if boto3_session is None and profile is None and not local and farm_id and queue_id:
        session = _queue_role_session(deadline_client, farm_id, queue_id, region)
    if session is None:
        session = _session(boto3_session, profile, region, local)
    made: Any = _make_client(
        session, "logs", endpoint_url, region, _options(max_workers, connect_timeout, read_timeout)
    )
    # One quota per account and region: a local endpoint is an account of its own.
    scope = f"{made.meta.region_name}|{endpoint_url if local else ''}"
    given = quotas or {}
    buckets = {
        op: shared_bucket(scope, op, float(rate), replace=op in given) for op, rate in rates.items()
    }

    def pace(event_name: str = "", **_: Any) -> None:
        bucket = buckets.get(event_name.rsplit(".", 1)[-1])
        if bucket is not None:
            bucket.acquire()

    # before-send runs for every attempt, retries included: each is a request the quota counts.
    made.meta.events.register("before-send.logs", pace)
    made.meta.events.register_first("needs-retry.logs", _stop_retrying_timeouts)
    _install_parser(made)  # the json protocol's bodies too: a million lines of events
    return made


def _ids_text(farm_id: str | None, queue_id: str | None, job_id: str | None) -> str:
    parts = [
        f"{kind} {value}"
        for kind, value in (("job", job_id), ("queue", queue_id), ("farm", farm_id))
        if value
    ]
    return " in ".join(parts)


def translate(
    error: BaseException,
    *,
    operation: str | None = None,
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
    log_group: str | None = None,
) -> AwsError | None:
    """Turn a botocore error the user can act on into one of :mod:`deadline_nb.errors`.

    Parameters
    ----------
    error
        What boto3 raised.
    operation
        The API operation, when the error does not say.
    farm_id, queue_id, job_id
        The ids the call was about, for the message and the error's fields.
    log_group
        The CloudWatch Logs group a ``logs`` call was about: a denial then names it and the
        IAM action to grant (``logs:<operation>``).

    Returns
    -------
    AwsError or None
        The error to raise (``raise translated from error``), or None for an error that is not
        about AWS at all.

    Examples
    --------
    >>> from botocore.exceptions import NoCredentialsError
    >>> from deadline_nb.aws import translate
    >>> type(translate(NoCredentialsError())).__name__
    'CredentialsError'
    """
    import botocore.exceptions as bex

    ids = {"farm_id": farm_id, "queue_id": queue_id, "job_id": job_id}
    where = _ids_text(farm_id, queue_id, job_id)
    if isinstance(error, bex.ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code", ""))
        message = str(info.get("Message", "")).rstrip(".")
        op = getattr(error, "operation_name", None) or operation
        fields = {"operation": op, "code": code, **ids}
        if code in _DENIED and log_group is not None:
            return AccessDeniedError(
                f"Access denied: your AWS identity may not read the session logs in the log "
                f"group {log_group}; ask your AWS admin to grant it logs:{op} on that group, or "
                "use a profile that has it (profile=...).",
                **fields,
            )
        if code in _DENIED:
            target = f"queue {queue_id} of farm {farm_id}" if queue_id else f"farm {farm_id}"
            if not farm_id:
                target = "this account"
            return AccessDeniedError(
                f"Access denied: your AWS identity may not call {op} on {target}; use a "
                "profile that is a member of it (profile=...), or ask your Deadline Cloud "
                "admin for access.",
                **fields,
            )
        if code in _EXPIRED:
            return CredentialsError(
                f"Your AWS credentials have expired or are not valid ({code}): log in again "
                "(`aws sso login`, or Deadline Cloud monitor) and rerun.",
                **fields,
            )
        if code in _NOT_FOUND:
            kind = str(error.response.get("resourceType") or "resource")
            rid = str(error.response.get("resourceId") or "")
            found = NotFoundError(
                f"The {kind} {rid} was not found ({where or op}): check the ids, and that "
                "the client's region is the farm's.",
                **fields,
            )
            found.resource_type = kind
            found.resource_id = rid or None
            return found
        if code == "ValidationException":
            return ServiceError(
                f"{op} rejected the request ({where or 'no ids'}): {message}.", **fields
            )
        return ServiceError(
            f"{op} failed after retries with {code}: {message} ({where or 'no ids'}).", **fields
        )
    fields = {"operation": operation, "code": None, **ids}
    if isinstance(error, bex.NoRegionError):
        return NoRegionError(_NO_REGION, **fields)
    credential_errors: tuple[type[BaseException], ...] = (
        bex.NoCredentialsError,
        bex.PartialCredentialsError,
        bex.CredentialRetrievalError,
        bex.TokenRetrievalError,
        bex.SSOTokenLoadError,
        bex.UnauthorizedSSOTokenError,
        bex.ProfileNotFound,
    )
    if isinstance(error, credential_errors):
        return CredentialsError(
            f"No usable AWS credentials ({type(error).__name__}): pick a profile "
            "(profile=... or AWS_PROFILE), run `aws sso login`, or log in with Deadline Cloud "
            "monitor, then rerun.",
            **fields,
        )
    service = "Deadline Cloud" if log_group is None else "CloudWatch Logs"
    network = _network_error_text(error, operation, service)
    if network is not None:
        where_text = f" ({where})" if where else ""
        return ServiceError(
            f"{network}{where_text}: check the network (VPN, proxy), the region and "
            "endpoint_url, then rerun.",
            **fields,
        )
    return None


def _endpoint_of(error: BaseException) -> str:
    """The scheme, host and port a botocore network error was about (its URL without the path)."""
    url = str(getattr(error, "kwargs", {}).get("endpoint_url") or "")
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url or "(unknown endpoint)"


def _seconds_waited(error: BaseException, kind: str) -> str:
    """``" within 30 s"`` from urllib3's "(read timeout=30)" inside the error, or "" without one."""
    found = re.search(rf"{kind} timeout=([0-9.]+)", str(getattr(error, "kwargs", {}).get("error")))
    if found is None:
        return ""
    seconds = float(found.group(1))
    return f" within {seconds:g} s"


def _network_error_text(
    error: BaseException, operation: str | None, service: str = "Deadline Cloud"
) -> str | None:
    """What happened on the network, naming the endpoint; None for an error of another kind."""
    import botocore.exceptions as bex

    endpoint = f"The {service} endpoint {_endpoint_of(error)}"
    call = operation or "the call"
    if isinstance(error, bex.ReadTimeoutError):
        return f"{endpoint} did not answer {call}{_seconds_waited(error, 'read')}"
    if isinstance(error, bex.ConnectTimeoutError):
        return f"{endpoint} could not be reached{_seconds_waited(error, 'connect')}"
    if isinstance(error, bex.ConnectionClosedError):
        return f"{endpoint} closed the connection before answering {call}"
    if isinstance(error, bex.ConnectionError):  # refused, no such host, TLS, proxy
        return f"{endpoint} could not be reached for {call} ({type(error).__name__})"
    return None


@contextlib.contextmanager
def aws_errors(
    operation: str | None = None,
    *,
    farm_id: str | None = None,
    queue_id: str | None = None,
    job_id: str | None = None,
) -> Iterator[None]:
    """Within the block, raise AWS errors the user can act on as :mod:`deadline_nb.errors`.

    The botocore error stays as ``__cause__``; anything else passes through unchanged.

    Parameters
    ----------
    operation
        The API operation, when the error does not say.
    farm_id, queue_id, job_id
        The ids the block is about.

    Examples
    --------
    >>> from botocore.exceptions import NoRegionError
    >>> from deadline_nb.aws import aws_errors
    >>> try:
    ...     with aws_errors("ListFarms"):
    ...         raise NoRegionError()
    ... except Exception as error:
    ...     print(type(error).__name__, type(error.__cause__).__name__)
    NoRegionError NoRegionError
    """
    try:
        yield
    except AwsError:
        raise
    except Exception as error:
        translated = translate(
            error, operation=operation, farm_id=farm_id, queue_id=queue_id, job_id=job_id
        )
        if translated is None:
            raise
        raise translated from error
