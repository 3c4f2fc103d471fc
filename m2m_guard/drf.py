"""Django REST framework integration: an authentication class and scope permissions.

    # settings.py: settings.M2M_GUARD configures the verifier (see m2m_guard.django)
    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["m2m_guard.drf.M2MAuthentication"]}

    class Orders(APIView):
        permission_classes = [HasScopes("read:orders")]

        def get(self, request):
            return Response({"client_id": request.user.client_id})   # request.auth: M2MClaims

``M2MAuthentication`` lets a request without a bearer token through as
anonymous (the permissions decide, as DRF expects) and refuses a bad token
with the RFC 6750 answer (400/401, or 503 + ``Retry-After``). Its
``authenticate_header`` is the Bearer challenge, so DRF's own
``IsAuthenticated`` answers 401, not 403. ``HasScopes(...)`` (all of them)
and ``HasAnyScope(...)`` (one of them) refuse an anonymous request with 401
and a missing scope with 403, challenge and JSON body as every integration;
they compose with DRF's ``&``, ``|`` and ``~`` (a refusal by the left side of
``|`` lets the right side decide). ``request.user`` is an
``m2m_guard.django.M2MUser`` (``client_id``, ``is_authenticated``), not a
model. Behind ``m2m_guard.django.M2MGuardMiddleware`` with the same verifier
the claims it verified are reused.

Refusals are ``APIException``s rendered by DRF (its renderers and exception
handler): the body is the JSON ``{"error", "error_description"}`` object,
the headers are set on the view's response. With drf-spectacular installed,
the schema gets the security scheme, and each operation the scopes of its
``HasScopes`` permissions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from ._extras import missing_extra

try:
    import rest_framework  # noqa: F401 - first, so that a missing extra is named plainly
    from rest_framework.exceptions import APIException
    from rest_framework.permissions import (
        AND,
        BasePermission,
        BasePermissionMetaclass,
        OperandHolder,
        SingleOperandHolder,
    )
    from rest_framework.request import Request
except ImportError as _error:
    raise missing_extra("m2m_guard.drf", "drf", _error) from _error

from ._django_config import configured
from ._guard import error_response
from ._sansio.claims import M2MClaims
from ._sansio.engine import check_scopes
from ._sansio.errors import M2MGuardError, MissingTokenError
from ._sansio.scopes import normalize_scopes
from ._types import TokenVerifier
from .django import M2MUser, RouteGuard, verify

__all__ = ["HasAnyScope", "HasScopes", "M2MAuthentication", "M2MRefusal"]

#: the response headers a refusal sets itself (DRF renders the body)
_BODY_HEADERS = ("content-type", "content-length")


class M2MRefusal(APIException):  # type: ignore[misc]
    """A refused request: the status, body and headers of ``error_response``.

    Attributes:
        error: the ``M2MGuardError`` behind it.
    """

    def __init__(self, error: M2MGuardError, realm: str, view: object) -> None:
        super().__init__(detail=error.to_dict(), code=error.error or "unauthorized")
        self.status_code = error.status_code
        self.error = error
        reply = error_response(error, realm)
        self.headers = {k: v for k, v in reply.headers if k not in _BODY_HEADERS}
        # DRF's exception handler copies these two, a custom one may too ...
        self.auth_header = self.headers.get("www-authenticate")
        retry_after = self.headers.get("retry-after")
        self.wait = None if retry_after is None else int(retry_after)
        # ... and APIView.finalize_response sets the view's headers on any
        # response, so Cache-Control: no-store reaches the client as well.
        self._view_headers: dict[str, str] | None = getattr(view, "headers", None)
        self.apply()

    def apply(self) -> None:
        """Set this refusal's headers on the view's response (again)."""
        if self._view_headers is not None:
            self._view_headers.update(self.headers)

    def withdraw(self) -> None:
        """Take the headers back (the other side of an ``|`` let the request in)."""
        if self._view_headers is not None:
            for name in self.headers:
                self._view_headers.pop(name, None)


def _missing(request: Request) -> MissingTokenError:
    for authenticator in getattr(request, "authenticators", None) or ():
        if isinstance(authenticator, M2MAuthentication):
            return authenticator.missing()
    return MissingTokenError()


def _realm(request: Request) -> str:
    authenticator = getattr(request, "successful_authenticator", None)
    if isinstance(authenticator, M2MAuthentication):
        return authenticator.realm_of()
    return "api"


class M2MAuthentication:
    """``authentication_classes`` entry: the bearer token, verified.

    Set ``verifier`` (and ``realm``) on a subclass to use another verifier
    than ``settings.M2M_GUARD``'s.
    """

    verifier: ClassVar[TokenVerifier | None] = None
    realm: ClassVar[str | None] = None
    _route: ClassVar[RouteGuard] = RouteGuard((), (), True, None)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._route = RouteGuard((), (), True, cls.verifier)

    def realm_of(self) -> str:
        """The challenge's realm: ``realm``, else ``settings.M2M_GUARD``'s."""
        if self.realm is not None:
            return self.realm
        return "api" if self.verifier is not None else configured().realm

    def authenticate(self, request: Request) -> tuple[M2MUser, M2MClaims] | None:
        """``(M2MUser, claims)``, or ``None`` without a bearer token (anonymous)."""
        try:
            claims = verify(self._route(), request._request)
        except M2MGuardError as exc:
            view = (getattr(request, "parser_context", None) or {}).get("view")
            raise M2MRefusal(exc, self.realm_of(), view) from None
        return None if claims is None else (M2MUser(claims), claims)

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401 (RFC 6750 §3), so DRF never turns it into a 403
        (with the ``DPoP`` challenge when the verifier takes DPoP)."""
        return self.missing().www_authenticate(self.realm_of()) or "Bearer"

    def missing(self) -> MissingTokenError:
        """The refusal of a request without a token (with the ``DPoP``
        challenge when the verifier takes DPoP)."""
        missing = MissingTokenError()
        binding = getattr(self._route().verifier, "_binding", None)
        if binding is not None:
            missing.dpop_challenge = binding.challenge(None)
        return missing


