"""The e-mail execution engine behind the generated e-mail wrappers.

A generated ``send`` wrapper hands :func:`send` (or :func:`send_async`) the
capability's inputs by their spec names - ``to``, ``template``, and the
optional ``subject`` and ``data`` - and an :class:`EmailSender`. The engine
does the rest, the same way for every e-mail capability:

1. check the inputs: the template name, the recipient address, and that no
   header value holds a line break, so no header can be injected;
2. run the policies on ``{"to": address, "template": name}``; a denial raises
   :class:`~.errors.PolicyDeniedError` and nothing is sent;
3. render the template with ``data`` and build the message: Message-ID,
   Date, From, To, Subject, the text body and an optional HTML alternative;
4. hand the message to the sender, mapping ``smtplib`` and socket failures
   onto the runtime error tree;
5. emit one log record through :mod:`.calllog`, whatever the outcome. The
   body, the subject and ``data`` are never logged; inputs are logged only as
   the spec's allow-list names them, and addresses are masked.

The policies, the timed delivery, where the mapping happens and the log
record are the course every provider's call takes (:mod:`.provider_calls`);
here a call is timed from its first check, since rendering is part of what a
send costs.

Templates live in one folder and are found by name, which must match
``[a-z0-9][a-z0-9-]*`` so that a name can never leave the folder:

- ``<name>.txt`` (required) is the plain-text body. If its first line is
  ``Subject: ...``, that line is the default subject, rendered like the rest;
  it and one blank line after it are not part of the body. An input
  ``subject`` replaces it, and is used as given, never rendered.
- ``<name>.html`` (optional) is an HTML alternative of the same message.

Both are Jinja2 templates rendered with ``data`` as their variables. An
undefined variable is an error, so optional values need Jinja's ``default``
filter; HTML is autoescaped, text is not.

Where messages go depends on the settings, read from the environment and
``.env``: with ``SMTP_HOST`` set, to that server (:class:`SmtpSender`);
without it, into an outbox folder as ``.eml`` files (:class:`OutboxSender`),
which suits development and tests.

=======================  ==================================================
``SMTP_HOST``            SMTP server; unset means outbox mode
``SMTP_PORT``            server port (default 587)
``SMTP_USERNAME``        login name; unset means no login
``SMTP_PASSWORD``        login password
``SMTP_FROM``            the From address (default ``no-reply@localhost``)
``SMTP_STARTTLS``        upgrade the connection with STARTTLS (default true)
``SMTP_TIMEOUT``         seconds to wait on the server (default 30)
``EMAIL_TEMPLATES_DIR``  the templates folder (default ``email-templates``)
``EMAIL_OUTBOX_DIR``     the outbox folder (default ``.outbox``)
``CONTRACTGEN_ENVIRONMENT``  deployment environment, for policies
=======================  ==================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol

import jinja2
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import errors
from .context import CallContext
from .deployment import deployment_environment
from .policies import Policy, run_policies
from .provider_calls import ProviderCall
from .settings import read_settings

__all__ = [
    "PROVIDER",
    "EmailOperation",
    "EmailSender",
    "EmailSettings",
    "OutboxSender",
    "SmtpSender",
    "build_sender",
    "default_sender",
    "load_settings",
    "map_delivery_error",
    "send",
    "send_async",
]

PROVIDER = "email"

# The provider operation, as policies and log records name it; e-mail has one.
_OPERATION = "send"

_TEMPLATE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")

_SUBJECT_PREFIX = "Subject:"

# Every character str.splitlines() breaks on, not only CR and LF: some mail
# software treats the others as line ends too, and a header must stay one line.
_LINE_BREAK = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")

# Whitespace and control characters, none of which belong in an address.
_NOT_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True, slots=True)
class EmailOperation:
    """What the engine needs to know about one e-mail capability.

    ``log_inputs`` name the inputs and ``log_outputs`` the outputs whose values
    may be logged; everything else, ``data`` and the body above all, stays
    out of the log.
    """

    capability: str
    log_inputs: tuple[str, ...] = ()
    log_outputs: tuple[str, ...] = ()


class EmailSettings(BaseSettings):
    """Where e-mail goes and where templates come from, read from the environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
    )

    host: str | None = Field(default=None, validation_alias="SMTP_HOST")
    port: int = Field(default=587, ge=1, le=65535, validation_alias="SMTP_PORT")
    username: str | None = Field(default=None, validation_alias="SMTP_USERNAME")
    password: SecretStr | None = Field(default=None, validation_alias="SMTP_PASSWORD")
    from_address: str = Field(
        default="no-reply@localhost", validation_alias="SMTP_FROM"
    )
    starttls: bool = Field(default=True, validation_alias="SMTP_STARTTLS")
    timeout: float = Field(default=30.0, gt=0, validation_alias="SMTP_TIMEOUT")
    templates_dir: Path = Field(
        default=Path("email-templates"), validation_alias="EMAIL_TEMPLATES_DIR"
    )
    outbox_dir: Path = Field(
        default=Path(".outbox"), validation_alias="EMAIL_OUTBOX_DIR"
    )

    @field_validator("host", "username", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `SMTP_HOST=` in a .env file means "no server", not a host named "".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("from_address")
    @classmethod
    def _valid_from_address(cls, value: str) -> str:
        problem = _address_problem(value)
        if problem is not None:
            raise ValueError(f"SMTP_FROM is not a usable From address: {problem}")
        return value


class EmailSender(Protocol):
    """Delivers built messages, and says where templates and From come from.

    The engine renders templates from ``templates_dir`` and sets ``From`` to
    ``from_address`` before calling :meth:`send`. ``send`` lets ``smtplib``
    and ``OSError`` exceptions propagate as they are; the engine maps them
    (see :func:`map_delivery_error`).
    """

    @property
    def from_address(self) -> str: ...

    @property
    def templates_dir(self) -> Path: ...

    def send(self, message: EmailMessage, /) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpSender:
    """Sends each message over its own connection to an SMTP server.

    With ``starttls`` the connection is upgraded, verifying the server's
    certificate, before anything else is said; with a ``username`` the sender
    logs in. One connection per message keeps the sender stateless and safe
    to share between threads.
    """

    host: str
    port: int
    from_address: str
    templates_dir: Path
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    timeout: float = 30.0

    def send(self, message: EmailMessage, /) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username is not None:
                password = self.password.get_secret_value() if self.password else ""
                smtp.login(self.username, password)
            smtp.send_message(message)


@dataclass(frozen=True, slots=True)
class OutboxSender:
    """Writes each message to ``directory`` as an ``.eml`` file instead of sending.

    Files are named ``<UTC timestamp>-<hash of the Message-ID>.eml``, so they
    sort by time, and appear whole: each is written under a temporary name and
    renamed into place.
    """

    directory: Path
    from_address: str
    templates_dir: Path

    def send(self, message: EmailMessage, /) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        message_id = str(message.get("Message-ID", ""))
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:16]
        target = self.directory / f"{stamp}-{digest}.eml"

        handle, temporary = tempfile.mkstemp(
            dir=self.directory, prefix=".", suffix=".eml.tmp"
        )
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(message.as_bytes())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


def build_sender(settings: EmailSettings) -> EmailSender:
    """The sender ``settings`` describe: SMTP with a host, else the outbox."""
    if settings.host is None:
        return OutboxSender(
            directory=settings.outbox_dir,
            from_address=settings.from_address,
            templates_dir=settings.templates_dir,
        )
    return SmtpSender(
        host=settings.host,
        port=settings.port,
        from_address=settings.from_address,
        templates_dir=settings.templates_dir,
        username=settings.username,
        password=settings.password,
        starttls=settings.starttls,
        timeout=settings.timeout,
    )


def load_settings() -> EmailSettings:
    """Settings from the environment and `.env`, or a `SettingsError` naming
    the variables that are invalid."""
    return read_settings(EmailSettings)


@functools.cache
def default_sender() -> EmailSender:
    """The sender used by wrappers called without one, built once."""
    return build_sender(load_settings())


def _address_problem(value: str) -> str | None:
    """Why ``value`` is not one e-mail address, or ``None`` if it is.

    The check is deliberately simple: one address, optionally with a display
    name (``Jane <jane@example.com>``), whose address part has exactly one
    ``@`` with text on both sides and no whitespace or control characters.
    Whether the mailbox exists is for the server to say.
    """
    if _LINE_BREAK.search(value):
        return "it contains a line break"
    found = getaddresses([value])
    if len(found) != 1:
        return "it is not exactly one address"
    address = found[0][1]
    if address != parseaddr(value)[1]:
        return "it is not exactly one address"
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local:
        return "it needs one @ with a name before it and a domain after it"
    if _NOT_IN_ADDRESS.search(address):
        return "it contains whitespace or control characters"
    return None


@dataclass(frozen=True, slots=True)
class _Request:
    """The inputs of one send, checked."""

    to: str
    address: str
    template: str
    subject: str | None
    data: Mapping[str, Any]