class _Composes:
    """``&``, ``|`` and ``~`` where our permissions take part: they raise their
    RFC 6750 answer, so ``|`` and ``~`` (ours) treat a refusal as "not granted"."""

    def __and__(self, other: Any) -> Any:
        return _Holder(AND, self, other)

    def __rand__(self, other: Any) -> Any:
        return _Holder(AND, other, self)

    def __or__(self, other: Any) -> Any:
        return _Holder(_Or, self, other)

    def __ror__(self, other: Any) -> Any:
        return _Holder(_Or, other, self)

    def __invert__(self) -> Any:
        return _SingleHolder(_Not, self)


class _Holder(_Composes, OperandHolder):  # type: ignore[misc]
    pass


class _SingleHolder(_Composes, SingleOperandHolder):  # type: ignore[misc]
    pass


class _ScopesMeta(_Composes, BasePermissionMetaclass):  # type: ignore[misc]
    pass


class _Scopes(BasePermission, metaclass=_ScopesMeta):  # type: ignore[misc]
    required: ClassVar[tuple[str, ...]] = ()
    any_of: ClassVar[tuple[str, ...]] = ()

    def has_permission(self, request: Request, view: object) -> bool:
        claims = request.auth
        try:
            if not isinstance(claims, M2MClaims):
                raise _missing(request)
            check_scopes(claims, self.required, self.any_of)
        except M2MGuardError as exc:
            raise M2MRefusal(exc, _realm(request), view) from None
        return True


def HasScopes(*scopes: str) -> type[BasePermission]:
    """A permission class: the token must grant every one of ``scopes``."""
    wanted = normalize_scopes(scopes)
    return type(f"HasScopes{wanted!r}", (_Scopes,), {"required": wanted})