class _Failure:
    """Builds the errors of one capability call, all naming it and its step."""

    def __init__(self, capability: str, step: str | None) -> None:
        self.capability = capability
        self.step = step

    def invalid(self, message: str, code: str) -> errors.InvalidRequestError:
        return errors.InvalidRequestError(
            message,
            capability=self.capability,
            provider=PROVIDER,
            code=code,
            step=self.step,
        )


def _check(inputs: Mapping[str, object], fail: _Failure) -> _Request:
    to = inputs.get("to")
    template = inputs.get("template")
    subject = inputs.get("subject")
    data = inputs.get("data")
    if not isinstance(to, str):
        raise fail.invalid("the input 'to' must be a string", "invalid_input")
    if not isinstance(template, str):
        raise fail.invalid("the input 'template' must be a string", "invalid_input")
    if subject is not None and not isinstance(subject, str):
        raise fail.invalid("the input 'subject' must be a string", "invalid_input")
    if data is not None and not isinstance(data, Mapping):
        raise fail.invalid("the input 'data' must be an object", "invalid_input")

    if not _TEMPLATE_NAME.fullmatch(template):
        raise fail.invalid(
            f"template name {template[:80]!r} is not valid: names match "
            "[a-z0-9][a-z0-9-]* and never include a folder or an extension",
            "invalid_template_name",
        )
    # Header checks come before the address check so that an injection
    # attempt is reported as one, whatever else is wrong with the value.
    if _LINE_BREAK.search(to):
        raise fail.invalid(
            "the recipient contains a line break; header injection refused",
            "header_injection",
        )
    if subject is not None and _LINE_BREAK.search(subject):
        raise fail.invalid(
            "the subject contains a line break; header injection refused",
            "header_injection",
        )
    problem = _address_problem(to)
    if problem is not None:
        # The value itself stays out of the message: it is personal data, and
        # redaction only masks what looks like a well-formed address.
        raise fail.invalid(
            f"the recipient is not a valid e-mail address: {problem}",
            "invalid_recipient",
        )

    name, address = parseaddr(to)
    return _Request(
        to=formataddr((name, address)),
        address=address,
        template=template,
        subject=subject.strip() if subject is not None and subject.strip() else None,
        data=data if data is not None else {},
    )


class _TemplateLoader(jinja2.FileSystemLoader):
    """Loads templates, with a text template's ``Subject:`` line kept apart.

    ``<name>.txt`` loads as the body alone; ``<name>.txt#subject`` loads as
    the subject line's text (empty if there is none). The body keeps its line
    numbers, so errors still point at the right line of the file.
    """

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        file_name, _, part = template.partition("#")
        source, filename, uptodate = super().get_source(environment, file_name)
        if not file_name.endswith(".txt"):
            return source, filename, uptodate
        subject, body = _split_subject(source)
        if part == "subject":
            return subject or "", filename, uptodate
        return body, filename, uptodate


def _split_subject(source: str) -> tuple[str | None, str]:
    """A text template's subject line and body; the subject is ``None`` if absent."""
    first, newline, rest = source.partition("\n")
    if not first.startswith(_SUBJECT_PREFIX):
        return None, source
    subject = first[len(_SUBJECT_PREFIX) :].strip()
    removed = 1 if newline else 0
    following, newline, after = rest.partition("\n")
    if newline and not following.strip():
        rest = after
        removed += 1
    # A multi-line comment stands in for the removed lines, so the body's
    # line numbers stay those of the file.
    return subject, "{#" + "\n" * removed + "#}" + rest


@functools.lru_cache(maxsize=16)
def _environment(templates_dir: Path) -> jinja2.Environment:
    # One environment per folder, so compiled templates are reused; Jinja
    # reloads a template whose file changed.
    return jinja2.Environment(
        loader=_TemplateLoader(templates_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html",), default_for_string=False
        ),
        keep_trailing_newline=True,
    )


@dataclass(frozen=True, slots=True)
class _Rendered:
    subject: str
    text: str
    html: str | None


def _render(request: _Request, templates_dir: Path, fail: _Failure) -> _Rendered:
    folder = templates_dir.resolve()
    environment = _environment(folder)
    text_name = f"{request.template}.txt"
    html_name = f"{request.template}.html"

    try:
        try:
            text_template = environment.get_template(text_name)
        except jinja2.TemplateNotFound as err:
            raise fail.invalid(
                f"e-mail template {request.template!r} not found: "
                f"there is no {text_name} in {folder}",
                "template_not_found",
            ) from err
        try:
            html_template: jinja2.Template | None = environment.get_template(html_name)
        except jinja2.TemplateNotFound as err:
            if err.name != html_name:
                raise
            html_template = None

        subject = request.subject
        if subject is None:
            subject_template = environment.get_template(f"{text_name}#subject")
            subject = subject_template.render(request.data).strip()
        text = text_template.render(request.data)
        html = html_template.render(request.data) if html_template else None
    except jinja2.TemplateSyntaxError as err:
        raise fail.invalid(
            f"e-mail template {request.template!r} has a syntax error at "
            f"{err.filename or err.name}:{err.lineno}: {err.message}",
            "template_syntax",
        ) from err
    except jinja2.UndefinedError as err:
        raise fail.invalid(
            f"e-mail template {request.template!r} uses a value the data "
            f"lacks: {err.message}",
            "template_data_missing",
        ) from err
    except jinja2.TemplateError as err:
        raise fail.invalid(
            f"e-mail template {request.template!r} failed to render: {err}",
            "template_failed",
        ) from err

    if not subject:
        raise fail.invalid(
            f"no subject: the input gives none, and the first line of "
            f"{text_name} is not a non-empty 'Subject: ...' line",
            "subject_missing",
        )
    if _LINE_BREAK.search(subject):
        raise fail.invalid(
            f"the subject rendered from {text_name} contains a line break; "
            "header injection refused",
            "header_injection",
        )
    return _Rendered(subject=subject, text=text, html=html)


def _build(
    request: _Request, rendered: _Rendered, from_address: str, fail: _Failure
) -> EmailMessage:
    problem = _address_problem(from_address)
    if problem is not None:
        raise fail.invalid(
            f"the sender's From address is not usable: {problem}", "invalid_sender"
        )
    # The Message-ID names the sender's domain rather than this host's name,
    # which make_msgid would otherwise look up, sometimes slowly.
    domain = parseaddr(from_address)[1].rpartition("@")[2]

    message = EmailMessage()
    message["Message-ID"] = make_msgid(domain=domain)
    message["Date"] = formatdate(usegmt=True)
    message["From"] = from_address
    message["To"] = request.to
    message["Subject"] = rendered.subject
    message.set_content(rendered.text)
    if rendered.html is not None:
        message.add_alternative(rendered.html, subtype="html")
    return message


def map_delivery_error(
    err: Exception, *, capability: str, step: str | None = None
) -> Exception:
    """The runtime error for an exception raised while handing over a message.

    5xx refusals of the recipient or the message are the request's fault and
    never retryable; 4xx replies, timeouts and connection failures are
    temporary; a refused login is an authentication error. A
    :class:`~.errors.CapabilityError`, and any exception that is neither an
    ``smtplib`` nor an ``OSError`` one, is returned unchanged.
    """
    common: dict[str, Any] = {
        "capability": capability,
        "provider": PROVIDER,
        "step": step,
    }
    if isinstance(err, errors.CapabilityError):
        return err

    if isinstance(err, smtplib.SMTPRecipientsRefused):
        replies = list(err.recipients.values())
        detail = "; ".join(f"{code} {_reply_text(text)}" for code, text in replies)
        if replies and all(_temporary(code) for code, _ in replies):
            return errors.ProviderUnavailableError(
                f"the server deferred the recipient: {detail}",
                code="recipient_deferred",
                **common,
            )
        return errors.InvalidRequestError(
            f"the server refused the recipient: {detail}",
            code="recipient_refused",
            **common,
        )
    if isinstance(err, smtplib.SMTPAuthenticationError):
        return errors.AuthenticationError(
            f"the server refused the login: {_reply(err)}",
            code="authentication_failed",
            **common,
        )
    if isinstance(err, smtplib.SMTPResponseException) and _temporary(err.smtp_code):
        return errors.ProviderUnavailableError(
            f"the server is temporarily refusing mail: {_reply(err)}",
            code="server_busy",
            **common,
        )
    if isinstance(err, smtplib.SMTPSenderRefused):
        return errors.PermissionDeniedError(
            f"the server refused the From address: {_reply(err)}",
            code="sender_refused",
            **common,
        )
    if isinstance(err, smtplib.SMTPDataError):
        return errors.InvalidRequestError(
            f"the server refused the message: {_reply(err)}",
            code="message_refused",
            **common,
        )
    if isinstance(err, smtplib.SMTPResponseException):
        return errors.ProviderError(
            f"the server refused the session: {_reply(err)}",
            code="smtp_error",
            retryable=False,
            **common,
        )
    if isinstance(err, smtplib.SMTPServerDisconnected):
        return errors.ProviderUnavailableError(
            f"the server closed the connection: {err}",
            code="connection_lost",
            **common,
        )
    if isinstance(err, smtplib.SMTPException):
        # SMTPNotSupportedError and kin: the server lacks STARTTLS or AUTH,
        # which retrying will not change.
        return errors.ProviderError(
            f"the server cannot do what the settings ask: {err}",
            code="smtp_not_supported",
            retryable=False,
            **common,
        )
    if isinstance(err, ssl.SSLError):
        # A failed handshake or certificate check is a configuration problem.
        return errors.ProviderError(
            f"TLS with the server failed: {err}",
            code="tls_failed",
            retryable=False,
            **common,
        )
    if isinstance(err, TimeoutError):
        return errors.ProviderUnavailableError(
            f"the mail server did not answer in time: {err}",
            code="timeout",
            **common,
        )
    if isinstance(err, OSError):
        return errors.ProviderUnavailableError(
            f"the message could not be delivered: {type(err).__name__}: {err}",
            code="connection_failed",
            **common,
        )
    return err