def HasAnyScope(*scopes: str) -> type[BasePermission]:
    """A permission class: the token must grant at least one of ``scopes``."""
    wanted = normalize_scopes(scopes)
    if not wanted:
        raise ValueError("HasAnyScope needs at least one scope")
    return type(f"HasAnyScope{wanted!r}", (_Scopes,), {"any_of": wanted})


def _outcome(check: Any, *args: Any) -> bool | M2MRefusal:
    try:
        return bool(check(*args))
    except M2MRefusal as refusal:
        return refusal


def _either(first: bool | M2MRefusal, second: Any, *args: Any) -> bool:
    if first is True:
        return True
    outcome = _outcome(second, *args)
    if outcome is True:
        if isinstance(first, M2MRefusal):
            first.withdraw()
        return True
    if isinstance(first, M2MRefusal):
        if isinstance(outcome, M2MRefusal):
            outcome.withdraw()  # the first side's answer is the one sent
            first.apply()
        raise first
    if isinstance(outcome, M2MRefusal):
        raise outcome
    return False


class _Or:
    """DRF's ``OR``, where a refusal of one side lets the other decide."""

    def __init__(self, op1: Any, op2: Any) -> None:
        self.op1, self.op2 = op1, op2

    def has_permission(self, request: Request, view: object) -> bool:
        first = _outcome(self.op1.has_permission, request, view)
        return _either(first, self.op2.has_permission, request, view)

    def has_object_permission(self, request: Request, view: object, obj: object) -> bool:
        def side(op: Any) -> bool:
            return bool(op.has_permission(request, view)) and bool(
                op.has_object_permission(request, view, obj)
            )

        return _either(_outcome(side, self.op1), side, self.op2)


class _Not:
    """DRF's ``NOT``, where our refusal counts as "not granted"."""

    def __init__(self, op1: Any) -> None:
        self.op1 = op1

    def has_permission(self, request: Request, view: object) -> bool:
        outcome = _outcome(self.op1.has_permission, request, view)
        if isinstance(outcome, M2MRefusal):
            outcome.withdraw()
            return True
        return not outcome

    def has_object_permission(self, request: Request, view: object, obj: object) -> bool:
        outcome = _outcome(self.op1.has_object_permission, request, view, obj)
        if isinstance(outcome, M2MRefusal):
            outcome.withdraw()
            return True
        return not outcome


def required_scopes(permissions: Iterable[object]) -> list[str]:
    """Every scope the ``HasScopes``/``HasAnyScope`` among ``permissions`` name
    (inside ``&``/``|`` too), for the OpenAPI document."""
    found: list[str] = []
    for scope in _walk(permissions):
        if scope not in found:
            found.append(scope)
    return found


def _walk(permissions: Iterable[object]) -> Iterator[str]:
    for permission in permissions:
        if isinstance(permission, _Scopes):
            yield from (*permission.required, *permission.any_of)
        operands = [getattr(permission, name, None) for name in ("op1", "op2")]
        yield from _walk(op for op in operands if op is not None)


def _token_url(authentication: type[M2MAuthentication]) -> str | None:
    try:
        verifier = authentication.verifier or configured().verifier
    except M2MGuardError:
        return None
    url = getattr(verifier, "token_url", None)
    return url if isinstance(url, str) else None


try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension
except ImportError:  # drf-spectacular is not installed: no schema extension
    pass
else:

    class M2MAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
        """drf-spectacular: OAuth2 client credentials when the token URL is
        known (a bearer JWT otherwise), with each operation's scopes."""

        target_class = M2MAuthentication
        match_subclasses = True
        name = "m2m"

        def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
            token_url = _token_url(self.target)
            if token_url is None:
                return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            flow = {"tokenUrl": token_url, "scopes": {}}
            return {"type": "oauth2", "flows": {"clientCredentials": flow}}

        def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]]:
            if _token_url(self.target) is None:
                return {self.name: []}  # OpenAPI 3.0: only OAuth2 requirements name scopes
            return {self.name: required_scopes(auto_schema.view.get_permissions())}