def _temporary(code: int) -> bool:
    return 400 <= code < 500


def _reply(err: smtplib.SMTPResponseException) -> str:
    return f"{err.smtp_code} {_reply_text(err.smtp_error)}"


def _reply_text(text: bytes | str) -> str:
    if isinstance(text, bytes):
        return text.decode("utf-8", errors="replace")
    return text


class _EmailCall(ProviderCall[dict[str, str]]):
    """One send: its inputs, logged as the spec allows, and delivery errors."""

    __slots__ = ("_inputs", "_operation")

    provider = PROVIDER

    def __init__(
        self,
        operation: EmailOperation,
        inputs: Mapping[str, object],
        context: CallContext | None,
    ) -> None:
        super().__init__(operation.capability, _OPERATION, context)
        self._operation = operation
        self._inputs = inputs

    def map_error(self, err: Exception) -> Exception:
        return map_delivery_error(err, capability=self.capability, step=self.step)

    def log_inputs(self) -> dict[str, object]:
        names = self._operation.log_inputs
        return {name: self._inputs.get(name) for name in names}

    def log_outputs(self, result: dict[str, str]) -> dict[str, object]:
        return {name: result.get(name) for name in self._operation.log_outputs}


def _deliver(sender: EmailSender, message: EmailMessage) -> dict[str, str]:
    sender.send(message)
    return {"messageId": str(message["Message-ID"])}


def send(
    operation: EmailOperation,
    inputs: Mapping[str, object],
    *,
    sender: EmailSender | None = None,
    context: CallContext | None = None,
    policies: Sequence[Policy] = (),
    environment: str | None = None,
) -> dict[str, str]:
    """Send one templated e-mail: checks, policies, rendering, delivery, log.

    ``inputs`` holds the capability's inputs by spec name. ``sender`` defaults
    to :func:`default_sender`, ``environment`` to ``CONTRACTGEN_ENVIRONMENT``.
    Returns ``{"messageId": ...}``, the Message-ID header of the message sent.
    Raises a :class:`~.errors.CapabilityError`; any other exception raised by
    a custom sender is logged and propagates unchanged.
    """
    if sender is None:
        sender = default_sender()
    if environment is None:
        environment = deployment_environment()
    email_call = _EmailCall(operation, inputs, context)
    fail = _Failure(operation.capability, email_call.step)
    # Checking and rendering are part of what a send costs.
    email_call.start_clock()

    try:
        request = _check(inputs, fail)
        policy_request = email_call.policy_request(
            {"to": request.address, "template": request.template},
            api_key_mode=None,
            environment=environment,
        )
        run_policies(policies, policy_request)
        rendered = _render(request, sender.templates_dir, fail)
        message = _build(request, rendered, sender.from_address, fail)
    except Exception as err:
        email_call.log_unsent(err)
        raise

    return email_call.invoke(functools.partial(_deliver, sender, message))


async def send_async(
    operation: EmailOperation,
    inputs: Mapping[str, object],
    *,
    sender: EmailSender | None = None,
    context: CallContext | None = None,
    policies: Sequence[Policy] = (),
    environment: str | None = None,
) -> dict[str, str]:
    """The asynchronous form of :func:`send`; it runs in a worker thread."""
    # smtplib blocks; a worker thread keeps the event loop free, and carries
    # the caller's context variables along.
    return await asyncio.to_thread(
        send,
        operation,
        inputs,
        sender=sender,
        context=context,
        policies=policies,
        environment=environment,
    )
